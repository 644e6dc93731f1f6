"""Start a fit from another run's weights: a learned initialisation (``inr meta``) or any ``inr fit`` checkpoint.

The checkpoint's ``encoder.*`` and ``network.*`` entries are copied into the model's encoder and network, which must
have the same structure (names and shapes). A model of K members (a fit of a folder) starts every member from the
same single-signal weights.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from inr.core.errors import InputError, MissingFileError
from inr.training.checkpoints import read_checkpoint
from inr.training.member_checkpoints import single_name

_COMPONENTS = ("encoder.", "network.")


def initial_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The single-signal ``encoder.*`` / ``network.*`` weights of checkpoint ``path``."""
    if not Path(path).is_file():
        raise MissingFileError(f"model init_from {path}: no such checkpoint file")
    checkpoint = read_checkpoint(path, name=f"model init_from {path}")
    state = checkpoint.get("state_dict") if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise InputError(f"model init_from {path} holds no state_dict (not a Lightning checkpoint)")
    if checkpoint.get("hyper_parameters", {}).get("signal", {}).get("members") is not None:
        raise InputError(f"model init_from {path} holds members (a fit of a folder); export one first: "
                         "inr export CKPT --checkpoints DIR")
    weights = {key: value for key, value in state.items() if key.startswith(_COMPONENTS)}
    if not weights:
        raise InputError(f"model init_from {path} holds no encoder or network weights")
    return weights


def load_initial_state(model: nn.Module, path: str | Path, members: bool) -> None:
    """Copy the weights of checkpoint ``path`` into ``model``'s encoder and network (every member's, if ``members``).

    Raises a clear error naming the first entry that is missing, unexpected or of another shape.
    """
    source = initial_state(path)
    own = {key: value for key, value in model.state_dict(keep_vars=True).items() if key.startswith(_COMPONENTS)}
    names = {(single_name(key) if members else key): key for key in own}
    missing = sorted(set(names) - set(source))
    unexpected = sorted(set(source) - set(names))
    if missing or unexpected:
        parts = ([f"missing {missing[:3]}"] if missing else []) + ([f"unexpected {unexpected[:3]}"] if unexpected
                                                                   else [])
        raise InputError(f"model init_from {path}: its encoder/network differ from this model's ({'; '.join(parts)}); "
                         "use the encoder and network options of the run that wrote it")
    with torch.no_grad():
        for name, key in names.items():
            target, value = own[key], source[name]
            wanted = tuple(target.shape[1:]) if members else tuple(target.shape)
            if tuple(value.shape) != wanted:
                raise InputError(f"model init_from {path}: {name} has shape {list(value.shape)}, this model's "
                                 f"{list(wanted)}; use the encoder and network options of the run that wrote it")
            target.copy_(value.expand_as(target) if members else value)
