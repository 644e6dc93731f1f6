"""Crash-safe checkpoint files.

Lightning's own atomic save writes to a temporary file elsewhere and moves it without fsync, which becomes a
plain (interruptible) copy when the temporary folder is on another filesystem. Here the bytes go to a temporary
file beside the target, are fsynced, and replace the target with ``os.replace``: a crash at any moment leaves
either the old complete checkpoint or the new complete one, never a half-written ``last.ckpt``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to ``path`` through a fsynced sibling temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as file:
            torch.save(obj, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # make the rename itself durable
    finally:
        os.close(directory)


class AtomicCheckpointIO(TorchCheckpointIO):
    """TorchCheckpointIO that never leaves a partially written checkpoint (see the module docstring)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        """Write ``checkpoint`` to ``path`` atomically and durably."""
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        atomic_torch_save(checkpoint, path)
