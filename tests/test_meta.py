"""Learning across signals (inr.meta): MAML / Reptile gradients by hand, functa's modulations, the crop datasets,
the inr meta commands, exact resume, DDP against one process, and the learned init in a plain inr fit."""

from __future__ import annotations

import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT, child_env
from torch import nn
from wandb_reader import find_offline_runs, metric_values, wait_until_finished

from datamodules.clips import AudioClipDataModule
from datamodules.patches import ImagePatchDataModule
from inr.core.errors import InputError
from inr.core.signal import SignalSpec
from inr.meta.export import read_latents
from inr.meta.functa import Functa, ModulatedSiren
from inr.meta.maml import MAML, Reptile
from inr.nn.networks import Siren

LINE = SignalSpec(in_dim=1, out_dim=1, kind="audio", shape=(2,), meta={"sample_rate": 2})
TINY_META = ["--model.init_args.network.init_args.hidden", "16", "--model.init_args.network.init_args.layers", "1"]


def _line(in_dim: int, out_dim: int) -> nn.Module:
    return nn.Linear(in_dim, out_dim, bias=False)


def _by_hand(w: float, xs: np.ndarray, ys: np.ndarray, alpha: float, steps: int) -> tuple[float, float, float]:
    """f(x) = w x, L(w) = mean (w x - y)^2 per signal: (w after the steps, L'(w_n), d w_n / d w)."""
    m2, mxy = float(np.mean(xs**2)), float(np.mean(xs * ys))
    derivative = lambda v: 2 * (v * m2 - mxy)  # noqa: E731
    for _ in range(steps):
        w = w - alpha * derivative(w)
    return w, derivative(w), (1 - alpha * 2 * m2) ** steps


@pytest.mark.parametrize("first_order", [False, True], ids=["second-order", "first-order"])
def test_maml_gradient_equals_the_hand_computed_one(first_order):
    torch.manual_seed(0)
    model = MAML(network=_line, signal=LINE, inner_steps=2, inner_lr=0.1, first_order=first_order)
    w = 0.7
    with torch.no_grad():
        model.network.weight.fill_(w)
    xs = np.array([[-1.0, 0.5], [0.25, 1.0]])
    ys = np.array([[0.3, -0.2], [1.5, 0.4]])
    coords = torch.tensor(xs, dtype=torch.float32)[..., None]
    values = torch.tensor(ys, dtype=torch.float32)[..., None]
    objective, _ = model.meta_objective({"coords": coords, "values": values})
    objective.backward()
    expected = []
    for x, y in zip(xs, ys):
        _, slope, chain = _by_hand(w, x, y, 0.1, 2)
        expected.append(slope * (1.0 if first_order else chain))
    assert model.network.weight.grad.item() == pytest.approx(np.mean(expected), rel=1e-5)
    # the two orders differ here (the inner steps shrink the gradient by (1 - 2 alpha m2)^2)
    assert abs(np.mean(expected) - np.mean([_by_hand(w, x, y, 0.1, 2)[1] for x, y in zip(xs, ys)])) > 1e-3 or \
        first_order


def test_reptile_direction_is_the_mean_displacement_of_the_adapted_weights():
    model = Reptile(network=_line, signal=LINE, inner_steps=3, inner_lr=0.1)
    with torch.no_grad():
        model.network.weight.fill_(-0.4)
    xs = np.array([[-1.0, 0.5], [0.25, 1.0]])
    ys = np.array([[0.3, -0.2], [1.5, 0.4]])
    objective, _ = model.meta_objective({"coords": torch.tensor(xs, dtype=torch.float32)[..., None],
                                         "values": torch.tensor(ys, dtype=torch.float32)[..., None]})
    objective.backward()
    adapted = [_by_hand(-0.4, x, y, 0.1, 3)[0] for x, y in zip(xs, ys)]
    assert model.network.weight.grad.item() == pytest.approx(-0.4 - np.mean(adapted), rel=1e-5)


def test_batched_inner_loop_equals_each_signal_adapted_alone():
    torch.manual_seed(1)
    spec = SignalSpec(in_dim=2, out_dim=3, kind="image", shape=(4, 4))
    model = MAML(network=partial(Siren, hidden=16, layers=1), signal=spec, inner_steps=2)
    coords = torch.rand(3, 16, 2) * 2 - 1
    values = torch.rand(3, 16, 3) * 2 - 1
    together = model.adapt(coords, values, [0, 3])
    for index in range(3):
        alone = model.adapt(coords[index:index + 1], values[index:index + 1], [0, 3])
        for steps in (0, 3):
            torch.testing.assert_close(together[steps][index], alone[steps][0], atol=1e-6, rtol=1e-5)
    assert not torch.allclose(together[0], together[3])  # the steps moved the reconstructions


def test_modulated_siren_with_zero_latent_is_the_shared_siren_and_exports_as_a_plain_siren():
    torch.manual_seed(3)
    modulated = ModulatedSiren(2, 3, hidden=32, layers=2, latent_dim=8)
    torch.manual_seed(3)
    plain = Siren(2, 3, hidden=32, layers=2)
    features = torch.rand(50, 2) * 2 - 1
    assert torch.equal(modulated(features, torch.zeros(8)), plain(features))  # same seed, same weights
    with torch.no_grad():  # trained weights: still the shared SIREN at zero
        for parameter in modulated.parameters():
            parameter.add_(0.01 * torch.randn_like(parameter))
    assert torch.equal(modulated(features, torch.zeros(8)), modulated(features))
    latent = torch.randn(8)
    assert not torch.allclose(modulated(features, latent), modulated(features))
    exported = Siren(2, 3, hidden=32, layers=2)
    exported.load_state_dict(modulated.siren_state(latent))
    torch.testing.assert_close(exported(features), modulated(features, latent), atol=1e-5, rtol=1e-5)


def test_functa_meta_sgd_step_sizes_are_clipped_and_learned():
    torch.manual_seed(0)
    spec = SignalSpec(in_dim=2, out_dim=1, kind="image", shape=(4, 4))
    model = Functa(network=partial(ModulatedSiren, hidden=16, layers=1, latent_dim=4), signal=spec,
                   meta_sgd_clip=(0.0, 0.05))
    assert model.latent_lrs.shape == (4,) and 0.005 <= model.latent_lrs.min() and model.latent_lrs.max() <= 0.1
    assert model.step_sizes().max().item() <= torch.tensor(0.05).item()
    coords, values = torch.rand(2, 16, 2) * 2 - 1, torch.rand(2, 16, 1)
    objective, _ = model.meta_objective({"coords": coords, "values": values})
    objective.backward()
    inside = (model.latent_lrs > 0) & (model.latent_lrs < 0.05)
    assert model.latent_lrs.grad[inside].abs().min() > 0  # the step sizes are outer parameters
    assert model.network.modulation.weight.grad.abs().sum() > 0


def _images(folder: Path, count: int, size: int = 40) -> Path:
    """``count`` RGB images of smooth random colour fields (shared structure, different content)."""
    import imageio.v3 as iio

    folder.mkdir(parents=True, exist_ok=True)
    generator = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size] / size
    for index in range(count):
        channels = []
        for _ in range(3):
            a, b, c = generator.uniform(1, 4, 3)
            channels.append(0.5 + 0.5 * np.sin(a * x * 3 + b * y * 2 + c))
        iio.imwrite(folder / f"{index:02d}.png", (np.stack(channels, -1) * 255).round().astype(np.uint8))
    return folder


def test_patch_batches_split_over_processes_are_the_one_process_batch_and_held_out_files_are_other_files(tmp_path):
    folder = _images(tmp_path / "images", 5)
    data = ImagePatchDataModule(str(folder), patch=8, batch_size=6, val_crops=4, holdout=0.4)
    assert [Path(name).name for name in data.val_names] == ["03.png", "04.png"]
    assert all(Path(name).name < "03.png" for name in data.train_names)
    one = data.sample(torch.device("cpu"), step=7, rank=0)
    assert one["coords"].shape == (6, 64, 2) and one["values"].shape == (6, 64, 3)

    class World:
        world_size = 3

    data.trainer = World()
    shares = [data.sample(torch.device("cpu"), step=7, rank=rank)["values"] for rank in range(3)]
    data.trainer = None
    assert torch.equal(torch.cat(shares), one["values"])
    assert not torch.equal(data.sample(torch.device("cpu"), step=8, rank=0)["values"], one["values"])
    again = ImagePatchDataModule(str(folder), patch=8, batch_size=6, val_crops=4, holdout=0.4, seed=123)
    assert torch.equal(again.validation_batch(torch.device("cpu"))["values"],
                       data.validation_batch(torch.device("cpu"))["values"])  # held-out crops: fixed
    # a crop is the image's pixels at its origin
    name, origin = data.held_out_origins()[0].split(" @ ")
    from datamodules.image import read_image

    row, column = eval(origin)  # noqa: S307 - "[r, c]" written by the DataModule
    pixels = read_image(name)[row:row + 8, column:column + 8] * 2 - 1
    torch.testing.assert_close(data.validation_batch(torch.device("cpu"))["values"][0],
                               torch.from_numpy(pixels).reshape(64, 3))


def test_one_recording_is_split_in_time_into_training_and_held_out_clips(tmp_path):
    import soundfile

    samples = np.sin(np.linspace(0, 400, 8000)).astype(np.float32)
    soundfile.write(tmp_path / "tone.wav", samples, 8000, subtype="FLOAT")
    data = AudioClipDataModule(str(tmp_path / "tone.wav"), clip=256, batch_size=4, val_crops=3, holdout=0.25)
    assert data.train_names == [f"{tmp_path / 'tone.wav'}[:6000]"]
    assert data.val_names == [f"{tmp_path / 'tone.wav'}[6000:]"]
    assert data.signal_spec.shape == (256,) and data.signal_spec.meta["sample_rate"] == 8000
    held = data.validation_batch(torch.device("cpu"))["values"][:, :, 0]
    for clip, origin in zip(held, data._held_out["origins"][:, 0].tolist()):
        torch.testing.assert_close(clip, torch.from_numpy(samples[6000 + origin:6000 + origin + 256]))


@pytest.mark.parametrize("options, message", [
    ({"patch": 64}, "smaller than the crop [64, 64]"),
    ({"holdout": 1.5}, "data holdout must be a fraction in (0, 1] of the material held out, got 1.5"),
    ({"batch_size": 0}, "data batch_size must be a positive number of crops"),
    ({"val_crops": 0}, "data val_crops must be >= 1"),
])
def test_bad_crop_options_are_refused_with_the_option_named(tmp_path, options, message):
    folder = _images(tmp_path / "images", 3)
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        ImagePatchDataModule(str(folder), **{"patch": 8, **options})


def _meta(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "inr.cli", "meta", *args], capture_output=True, text=True, cwd=cwd,
                          env=child_env(), timeout=400)


def _meta_here(*args: str):
    """``inr meta ARGS`` in this process (W&B run closed and flushed); returns the CLI object."""
    import wandb

    from inr.commands.meta import build_meta_cli

    try:
        cli = build_meta_cli(list(args))
    finally:
        wandb.finish()
    wait_until_finished(cli.trainer.default_root_dir)
    return cli


def _fit_args(config: str, folder: Path, root: Path, *extra: str) -> list[str]:
    data = (["--data.init_args.clip", "64"] if "audio" in config else
            ["--data.init_args.size", "null", "--data.init_args.patch", "8"])
    return ["fit", "--config", f"configs/meta/{config}", "--data.init_args.path", str(folder), *data,
            "--data.init_args.batch_size", "4", "--data.init_args.val_crops", "4", "--trainer.default_root_dir",
            str(root), "--trainer.enable_progress_bar", "false", "--trainer.accelerator", "cpu", *TINY_META, *extra]


def _recording(path: Path) -> Path:
    import soundfile

    time = np.arange(8000) / 8000
    soundfile.write(path, (0.5 * np.sin(2 * np.pi * 220 * time) * np.exp(-time)).astype(np.float32), 8000)
    return path


@pytest.mark.slow
def test_meta_fit_logs_every_step_count_and_the_standard_init_and_resumes_exactly_in_a_new_process(tmp_path):
    folder = _images(tmp_path / "images", 5)
    whole, split = tmp_path / "whole", tmp_path / "split"
    _meta_here(*_fit_args("maml_siren.yaml", folder, whole, "--trainer.max_steps", "6",
                          "--trainer.val_check_interval", "6"))
    (run,) = find_offline_runs(whole)
    for key in ("val/psnr_step0", "val/psnr_step1", "val/psnr_step3", "val/psnr_step10", "val/ssim_step3",
                "val/psnr", "val/standard_init/psnr_step3", "val/psnr_step3_std"):
        assert [step for step, _ in metric_values(run, key)] == [6], key
    from wandb_reader import read_history

    pictures = [row for row in read_history(run) if row.get("val/patches/_type") == "images/separated"]
    assert len(pictures) == 1 and pictures[0]["trainer/global_step"] == 6  # truth | 0 | 1 | 2 | 3 | 10 steps
    assert pictures[0]["val/patches/width"] == 6 * 8 * 4 + 5 * 2  # six columns of 8-pixel patches shown 4x
    [(_, after_10)] = metric_values(run, "val/psnr_step10")
    [(_, after_0)] = metric_values(run, "val/psnr_step0")
    assert after_10 > after_0  # the inner steps fit the held-out patches

    _meta_here(*_fit_args("maml_siren.yaml", folder, split, "--trainer.max_steps", "3",
                          "--trainer.val_check_interval", "3", "--trainer.logger", "false"))
    resumed = _meta(*_fit_args("maml_siren.yaml", folder, split, "--trainer.max_steps", "6",
                               "--trainer.val_check_interval", "3", "--trainer.logger", "false", "--ckpt_path", "last"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    first = torch.load(next(whole.glob("**/last.ckpt")), weights_only=True)
    second = torch.load(next(split.glob("**/last.ckpt")), weights_only=True)
    assert first["global_step"] == second["global_step"] == 6
    for key, value in first["state_dict"].items():
        assert torch.equal(value, second["state_dict"][key]), key

    from inr.commands.meta import build_meta_cli

    with pytest.raises(InputError, match="written by inr.meta.maml.MAML, the model now is inr.meta.maml.Reptile"):
        build_meta_cli(_fit_args("reptile_siren.yaml", folder, split, "--trainer.max_steps", "8", "--ckpt_path",
                                 "last", "--trainer.logger", "false"))
    with pytest.raises(InputError, match=r"cannot resume on different data \(shape: checkpoint \[8, 8\], now \[4, 4\]"):
        build_meta_cli(_fit_args("maml_siren.yaml", folder, split, "--trainer.max_steps", "8", "--ckpt_path",
                                 "last", "--trainer.logger", "false", "--data.init_args.patch", "4"))


@pytest.mark.slow
def test_two_process_meta_training_equals_one_process_with_the_same_global_batch(tmp_path):
    folder = _images(tmp_path / "images", 5)
    common = ["--trainer.max_steps", "3", "--trainer.val_check_interval", "3", "--trainer.logger", "false"]
    _meta_here(*_fit_args("maml_siren.yaml", folder, tmp_path / "one", *common))
    two = _meta(*_fit_args("maml_siren.yaml", folder, tmp_path / "two", *common, "--trainer.strategy", "ddp",
                           "--trainer.devices", "2"))
    assert two.returncode == 0, two.stderr[-3000:]
    first = torch.load(next((tmp_path / "one").glob("**/last.ckpt")), weights_only=True)["state_dict"]
    second = torch.load(next((tmp_path / "two").glob("**/last.ckpt")), weights_only=True)["state_dict"]
    moved = False
    for key, value in first.items():
        torch.testing.assert_close(second[key], value, atol=1e-6, rtol=1e-5)
    initial = MAML(network=partial(Siren, hidden=16, layers=1), signal=SignalSpec(2, 3, kind="image", shape=(8, 8)))
    moved = any(not torch.allclose(first[key], value) for key, value in initial.state_dict().items())
    assert moved  # three outer steps changed the weights


def _fit_meta_in_process(model, data, steps: int):
    import lightning as L

    trainer = L.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0, val_check_interval=steps,
                        check_val_every_n_epoch=None, inference_mode=False, accelerator="cpu")
    trainer.fit(model, data)
    return trainer


def test_meta_learned_init_beats_the_standard_init_after_the_same_inner_steps(tmp_path):
    folder = _images(tmp_path / "images", 6)
    torch.manual_seed(0)
    data = ImagePatchDataModule(str(folder), patch=8, batch_size=8, val_crops=8, seed=0)
    model = MAML(network=partial(Siren, hidden=32, layers=1), signal=data.signal_spec, inner_steps=2,
                 optimizer=partial(torch.optim.Adam, lr=3e-3))
    trainer = _fit_meta_in_process(model, data, 60)
    learned = trainer.callback_metrics
    standard = model._standard_values
    assert learned["val/psnr_step3"] > standard["standard_init/psnr_step3"] + 3, (learned, standard)


def test_exported_init_renders_and_a_plain_fit_starts_from_it(tmp_path):
    from conftest import run_fit

    from inr.commands.render import render_checkpoint
    from inr.meta.export import export_init

    folder = _images(tmp_path / "images", 4)
    _meta_here(*_fit_args("maml_siren.yaml", folder, tmp_path / "meta", "--trainer.max_steps", "2",
                          "--trainer.val_check_interval", "2", "--trainer.logger", "false"))
    meta = next((tmp_path / "meta").glob("**/last.ckpt"))
    print(export_init(meta, tmp_path / "init.ckpt"))
    assert "8 x 8 image" in render_checkpoint(tmp_path / "init.ckpt", str(tmp_path / "init.png"))
    learned = torch.load(meta, weights_only=True)["state_dict"]
    cli = run_fit(["--config", "configs/image_siren.yaml", "--data.path", str(folder / "00.png"), "--data.size", "8",
                   "--model.network.init_args.hidden", "16", "--model.network.init_args.layers", "1",
                   "--model.init_from", str(tmp_path / "init.ckpt"), "--model.optimizer.init_args.lr", "0",
                   "--trainer.max_steps", "1", "--trainer.logger", "false",
                   "--trainer.default_root_dir", str(tmp_path / "fit"), "--trainer.enable_progress_bar", "false"])
    for key, value in cli.model.state_dict().items():
        if key.startswith("network."):
            assert torch.equal(value, learned[key]), key  # lr 0: still exactly the learned init
    with pytest.raises(InputError, match="its encoder/network differ from this model's"):
        run_fit(["--config", "configs/image_siren.yaml", "--data.path", str(folder / "00.png"), "--data.size", "8",
                 "--model.init_from", str(tmp_path / "init.ckpt"), "--trainer.max_steps", "1",
                 "--trainer.logger", "false", "--trainer.default_root_dir", str(tmp_path / "bad")])
    with pytest.raises(InputError, match="no such checkpoint file"):
        run_fit(["--config", "configs/image_siren.yaml", "--data.size", "8", "--model.init_from",
                 str(tmp_path / "missing.ckpt"), "--trainer.max_steps", "1", "--trainer.logger", "false",
                 "--trainer.default_root_dir", str(tmp_path / "bad")])


def test_functa_latents_are_exported_read_back_and_each_is_a_renderable_siren(tmp_path):
    from inr.commands.render import load_model
    from inr.meta.export import export_functa_signal, export_init, fit_latents

    folder = _images(tmp_path / "images", 4)
    _meta_here(*_fit_args("functa_siren.yaml", folder, tmp_path / "meta", "--trainer.max_steps", "2",
                          "--trainer.val_check_interval", "2", "--trainer.logger", "false",
                          "--model.init_args.network.init_args.latent_dim", "8"))
    meta = next((tmp_path / "meta").glob("**/last.ckpt"))
    files = [str(path) for path in sorted(folder.iterdir())]
    print(fit_latents(meta, files, tmp_path / "latents.pt"))
    data = read_latents(tmp_path / "latents.pt")
    assert data["latents"].shape == (4, 8) and data["sources"] == files and data["steps"] == 3
    assert data["latents"].abs().sum() > 0
    print(export_functa_signal(meta, tmp_path / "latents.pt", 2, tmp_path / "signal2.ckpt"))
    siren = load_model(tmp_path / "signal2.ckpt")
    from datamodules.patches import read_patch_signal
    from inr.core import grids

    truth = read_patch_signal(siren.signal, files[2])
    prediction = siren.predict_values(grids.grid((8, 8))).clamp(-1, 1)
    psnr = 10 * torch.log10(4 / (prediction - truth).square().mean())
    assert float(psnr) == pytest.approx(float(data["psnr"][2]), abs=1e-3)  # the exported SIREN is that fit
    with pytest.raises(InputError, match="whose signals are latents"):
        export_init(meta, tmp_path / "x.ckpt")
    (tmp_path / "not_latents.pt").write_bytes(b"junk")
    with pytest.raises(InputError, match="not a readable checkpoint"):
        read_latents(tmp_path / "not_latents.pt")


@pytest.mark.parametrize("config", sorted((ROOT / "configs" / "meta").glob("*.yaml")), ids=lambda path: path.name)
def test_every_meta_config_trains_two_steps_and_validates(config, tmp_path):
    from inr.commands.meta import build_meta_cli

    data = _recording(tmp_path / "tone.wav") if "audio" in config.name else _images(tmp_path / "images", 4)
    cli = build_meta_cli(_fit_args(config.name, data, tmp_path, "--trainer.max_steps", "2",
                                   "--trainer.val_check_interval", "2", "--trainer.logger", "false"))
    assert cli.trainer.global_step == 2
    metrics = cli.trainer.callback_metrics
    assert 0 < metrics["val/psnr"].item() < 100
    assert ("val/snr" if "audio" in config.name else "val/ssim") in metrics


def test_set_encoder_is_invariant_to_the_order_of_the_context_and_ignores_points_outside_it():
    from inr.meta.hypernetwork import SetEncoder

    torch.manual_seed(0)
    encoder = SetEncoder(5, latent_dim=16, hidden=32)
    points = torch.rand(2, 30, 5)
    mask = torch.rand(2, 30) < 0.5
    latents = encoder(points, mask)
    permutation = torch.randperm(30)
    torch.testing.assert_close(encoder(points[:, permutation], mask[:, permutation]), latents, atol=1e-6, rtol=1e-5)
    changed = points.clone()
    changed[~mask] = 5.0  # points outside the context do not matter
    torch.testing.assert_close(encoder(changed, mask), latents)
    assert not torch.allclose(encoder(points, ~mask), latents)


def test_context_masks_are_nested_and_of_the_asked_sizes():
    from inr.meta.hypernetwork import Hypernetwork

    order = torch.stack([torch.randperm(20), torch.randperm(20)])
    small = Hypernetwork.context_mask(order, torch.tensor([3, 7]))
    large = Hypernetwork.context_mask(order, torch.tensor([10, 10]))
    assert small.sum(dim=1).tolist() == [3, 7] and bool((large | ~small).all())
    assert small[0, order[0, :3]].all()


def test_predicted_network_exports_as_a_checkpoint_inr_render_takes_with_the_same_values(tmp_path):
    from datamodules.patches import read_patch_signal
    from inr.commands.render import load_model, render_checkpoint
    from inr.core import grids
    from inr.meta.export import export_predicted
    from inr.meta.hypernetwork import Hypernetwork

    folder = _images(tmp_path / "images", 4)
    _meta_here(*_fit_args("hypernetwork_siren.yaml", folder, tmp_path / "meta", "--trainer.max_steps", "2",
                          "--trainer.val_check_interval", "2", "--trainer.logger", "false",
                          "--model.init_args.context_range", "[4, 30]", "--model.init_args.latent_dim", "16",
                          "--model.init_args.set_hidden", "16", "--model.init_args.hyper_hidden", "16"))
    meta = next((tmp_path / "meta").glob("**/last.ckpt"))
    print(export_predicted(meta, folder / "01.png", 20, tmp_path / "net.ckpt"))
    assert "8 x 8 image" in render_checkpoint(tmp_path / "net.ckpt", str(tmp_path / "net.png"))
    single = load_model(tmp_path / "net.ckpt")
    model = Hypernetwork.load_from_checkpoint(meta, weights_only=True)
    values = read_patch_signal(model.signal, str(folder / "01.png"))[None]
    coords = grids.grid((8, 8))[None]
    order = torch.randperm(64, generator=torch.Generator().manual_seed(0))[None]
    with torch.no_grad():
        predicted, _ = model.predict(coords, values, model.context_mask(order, torch.tensor([20])))
        expected = model.reconstruct(predicted, coords)[0]
    torch.testing.assert_close(single.predict_values(coords[0]), expected, atol=1e-6, rtol=1e-5)
    from inr.meta.hypernetwork import Hypernetwork as Method

    with pytest.raises(InputError, match="context conv encodes images"):
        Method(signal=SignalSpec(in_dim=1, out_dim=1, kind="audio", shape=(64,)), context="conv")
    with pytest.raises(InputError, match="--context-size must be in 1..64"):
        export_predicted(meta, folder / "01.png", 65, tmp_path / "x.ckpt")


def test_uneven_batches_mixed_sample_rates_and_a_members_init_are_refused(tmp_path):
    import soundfile

    from inr.training.init_from import initial_state

    folder = _images(tmp_path / "images", 3)
    data = ImagePatchDataModule(str(folder), patch=8, batch_size=6)
    with pytest.raises(InputError, match="data batch_size 6 crops does not split evenly over 4 processes"):
        data.share(0, 4)
    clips = tmp_path / "clips"
    clips.mkdir()
    soundfile.write(clips / "a.wav", np.zeros(4000, np.float32), 8000)
    soundfile.write(clips / "b.wav", np.zeros(4000, np.float32), 16000)
    with pytest.raises(InputError, match=r"b.wav is sampled at 16000 Hz, but .*a.wav at 8000 Hz"):
        AudioClipDataModule(str(clips), clip=64)
    members = {"state_dict": {"network.module.net.0.linear.weight": torch.zeros(2, 3, 2)},
               "hyper_parameters": {"signal": {"in_dim": 2, "out_dim": 3, "members": 2}}}
    torch.save(members, tmp_path / "members.ckpt")
    with pytest.raises(InputError, match="holds members .* export one first"):
        initial_state(tmp_path / "members.ckpt")


def test_cnn_context_encoder_sees_only_the_context_pixels_and_the_hypernetwork_trains_with_it():
    from inr.meta.hypernetwork import ConvEncoder, Hypernetwork

    torch.manual_seed(0)
    encoder = ConvEncoder(3, (6, 6), latent_dim=8, width=8, blocks=1)
    values = torch.rand(2, 36, 3)
    mask = torch.rand(2, 36) < 0.3
    changed = torch.where(mask[..., None], values, torch.rand(2, 36, 3))
    torch.testing.assert_close(encoder(changed, mask), encoder(values, mask))
    assert not torch.allclose(encoder(values, ~mask), encoder(values, mask))
    model = Hypernetwork(network=partial(Siren, hidden=8, layers=1), signal=SignalSpec(2, 3, kind="image",
                         shape=(6, 6)), context="conv", latent_dim=8, conv_width=8, conv_blocks=1, hyper_hidden=8,
                         context_range=(2, 20), eval_contexts=(5, 10, 100))
    assert model.eval_contexts == [5, 10]  # 100 is not below the 36 points
    batch = {"coords": torch.rand(2, 36, 2), "values": values, "order": torch.stack([torch.randperm(36)] * 2),
             "draw": torch.tensor([0.1, 0.9])}
    objective, error = model.meta_objective(batch)
    objective.backward()
    assert objective > error > 0 and encoder.pool.weight.grad is None
    assert model.context_encoder.pool.weight.grad.abs().sum() > 0 and model.network.net[0].linear.weight.grad is None
    predictions = model.validation_predictions(batch)
    assert set(predictions) == {"context5", "context10", "context_all"}
    columns = model.media_columns(batch, predictions)
    assert list(columns) == ["truth", "5 points", "context5", "10 points", "context10", "context_all"]
    shown = (columns["5 points"] != 0).all(dim=-1)  # 0: the middle of [-1, 1], where no point is given
    assert shown.sum(dim=1).tolist() == [5, 5]


def test_crop_media_show_the_first_held_out_crops_truth_first(tmp_path):
    import soundfile

    from datamodules.patches import MEDIA_PATCHES

    folder = _images(tmp_path / "images", 3)
    patches = ImagePatchDataModule(str(folder), patch=8, val_crops=6)
    values = patches.validation_batch(torch.device("cpu"))["values"]
    (picture,) = patches.crop_media({"truth": values, "step3": -values}, step=5)
    grid = picture.images[0]
    assert grid.shape == (MEDIA_PATCHES * 32 + (MEDIA_PATCHES - 1) * 2, 2 * 32 + 2, 3)
    first = ((values[0].reshape(8, 8, 3) + 1) / 2 * 255).round().numpy()
    np.testing.assert_allclose(grid[:32:4, :32:4], first, atol=1)  # patch 0 of the truth, top left, scaled 4x
    assert picture.captions == ["truth | step3 (held-out patches, step 5)"]
    samples = np.sin(np.linspace(0, 300, 4000)).astype(np.float32)
    soundfile.write(tmp_path / "tone.wav", samples, 8000)
    clips = AudioClipDataModule(str(tmp_path / "tone.wav"), clip=128, val_crops=3)
    truth = clips.validation_batch(torch.device("cpu"))["values"]
    items = clips.crop_media({"truth": truth, "step0": truth * 0, "step3": truth}, step=5)
    assert [item.key for item in items] == ["val/clips/0", "val/clips/1"]
    assert [image.shape for image in items[0].images] == [(3 * 64, 128, 3)] * 2  # target, fit, error panels
    assert items[0].captions[1] == "step3 against the truth, training step 5"


def test_meta_validate_evaluates_a_folder_it_did_not_train_on_and_refuses_another_crop_shape(tmp_path, capsys):
    """A learned init is evaluated on new images (all held out): PSNR after 0/1/3/10 steps beside the standard init."""
    from inr.commands.meta import build_meta_cli, main

    trained, other = _images(tmp_path / "trained", 4), tmp_path / "other"
    other.mkdir()
    for index, file in enumerate(sorted(_images(tmp_path / "more", 6, size=24).iterdir())[3:]):
        file.rename(other / f"new{index}.png")  # other pictures, of another size, in a folder never trained on
    build_meta_cli(_fit_args("maml_siren.yaml", trained, tmp_path / "run", "--trainer.max_steps", "2",
                             "--trainer.val_check_interval", "2", "--trainer.logger", "false"))
    last = str(tmp_path / "run" / "checkpoints" / "last.ckpt")
    capsys.readouterr()
    validate = ["validate", *_fit_args("maml_siren.yaml", other, tmp_path / "eval", "--ckpt_path", last,
                                       "--data.init_args.holdout", "1", "--trainer.logger", "false")[1:]]
    cli = build_meta_cli(validate)
    printed = {line.split()[0]: [float(cell) for cell in line.split()[1:]]
               for line in capsys.readouterr().out.splitlines() if line.startswith("val/")}
    assert cli.datamodule.val_names == [str(other / f"new{index}.png") for index in range(3)]
    for steps in (0, 1, 3, 10):
        for prefix in ("", "standard_init/"):
            mean, std, low, high = printed[f"val/{prefix}psnr_step{steps}"]
            assert low <= mean <= high and std >= 0 and 5 < mean < 60
    assert printed["val/psnr_step10"][0] > printed["val/psnr_step0"][0]  # the inner steps fit the new crops
    assert printed["val/psnr"] == printed["val/psnr_step2"]  # MAML's own inner steps (2): what checkpoints monitor

    with pytest.raises(SystemExit) as stopped:
        main([*validate, "--data.init_args.patch", "4"])
    assert stopped.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error[-1] == ("inr: error: cannot evaluate the checkpoint on these signals (crop shape: trained on [8, 8], "
                         "--data gives [4, 4]); use --data options that cut crops of the trained shape and channels")


def test_a_set_held_out_whole_is_only_evaluated_on(tmp_path):
    folder = _images(tmp_path / "images", 2, size=16)
    data = ImagePatchDataModule(str(folder), patch=8, holdout=1.0)
    assert data.train_sources == [] and len(data.val_names) == 2 and data.channels == 3
    with pytest.raises(InputError, match="holdout 1.0 holds every file out: such a set is only evaluated on"):
        data.setup("fit")
