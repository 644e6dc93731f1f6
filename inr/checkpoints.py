"""ModelCheckpoint that writes ``last.ckpt`` on schedule from the first step and at the end of fitting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_warn


def read_checkpoint(path: str | Path, name: str | None = None) -> dict[str, Any]:
    """The contents of checkpoint ``path`` (weights-only load on the CPU), or one clear ``ValueError``.

    ``name`` is how the error names the file (default: the path), e.g. ``"--ckpt_path runs/x.ckpt"``.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file: say which and why, in one line
        first_sentence = (str(error).strip().splitlines() or [""])[0].split(". ")[0]
        raise ValueError(f"{name or path} is not a readable checkpoint "
                         f"(torch.load failed: {type(error).__name__}: {first_sentence})") from None


class Checkpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint (same options), plus a final ``last.ckpt`` at the end of fitting.

    With ``every_n_train_steps`` set, Lightning saves only at multiples of it, so a run of 30 steps saved every
    4 would end with a checkpoint of step 28; ``inr render`` and resumes expect the final weights.
    """

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        """Save ``last.ckpt`` every ``every_n_train_steps`` even before the monitored metric exists.

        Lightning (2.6) defers every save under manual optimisation until ``monitor`` has been logged, which
        would leave a run killed before its first validation with no checkpoint at all.
        """
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        every = self._every_n_train_steps
        if self.save_last and every >= 1 and trainer.global_step % every == 0:
            if not self._should_skip_saving_checkpoint(trainer):
                self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_train_end(self, trainer, pl_module) -> None:
        """Save ``last.ckpt`` for the final step if no checkpoint of that step exists yet."""
        super().on_train_end(trainer, pl_module)
        if self.save_last and self._last_global_step_saved != trainer.global_step and not trainer.sanity_checking:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def _should_save_on_exception(self, trainer) -> bool:
        """Lightning's rule, except under multi-process training, where the save would wait for dead ranks.

        Saving calls a barrier; after one rank has failed the others never reach it (a deadlock until the
        process-group timeout). The last scheduled ``last.ckpt`` is kept instead.
        """
        if self.save_on_exception and trainer.world_size > 1:
            rank_zero_warn("checkpoint.save_on_exception is skipped under multi-process training (its barrier "
                           "would wait for the failed rank); the last scheduled last.ckpt is kept")
            return False
        return super()._should_save_on_exception(trainer)
