"""``inr export``: the members of a batched checkpoint as one "dataset of INRs" file, or as single checkpoints.

The dataset file (``torch.save``, readable with ``torch.load(path, weights_only=True)``) holds::

    {"format": "inr.nn.members/1",
     "signal": the members' SignalSpec as primitives (shape, value range, ..., "members": K),
     "sources": [file of member 0, ...],
     "model": the model's configuration (encoder, network, ... as class_path / init_args),
     "parameters": {"network.net.0.linear.weight": Tensor [K, out, in], ...}}

``parameters[name][k]`` is member k's tensor under the name a single network's state dict uses. A single-signal
checkpoint of member k (:func:`member_checkpoint`) is an ordinary ``inr fit`` checkpoint of that signal:
``inr render``, ``inr ntk``-style loading and resumes of fine-tuning runs take it as any other.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path
from typing import Any

import torch

from inr.core.atomic import atomic_output
from inr.core.errors import InputError, InrError, MissingFileError
from inr.core.signal import SignalSpec
from inr.training.checkpoints import read_checkpoint

FORMAT = "inr.nn.members/1"
#: the components whose parameters carry the member axis, as a batched module's state dict names them.
_MEMBER_PREFIXES = ("encoder.module.", "network.module.")


def batched_spec(checkpoint: dict[str, Any], name: str) -> SignalSpec:
    """The SignalSpec of a batched checkpoint; a clear error for a checkpoint of one signal."""
    saved = checkpoint.get("hyper_parameters", {}).get("signal")
    if saved is None:
        raise InputError(f"{name} was not written by inr fit: its hyper_parameters hold no 'signal' description")
    spec = SignalSpec.from_dict(saved)
    if not spec.batched:
        raise InputError(f"{name} holds a single signal, not members (fit a folder, e.g. "
                         "datamodules.image_folder.ImageFolderDataModule, to get members)")
    return spec


def single_name(key: str) -> str | None:
    """``network.module.net.0.linear.weight`` -> ``network.net.0.linear.weight``; None for unbatched entries."""
    for prefix in _MEMBER_PREFIXES:
        if key.startswith(prefix):
            return prefix.split(".")[0] + "." + key[len(prefix):]
    return None


def member_checkpoint(checkpoint: dict[str, Any], index: int, name: str = "checkpoint") -> dict[str, Any]:
    """Member ``index`` of a batched checkpoint as an ordinary single-signal checkpoint (weights, config, spec)."""
    spec = batched_spec(checkpoint, name)
    member_spec = spec.member(index)
    state = {}
    for key, value in checkpoint["state_dict"].items():
        single = single_name(key)
        state[key if single is None else single] = value if single is None else value[index].clone()
    hyper_parameters = {**checkpoint["hyper_parameters"], "signal": member_spec.to_dict()}
    return {"state_dict": state, "hyper_parameters": hyper_parameters, "global_step": checkpoint.get("global_step", 0),
            "epoch": checkpoint.get("epoch", 0),
            "pytorch-lightning_version": checkpoint.get("pytorch-lightning_version", "")}


def members_dataset(checkpoint: dict[str, Any], name: str = "checkpoint") -> dict[str, Any]:
    """The dataset-of-INRs record of a batched checkpoint (see the module docstring)."""
    spec = batched_spec(checkpoint, name)
    parameters = {single: value for key, value in checkpoint["state_dict"].items()
                  if (single := single_name(key)) is not None}
    model = {key: value for key, value in checkpoint["hyper_parameters"].items()
             if key not in ("signal", "_instantiator")}
    return {"format": FORMAT, "signal": spec.to_dict(), "sources": list(spec.member_sources), "model": model,
            "parameters": parameters}


def read_members(path: str | Path) -> dict[str, Any]:
    """A dataset file written by ``inr export``, checked for its format."""
    data = read_checkpoint(path, name=f"dataset file {path}")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{path} is not an inr members file (format {FORMAT!r})")
    return data


def load_member_model(checkpoint: str | Path, index: int, device: str = "cpu"):
    """Member ``index`` of a batched checkpoint as an INRModule of one signal (eval mode)."""
    from inr.training.module import INRModule

    single = member_checkpoint(read_checkpoint(checkpoint), index, name=str(checkpoint))
    buffer = io.BytesIO()
    torch.save(single, buffer)
    buffer.seek(0)
    return INRModule.load_from_checkpoint(buffer, map_location=device, weights_only=True).eval()


def export(checkpoint: str | Path, out: str | None, checkpoints: str | None) -> list[str]:
    """Write the dataset file ``out`` and/or one checkpoint per member under ``checkpoints``; lines saying what."""
    path = Path(checkpoint)
    if not path.is_file():
        raise MissingFileError(f"checkpoint not found: {path}")
    if out is None and checkpoints is None:
        raise InputError("inr export needs --out FILE (the dataset of INRs) and/or --checkpoints FOLDER")
    data = read_checkpoint(path)
    spec = batched_spec(data, str(path))
    lines = []
    if out is not None:
        with atomic_output(out, durable=True) as temporary:
            torch.save(members_dataset(data, str(path)), temporary)
        lines.append(f"wrote {out}: {spec.members} members' parameters")
    if checkpoints is not None:
        folder = Path(checkpoints)
        width = len(str(spec.members - 1))
        for index in range(spec.members):
            with atomic_output(folder / f"member_{index:0{width}d}.ckpt", durable=True) as temporary:
                torch.save(member_checkpoint(data, index, str(path)), temporary)
        lines.append(f"wrote {spec.members} single-signal checkpoints to {folder}/member_*.ckpt")
    return lines


def main(argv: list[str] | None = None) -> None:
    """Parse ``inr export`` arguments and export."""
    parser = argparse.ArgumentParser(prog="inr export", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="a batched .ckpt written by inr fit on a folder of signals")
    parser.add_argument("--out", default=None, help="the dataset file: every member's parameters, stacked (.pt)")
    parser.add_argument("--checkpoints", default=None, help="folder for one ordinary checkpoint per member")
    options = parser.parse_args(argv)
    try:
        for line in export(options.checkpoint, options.out, options.checkpoints):
            print(line)
    except InrError as error:
        print(f"inr export: error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
