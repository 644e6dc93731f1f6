"""The members of a batched checkpoint as one "dataset of INRs" record, or as single-signal checkpoints.

The dataset file (``torch.save``, readable with ``torch.load(path, weights_only=True)``) holds::

    {"format": "inr.members/1",
     "signal": the members' SignalSpec as primitives (shape, value range, ..., "members": K),
     "sources": [file of member 0, ...],
     "model": the model's configuration (encoder, network, ... as class_path / init_args),
     "parameters": {"network.net.0.linear.weight": Tensor [K, out, in], ...}}

``parameters[name][k]`` is member k's tensor under the name a single network's state dict uses. A single-signal
checkpoint of member k (:func:`member_checkpoint`) is an ordinary ``inr fit`` checkpoint of that signal:
``inr render``, ``inr ntk``-style loading and resumes of fine-tuning runs take it as any other.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inr.core.errors import InputError
from inr.core.signal import SignalSpec
from inr.training.checkpoints import read_checkpoint

FORMAT = "inr.members/1"
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
