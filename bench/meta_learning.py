"""Learning across signals on held-out DIV2K patches: meta-learned inits, functa, the hypernetwork (README table).

    python -m bench.meta_learning            # everything (~15 min on 2 CPU threads)

Data: ``datamodules.patches.ImagePatchDataModule`` on ../shared/data/ffn/div2k resized to 256 x 256, 32 x 32
patches; files 13-15 held out, 32 fixed held-out patches. Every method is trained through the library's own
LightningModule (what ``inr meta fit`` runs) for ``--steps`` outer steps, then evaluated on the held-out patches:

- meta-learned inits (SIREN 2 -> 64 x 3 -> 3, inner SGD lr 0.01, 2 inner steps, outer Adam 1e-3, 4 patches per
  step): MAML second order, MAML first order, Reptile; PSNR after 0 / 1 / 2 / 3 / 10 inner steps, against the
  standard SIREN init with the same SGD steps and with Adam (lr 1e-4, SIREN's default, and 1e-3);
- a plain PyTorch MAML loop (bench.reference's SIREN, a Python loop over the patches, torch.autograd.grad with
  create_graph) from the same weights on the same batches: its held-out PSNR and its time per outer step;
- functa with latents of 32 and 128 (same SIREN, 3 meta-SGD steps): PSNR after 3 and 10 latent steps;
- the hypernetwork (set encoder, latent 128, predicting a SIREN 2 -> 32 x 2 -> 3, 16 patches per step; with
  ``--conv-only``, the CNN encoder, 32 channels, 2 residual blocks, added to the results): PSNR from
  10 / 100 / 1000 / all pixels, against a SIREN of the same size fitted from scratch (Adam 1e-3) to the same context
  pixels for the same wall time as the hypernetwork's forward pass, and for 200 steps;
- the learned init in a plain ``inr fit`` of a held-out patch (PNG), PSNR per step beside the standard init.

Writes bench/results/meta_learning.json and docs/figures/meta_init_curve.png, docs/figures/meta_patches.png.
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from functools import partial
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback

from bench.reference import PlainSiren
from datamodules.patches import ImagePatchDataModule
from inr.meta.functa import Functa, ModulatedSiren
from inr.meta.hypernetwork import Hypernetwork
from inr.meta.maml import MAML, Reptile
from inr.nn.networks import Siren

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "ffn" / "div2k"
RESULTS = Path(__file__).parent / "results"
FIGURES = ROOT / "docs" / "figures"
STEPS_SHOWN = (0, 1, 2, 3, 10)


def patches(batch_size: int) -> ImagePatchDataModule:
    return ImagePatchDataModule(str(DATA), patch=32, size=256, batch_size=batch_size, val_crops=32, holdout=0.2,
                                seed=0)


def psnr(prediction: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Per patch PSNR (dB) of [B, P, c] in [-1, 1] (prediction clipped)."""
    error = (prediction.clamp(-1, 1) - truth).square().flatten(1).mean(dim=1)
    return 10 * torch.log10(4 / error)


def train(model, data, steps: int) -> float:
    """Outer steps through Lightning (no validation, no logger); returns seconds."""
    trainer = L.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0,
                        inference_mode=False, accelerator="cpu")
    start = time.perf_counter()
    trainer.fit(model, data)
    return time.perf_counter() - start


def held_out(data: ImagePatchDataModule) -> dict[str, torch.Tensor]:
    return data.validation_batch(torch.device("cpu"))


def step_psnrs(model, batch, parameters=None) -> dict[int, float]:
    with torch.enable_grad():
        adapted = model.adapt(batch["coords"], batch["values"], STEPS_SHOWN, parameters)
    return {steps: float(psnr(prediction, batch["values"]).mean()) for steps, prediction in adapted.items()}


def adam_psnrs(model, batch, lr: float, steps=(1, 2, 3, 10)) -> dict[int, float]:
    """The standard init fitted per patch with Adam (each patch its own optimizer), PSNR after each step count."""
    results = {count: [] for count in steps}
    for index in range(batch["values"].shape[0]):
        network = copy.deepcopy(model).train()
        optimizer = torch.optim.Adam(network.parameters(), lr=lr)
        coords, values = batch["coords"][index], batch["values"][index]
        for step in range(1, max(steps) + 1):
            optimizer.zero_grad()
            (network(coords) - values).square().mean().backward()
            optimizer.step()
            if step in steps:
                with torch.no_grad():
                    results[step].append(float(psnr(network(coords)[None], values[None])[0]))
    return {count: float(np.mean(values)) for count, values in results.items()}


def plain_maml(model: MAML, data: ImagePatchDataModule, steps: int) -> tuple[dict[int, float], float]:
    """A plain PyTorch second-order MAML loop from ``model``'s weights on the DataModule's batches."""
    network = PlainSiren(2, 64, 2, 3)
    with torch.no_grad():
        for mine, theirs in zip(network.parameters(), model.network.parameters()):
            mine.copy_(theirs)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    names = [name for name, _ in network.named_parameters()]

    def adapt(coords, values, count, create_graph):
        parameters = dict(network.named_parameters())
        for _ in range(count):
            loss = (torch.func.functional_call(network, parameters, (coords,)) - values).square().mean()
            grads = torch.autograd.grad(loss, [parameters[name] for name in names], create_graph=create_graph)
            parameters = {name: parameters[name] - 0.01 * grad for name, grad in zip(names, grads)}
        return parameters

    start = time.perf_counter()
    for step in range(steps):
        batch = data.sample(torch.device("cpu"), step, 0)
        optimizer.zero_grad()
        total = 0.0
        for coords, values in zip(batch["coords"], batch["values"]):
            adapted = adapt(coords, values, 2, create_graph=True)
            total = total + (torch.func.functional_call(network, adapted, (coords,)) - values).square().mean()
        (total / batch["coords"].shape[0]).backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    batch = held_out(data)
    results = {}
    for count in STEPS_SHOWN:
        predictions = []
        for coords, values in zip(batch["coords"], batch["values"]):
            adapted = adapt(coords, values, count, create_graph=False)
            with torch.no_grad():
                predictions.append(torch.func.functional_call(network, adapted, (coords,)))
        results[count] = float(psnr(torch.stack(predictions), batch["values"]).mean())
    return results, seconds


def context_baseline(batch, size: int, seconds: float | None, steps: int | None) -> float:
    """SIRENs (2 -> 32 x 2 -> 3) fitted from scratch to each patch's context pixels; mean PSNR on all pixels."""
    from inr.meta.hypernetwork import Hypernetwork as Method

    results = []
    for index in range(batch["values"].shape[0]):
        torch.manual_seed(index)
        network = Siren(2, 3, hidden=32, layers=1)
        optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
        mask = Method.context_mask(batch["order"][index:index + 1], torch.tensor([size]))[0]
        coords, values = batch["coords"][index], batch["values"][index]
        start, step = time.perf_counter(), 0
        while (steps is not None and step < steps) or (seconds is not None and time.perf_counter() - start < seconds):
            optimizer.zero_grad()
            (network(coords[mask]) - values[mask]).square().mean().backward()
            optimizer.step()
            step += 1
        with torch.no_grad():
            results.append(float(psnr(network(coords)[None], values[None])[0]))
    return float(np.mean(results))


class PSNRRecorder(Callback):
    """Collects ``val/psnr`` at every validation (for the curves)."""

    def __init__(self) -> None:
        self.values: list[tuple[int, float]] = []

    def on_validation_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self.values.append((trainer.global_step, float(trainer.callback_metrics["val/psnr"])))


def fit_curve(image: Path, init: Path | None, steps: int, folder: Path) -> list[tuple[int, float]]:
    """``inr fit`` of one image (SIREN 64 x 3, the image config's Adam 1e-4), validated every 5 steps."""
    from inr.cli import build_cli

    recorder = PSNRRecorder()
    args = ["--config", str(ROOT / "configs" / "image_siren.yaml"), "--data.path", str(image),
            "--data.size", "null", "--model.network.init_args.hidden", "64", "--model.network.init_args.layers", "2",
            "--trainer.max_steps", str(steps), "--trainer.val_check_interval", "5", "--trainer.logger", "false",
            "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(folder),
            "--checkpoint.every_n_train_steps", "0"]
    if init is not None:
        args += ["--model.init_from", str(init)]
    cli = build_cli(args, run=False)
    initial = _initial_psnr(cli, init)
    cli.trainer.callbacks.append(recorder)
    cli.trainer.fit(cli.model, cli.datamodule)
    return [(0, initial)] + recorder.values


def _initial_psnr(cli, init) -> float:
    """PSNR of the network before any step (the init itself)."""
    from inr.training.init_from import load_initial_state

    model = cli.model  # before fitting: setup loads the same init again
    if init is not None:
        load_initial_state(model, init, members=False)
    data = cli.datamodule
    batch = data.validation_batch(torch.device("cpu"))
    with torch.no_grad():
        return float(psnr(model(batch["coords"])[None], batch["values"][None])[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2000, help="outer steps of every method")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--conv-only", action="store_true", help="only add the CNN-encoder hypernetwork to the "
                        "existing results")
    options = parser.parse_args()
    torch.set_num_threads(options.threads)
    if options.conv_only:
        conv_only(options.steps)
        return
    results: dict = {"steps": options.steps, "threads": options.threads}
    siren = partial(Siren, hidden=64, layers=2)

    # meta-learned initialisations
    data = patches(4)
    batch = held_out(data)
    inits = {}
    for name, method, extra in [("maml", MAML, {}), ("maml_first_order", MAML, {"first_order": True}),
                                ("reptile", Reptile, {})]:
        torch.manual_seed(0)
        model = method(network=siren, signal=data.signal_spec, inner_steps=2,
                       optimizer=partial(torch.optim.Adam, lr=1e-3), **extra)
        standard = copy.deepcopy(model)
        seconds = train(model, data, options.steps)
        inits[name] = model
        results[name] = {"psnr": step_psnrs(model, batch), "seconds": seconds}
        print(name, results[name], flush=True)
    torch.manual_seed(0)
    start = MAML(network=siren, signal=data.signal_spec, inner_steps=2)
    results["standard_sgd"] = {"psnr": step_psnrs(start, batch)}
    plain_network = torch.nn.Sequential(start.encoder, start.network)
    results["standard_adam_1e-4"] = {"psnr": adam_psnrs(plain_network, batch, 1e-4)}
    results["standard_adam_1e-3"] = {"psnr": adam_psnrs(plain_network, batch, 1e-3)}
    print("standard", results["standard_sgd"], results["standard_adam_1e-4"], results["standard_adam_1e-3"])
    reference, seconds = plain_maml(standard, data, options.steps)
    results["plain_maml"] = {"psnr": reference, "seconds": seconds}
    print("plain maml", results["plain_maml"], flush=True)

    # functa
    for latent in (32, 128):
        torch.manual_seed(0)
        model = Functa(network=partial(ModulatedSiren, hidden=64, layers=2, latent_dim=latent),
                       signal=data.signal_spec, optimizer=partial(torch.optim.Adam, lr=1e-3))
        seconds = train(model, data, options.steps)
        results[f"functa_{latent}"] = {"psnr": step_psnrs(model, batch), "seconds": seconds}
        print(f"functa {latent}", results[f"functa_{latent}"], flush=True)
        inits[f"functa_{latent}"] = model

    # hypernetwork
    hyper, predictions = hypernetwork(results, batch, options.steps, "set")

    # the learned init in a plain inr fit of a held-out patch
    from datamodules.image import values_to_pixels, write_png
    from inr.meta.export import single_checkpoint

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        image = folder / "patch.png"
        write_png(image, values_to_pixels(batch["values"][0], 32, 32))
        checkpoint = folder / "maml.ckpt"
        state = {key: value for key, value in inits["maml"].state_dict().items()
                 if key.startswith(("encoder.", "network."))}
        torch.save(single_checkpoint({"class_path": "inr.nn.networks.Siren", "init_args": {"hidden": 64, "layers": 2}},
                                     {"class_path": "inr.nn.encoders.Identity"}, inits["maml"].signal.to_dict(), state),
                   checkpoint)
        results["curve"] = {"standard": fit_curve(image, None, 100, folder / "a"),
                            "maml": fit_curve(image, checkpoint, 100, folder / "b")}
    print("curve", results["curve"], flush=True)

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "meta_learning.json").write_text(json.dumps(results, indent=1))
    figures(results, batch, inits, hyper, predictions)


def hypernetwork(results: dict, batch, steps: int, context: str):
    """Train the hypernetwork with a ``set`` or ``conv`` context encoder; its PSNR per context size against SIRENs
    fitted to the context from scratch (same wall time, 200 steps), into ``results``."""
    data16 = patches(16)
    torch.manual_seed(0)
    hyper = Hypernetwork(network=partial(Siren, hidden=32, layers=1), signal=data16.signal_spec, context=context,
                         latent_dim=128, set_hidden=128, conv_width=32, conv_blocks=2, hyper_hidden=128,
                         optimizer=partial(torch.optim.Adam, lr=1e-4))
    seconds = train(hyper, data16, steps)
    with torch.no_grad():
        predictions = hyper.validation_predictions(batch)
    one = {key: value[:1] for key, value in batch.items()}
    start_time = time.perf_counter()
    for _ in range(20):
        hyper.validation_predictions(one)
    forward = (time.perf_counter() - start_time) / 20 / (len(hyper.eval_contexts) + 1)
    key = "hypernetwork" if context == "set" else f"hypernetwork_{context}"
    results[key] = {"seconds": seconds, "forward_seconds": forward, "psnr": {}, "scratch_same_time": {},
                    "scratch_200_steps": {}}
    for label, prediction in predictions.items():
        size = batch["coords"].shape[1] if label == "context_all" else int(label[len("context"):])
        results[key]["psnr"][label] = float(psnr(prediction, batch["values"]).mean())
        results[key]["scratch_same_time"][label] = context_baseline(batch, size, forward, None)
        results[key]["scratch_200_steps"][label] = context_baseline(batch, size, None, 200)
    print(key, results[key], flush=True)
    return hyper, predictions


def conv_only(steps: int) -> None:
    """Add the CNN-encoder hypernetwork to an existing bench/results/meta_learning.json."""
    path = RESULTS / "meta_learning.json"
    results = json.loads(path.read_text())
    hypernetwork(results, held_out(patches(4)), steps, "conv")
    path.write_text(json.dumps(results, indent=1))


def figures(results, batch, inits, hyper, predictions) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    FIGURES.mkdir(parents=True, exist_ok=True)
    figure, axis = plt.subplots(figsize=(5.5, 3.5))
    for name, label in (("standard", "standard SIREN init"), ("maml", "MAML-learned init")):
        steps, values = zip(*results["curve"][name])
        axis.plot(steps, values, marker="o", markersize=3, label=label)
    axis.set_xlabel("inr fit step (Adam, lr 1e-4)")
    axis.set_ylabel("PSNR (dB)")
    axis.set_title("A held-out 32 x 32 patch, SIREN 64 x 3")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(FIGURES / "meta_init_curve.png", dpi=120)
    plt.close(figure)

    columns = {"truth": batch["values"]}
    torch.manual_seed(0)
    standard = MAML(network=partial(Siren, hidden=64, layers=2), signal=inits["maml"].signal, inner_steps=2)
    with torch.enable_grad():
        columns["standard init, 3 steps"] = standard.adapt(batch["coords"], batch["values"], [3])[3]
        columns["MAML, 3 steps"] = inits["maml"].adapt(batch["coords"], batch["values"], [3])[3]
        columns["functa 128, 3 steps"] = inits["functa_128"].adapt(batch["coords"], batch["values"], [3])[3]
    columns["hypernetwork, 100 pixels"] = predictions["context100"]
    figure, axes = plt.subplots(4, len(columns), figsize=(1.6 * len(columns), 6.6))
    for column, (title, values) in enumerate(columns.items()):
        for row in range(4):
            image = ((values[row].clamp(-1, 1) + 1) / 2).reshape(32, 32, 3).numpy()
            axes[row, column].imshow(image, interpolation="nearest")
            axes[row, column].axis("off")
        axes[0, column].set_title(title, fontsize=7)
    figure.tight_layout()
    figure.savefig(FIGURES / "meta_patches.png", dpi=120)
    plt.close(figure)


if __name__ == "__main__":
    main()
