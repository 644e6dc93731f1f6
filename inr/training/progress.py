"""The progress bar of ``inr fit``: Lightning's TQDM bar, showing values the module has already read to the host.

A metric logged with ``prog_bar=True`` is copied from the device at every refresh, i.e. every step: on a GPU the
host then waits for the device each step. The module instead reads its training loss at logging steps (where it
syncs anyway) into ``progress_metrics``, and this bar shows those numbers.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch.callbacks import TQDMProgressBar


class ProgressBar(TQDMProgressBar):
    """TQDM progress bar that adds the module's host-side ``progress_metrics`` (name -> float) to its postfix."""

    def get_metrics(self, trainer, pl_module) -> dict[str, Any]:
        """Lightning's metrics plus ``pl_module.progress_metrics``."""
        return {**super().get_metrics(trainer, pl_module), **getattr(pl_module, "progress_metrics", {})}
