"""Crash-safe checkpoint files.

Lightning's own atomic save writes to a temporary file elsewhere and moves it without fsync, which becomes a
plain (interruptible) copy when the temporary folder is on another filesystem. Here the bytes go through
:func:`inr.core.atomic.atomic_output` (a temporary file beside the target, fsynced, then ``os.replace``): a crash at any
moment leaves either the old complete checkpoint or the new complete one, never a half-written ``last.ckpt``.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from inr.core.atomic import atomic_output


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to ``path`` through a fsynced sibling temporary file and ``os.replace``."""
    with atomic_output(path, durable=True) as temporary, open(temporary, "wb") as file:
        torch.save(obj, file)


class AtomicCheckpointIO(TorchCheckpointIO):
    """TorchCheckpointIO that never leaves a partially written checkpoint (see the module docstring)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None) -> None:
        """Write ``checkpoint`` to ``path`` atomically and durably."""
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        atomic_torch_save(checkpoint, path)
