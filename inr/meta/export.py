"""What a meta-trained checkpoint gives: ordinary single-signal checkpoints, and a dataset of functa latents.

``inr meta export CKPT --out init.ckpt``: the learned initialisation of MAML / Reptile (its encoder + network) as an
``inr fit`` checkpoint of one signal (the crop description), which ``inr render`` renders and ``inr fit
--model.init_from`` starts from. For functa, ``--latents latents.pt --index i`` writes signal i's network: the
shared SIREN with the shifts of its latent added to the biases (:meth:`ModulatedSiren.siren_state`), a plain SIREN.
For a hypernetwork, ``--context FILE [--context-size N]`` writes the SIREN it predicts from N random points of FILE.

``inr meta latents CKPT --data FILES --out latents.pt``: every file as one signal of the crop's shape (an image
resized to it, the first samples of a recording), its latent fitted by the learned inner loop. The file
(``torch.load(path, weights_only=True)``)::

    {"format": "inr.latents/1", "latents": Tensor [K, D], "sources": [file of signal 0, ...],
     "psnr": Tensor [K] (dB, after the fit), "steps": inner steps, "signal": the crop's SignalSpec as primitives,
     "checkpoint": the meta checkpoint's path}
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import Any

import lightning
import torch

from inr.core.atomic import atomic_output
from inr.core.errors import InputError, MissingFileError
from inr.core.signal import SignalSpec
from inr.training.checkpoints import read_checkpoint

LATENTS_FORMAT = "inr.latents/1"
#: signals whose latents are fitted at once.
LATENT_BATCH = 64


def meta_checkpoint(path: str | Path) -> tuple[dict[str, Any], type]:
    """The contents of a checkpoint written by ``inr meta fit`` and its method class."""
    from inr.meta.learner import MetaLearner

    if not Path(path).is_file():
        raise MissingFileError(f"checkpoint not found: {path}")
    checkpoint = read_checkpoint(path)
    class_path = checkpoint.get("hyper_parameters", {}).get("_class_path")
    if class_path is None:
        raise InputError(f"{path} was not written by inr meta fit (its hyper_parameters name no method class)")
    module_name, class_name = class_path.rsplit(".", 1)
    method = getattr(importlib.import_module(module_name), class_name)
    if not issubclass(method, MetaLearner):
        raise InputError(f"{path} was written by {class_path}, not a meta-learning method")
    return checkpoint, method


def single_checkpoint(network: dict[str, Any], encoder: Any, signal: dict[str, Any],
                      state: dict[str, torch.Tensor]) -> dict[str, Any]:
    """An ordinary ``inr fit`` checkpoint of one signal: the encoder and network configs, their weights, the spec."""
    return {"state_dict": state, "global_step": 0, "epoch": 0,
            "hyper_parameters": {"encoder": encoder, "network": network, "signal": signal,
                                 "_instantiator": "lightning.pytorch.cli.instantiate_module"},
            "pytorch-lightning_version": lightning.__version__}


def export_init(path: str | Path, out: str | Path) -> str:
    """Write the learned initialisation of MAML / Reptile checkpoint ``path`` to ``out``; a line saying what."""
    from inr.meta.maml import InitLearner

    checkpoint, method = meta_checkpoint(path)
    if not issubclass(method, InitLearner):
        what = ("whose signals are latents, not an initialisation: give --latents FILE --index I for one signal's "
                "network") if method.__name__ == "Functa" else ("which predicts networks, not an initialisation: give "
                                                                "--context FILE for one signal's network")
        raise InputError(f"{path} holds {method.__name__}, {what}")
    hyper = checkpoint["hyper_parameters"]
    state = {key: value for key, value in checkpoint["state_dict"].items() if key.startswith(("encoder.", "network."))}
    with atomic_output(out, durable=True) as temporary:
        torch.save(single_checkpoint(hyper["network"], hyper["encoder"], hyper["signal"], state), temporary)
    return f"wrote {out}: the {method.__name__} initialisation after {checkpoint.get('global_step', 0)} outer steps"


def export_functa_signal(path: str | Path, latents: str | Path, index: int, out: str | Path) -> str:
    """Write signal ``index`` of a latents file as a plain SIREN checkpoint; a line saying what."""
    from inr.meta.functa import Functa

    checkpoint, method = meta_checkpoint(path)
    if not issubclass(method, Functa):
        raise InputError(f"{path} holds {method.__name__}, not Functa: --latents is for functa checkpoints")
    data = read_latents(latents)
    if not 0 <= index < data["latents"].shape[0]:
        raise InputError(f"--index {index}: {latents} holds {data['latents'].shape[0]} latents")
    model = method.load_from_checkpoint(path, map_location="cpu", weights_only=True)
    if data["latents"].shape[1] != model.latent_dim:
        raise InputError(f"{latents} holds latents of size {data['latents'].shape[1]}, the checkpoint's are "
                         f"{model.latent_dim}")
    network = model.network
    siren = {"class_path": "inr.nn.networks.Siren",
             "init_args": {"hidden": network.hidden, "layers": network.modulated_layers - 1,
                           "first_omega_0": float(network.siren.net[0].omega_0),
                           "hidden_omega_0": float(network.siren.net[1].omega_0) if network.modulated_layers > 1
                           else float(network.siren.net[0].omega_0)}}
    state = {f"network.{key}": value for key, value in network.siren_state(data["latents"][index]).items()}
    state.update({f"encoder.{key}": value for key, value in model.encoder.state_dict().items()})
    encoder = checkpoint["hyper_parameters"]["encoder"]
    with atomic_output(out, durable=True) as temporary:
        torch.save(single_checkpoint(siren, encoder, checkpoint["hyper_parameters"]["signal"], state), temporary)
    return f"wrote {out}: signal {index} ({data['sources'][index]}) as a SIREN"


def export_predicted(path: str | Path, context: str | Path, size: int | None, out: str | Path, seed: int = 0) -> str:
    """Write the SIREN a hypernetwork checkpoint predicts from ``size`` points of file ``context`` (all: None)."""
    from inr.core import grids
    from inr.meta.hypernetwork import Hypernetwork

    checkpoint, method = meta_checkpoint(path)
    if not issubclass(method, Hypernetwork):
        raise InputError(f"{path} holds {method.__name__}, not Hypernetwork: --context is for hypernetworks")
    model = method.load_from_checkpoint(path, map_location="cpu", weights_only=True).eval()
    spec = model.signal
    values = read_signals(spec, [str(context)])
    points = values.shape[1]
    size = points if size is None else size
    if not 1 <= size <= points:
        raise InputError(f"--context-size must be in 1..{points} (the points of one signal), got {size}")
    order = torch.randperm(points, generator=torch.Generator().manual_seed(seed))[None]
    coords = grids.grid(spec.shape)[None]
    with torch.no_grad():
        predicted, _ = model.predict(coords, values, model.context_mask(order, torch.tensor([size])))
    state = {f"network.{name}": value[0].clone() for name, value in predicted.items()}
    state.update({f"encoder.{key}": value for key, value in model.encoder.state_dict().items()})
    hyper = checkpoint["hyper_parameters"]
    with atomic_output(out, durable=True) as temporary:
        torch.save(single_checkpoint(hyper["network"], hyper["encoder"], hyper["signal"], state), temporary)
    return f"wrote {out}: the network predicted from {size} of the {points} points of {context}"


def read_signals(spec: SignalSpec, files: list[str]) -> torch.Tensor:
    """Every file as one signal of the crop description ``spec``: values [K, P, c]."""
    if spec.kind == "image":
        from datamodules.patches import read_patch_signal as read
    elif spec.kind == "audio":
        from datamodules.clips import read_clip_signal as read
    else:
        raise InputError(f"inr meta latents reads images and audio, not {spec.kind!r} signals")
    return torch.stack([read(spec, file) for file in files])


def fit_latents(path: str | Path, files: list[str], out: str | Path, steps: int | None = None,
                device: str = "cpu") -> str:
    """Fit a latent per file with functa checkpoint ``path`` and write the latents file ``out``; a line saying what."""
    from inr.core import grids
    from inr.meta.functa import Functa
    from inr.meta.functional import mean_squared_errors

    _, method = meta_checkpoint(path)
    if not issubclass(method, Functa):
        raise InputError(f"{path} holds {method.__name__}, which has no latents (only functa checkpoints do)")
    if not files:
        raise InputError("inr meta latents needs at least one --data file")
    model = method.load_from_checkpoint(path, map_location=device, weights_only=True).eval()
    steps = model.inner_steps if steps is None else steps
    if steps < 0:
        raise InputError(f"--steps must be >= 0, got {steps}")
    spec = model.signal
    values = read_signals(spec, files)
    coords = grids.grid(spec.shape).to(device)
    low, high = spec.value_range
    latents, psnr = [], []
    for start in range(0, len(files), LATENT_BATCH):
        batch = values[start:start + LATENT_BATCH].to(device)
        grid = coords.expand(batch.shape[0], *coords.shape)
        with torch.enable_grad():
            fitted, _ = model.fit_latents(grid, batch, steps, create_graph=False)
        with torch.no_grad():
            prediction = model.reconstruct(fitted.detach(), grid).clamp(low, high)
            error = mean_squared_errors(prediction, batch)
        latents.append(fitted.detach().cpu())
        psnr.append((10 * torch.log10((high - low) ** 2 / error)).cpu())
    data = {"format": LATENTS_FORMAT, "latents": torch.cat(latents), "sources": [str(file) for file in files],
            "psnr": torch.cat(psnr), "steps": steps, "signal": spec.to_dict(), "checkpoint": str(path)}
    with atomic_output(out, durable=True) as temporary:
        torch.save(data, temporary)
    return (f"wrote {out}: {len(files)} latents of size {model.latent_dim} after {steps} inner steps, mean PSNR "
            f"{float(data['psnr'].mean()):.2f} dB")


def read_latents(path: str | Path) -> dict[str, Any]:
    """A latents file written by ``inr meta latents``, checked for its format."""
    if not Path(path).is_file():
        raise MissingFileError(f"latents file not found: {path}")
    data = read_checkpoint(path, name=f"latents file {path}")
    if not isinstance(data, dict) or data.get("format") != LATENTS_FORMAT:
        raise InputError(f"{path} is not an inr latents file (format {LATENTS_FORMAT!r})")
    return data


def _files(items: list[str]) -> list[str]:
    """Files named directly, or every file of a named folder (sorted)."""
    files: list[str] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            files.extend(str(file) for file in sorted(path.iterdir()) if file.is_file())
        elif path.is_file():
            files.append(item)
        else:
            raise MissingFileError(f"--data {item}: no such file or folder")
    return files


def export_main(argv: list[str]) -> None:
    """``inr meta export``."""
    parser = argparse.ArgumentParser(prog="inr meta export", description="A meta-trained checkpoint's network as an "
                                     "ordinary single-signal checkpoint (inr render, inr fit --model.init_from).")
    parser.add_argument("checkpoint", help="a .ckpt written by inr meta fit")
    parser.add_argument("--out", required=True, help="the checkpoint to write")
    parser.add_argument("--latents", default=None, help="functa: a latents file written by inr meta latents")
    parser.add_argument("--index", type=int, default=None, help="functa: the signal of --latents to export")
    parser.add_argument("--context", default=None, help="hypernetwork: the signal (an image or audio file) whose "
                        "points are the context")
    parser.add_argument("--context-size", type=int, default=None, help="hypernetwork: context points, drawn at "
                        "random (default: all of them)")
    parser.add_argument("--seed", type=int, default=0, help="hypernetwork: seed of the context's draw")
    options = parser.parse_args(argv)
    if (options.latents is None) != (options.index is None):
        raise InputError("--latents and --index go together (functa: one signal's network)")
    if options.context is not None:
        print(export_predicted(options.checkpoint, options.context, options.context_size, options.out, options.seed))
    elif options.latents is None:
        print(export_init(options.checkpoint, options.out))
    else:
        print(export_functa_signal(options.checkpoint, options.latents, options.index, options.out))


def latents_main(argv: list[str]) -> None:
    """``inr meta latents``."""
    parser = argparse.ArgumentParser(prog="inr meta latents", description="Fit one functa latent per signal and "
                                     "write them as one file (a dataset of latents).")
    parser.add_argument("checkpoint", help="a .ckpt written by inr meta fit with inr.meta.functa.Functa")
    parser.add_argument("--data", nargs="+", required=True, help="image or audio files, or folders of them")
    parser.add_argument("--out", required=True, help="the latents file to write (.pt)")
    parser.add_argument("--steps", type=int, default=None, help="inner steps (default: the model's inner_steps)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="torch device")
    options = parser.parse_args(argv)
    print(fit_latents(options.checkpoint, _files(options.data), options.out, options.steps, options.device))
