"""The device of the commands that run outside Lightning (``inr ntk``, ``inr experiment``) and seeded model building.

Models are built on the CPU from a seeded RNG and then moved, so a seed gives the same weights on every device.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from inr.core.errors import InputError


def resolve_device(name: str | None) -> torch.device:
    """``name`` as a device (``cpu``, ``cuda``, ``cuda:1``); None: ``cuda`` when a GPU is visible, else ``cpu``.

    Raises ValueError, naming ``--device``, for a name torch does not know or a GPU this machine does not have.
    """
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InputError(f"--device {name!r} is not a device name (cpu, cuda, cuda:1, ...)") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise InputError(f"--device {name}: torch sees no CUDA GPU on this machine (use --device cpu)")
        if device.index is not None and device.index >= count:
            raise InputError(f"--device {name}: this machine has {count} CUDA GPU(s), numbered from 0")
    elif device.type != "cpu":
        raise InputError(f"--device {name}: only cpu and cuda devices are supported")
    return device


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Inside the block the global RNGs are seeded with ``seed``; outside, the caller's RNG states are unchanged.

    The CUDA generators are saved and restored too when a GPU is visible: ``torch.manual_seed`` reseeds them (or
    queues the seed for CUDA's lazy start), which ``fork_rng(devices=[])`` would leave behind.
    """
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
