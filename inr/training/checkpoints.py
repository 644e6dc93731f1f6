"""ModelCheckpoint that writes ``last.ckpt`` on schedule from the first step and at the end of fitting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_warn

from inr.compat import migrate_class_paths
from inr.core.errors import InputError


def read_checkpoint(path: str | Path, name: str | None = None) -> dict[str, Any]:
    """The contents of checkpoint ``path`` (weights-only load on the CPU), or one clear ``ValueError``.

    ``name`` is how the error names the file (default: the path), e.g. ``"--ckpt_path runs/x.ckpt"``. Class paths of
    an earlier layout in its hyper-parameters are given as they are now (:func:`inr.compat.migrate_class_paths`).
    """
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(checkpoint, dict) and "hyper_parameters" in checkpoint:
            checkpoint["hyper_parameters"] = migrate_class_paths(checkpoint["hyper_parameters"])
        return checkpoint
    except Exception as error:  # noqa: BLE001 - any unreadable file: say which and why, in one line
        first_sentence = (str(error).strip().splitlines() or [""])[0].split(". ")[0]
        raise InputError(f"{name or path} is not a readable checkpoint "
                         f"(torch.load failed: {type(error).__name__}: {first_sentence})") from None


class Checkpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint (same options), plus a final ``last.ckpt`` at the end of fitting.

    With ``every_n_train_steps`` set, Lightning saves only at multiples of it, so a run of 30 steps saved every
    4 would end with a checkpoint of step 28; ``inr render`` and resumes expect the final weights.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rank_at_validation = False

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        """Save ``last.ckpt`` every ``every_n_train_steps``; rank a monitored checkpoint after its validation.

        Lightning (2.6) ranks a scheduled checkpoint by ``monitor`` at train-batch end, which runs before that
        step's validation: the kept "best" file held step-k weights ranked (and named) by step k - interval's
        value. A monitored save is therefore deferred to the next validation's end, which scores these
        weights. ``last.ckpt`` is still written here (Lightning defers every save under manual optimisation
        until ``monitor`` exists, which would leave a run killed before its first validation with nothing).
        """
        every = self._every_n_train_steps
        scheduled = every >= 1 and trainer.global_step % every == 0
        if self.monitor is None or not scheduled:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        elif not self._should_skip_saving_checkpoint(trainer):
            self._rank_at_validation = True
        if self.save_last and scheduled and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_validation_end(self, trainer, pl_module) -> None:
        """Rank (and name) the deferred checkpoint by the validation that just scored its weights."""
        super().on_validation_end(trainer, pl_module)
        # not _should_skip_saving_checkpoint: last.ckpt of this very step was written at train-batch end
        if self._rank_at_validation and self._fitting(trainer):
            candidates = self._monitor_candidates(trainer)
            self._save_topk_checkpoint(trainer, candidates)
            self._save_last_checkpoint(trainer, candidates)
            self._rank_at_validation = False

    @staticmethod
    def _fitting(trainer) -> bool:
        """Whether this is a fit that writes checkpoints (not a sanity check, fast_dev_run, or validate run)."""
        from lightning.pytorch.trainer.states import TrainerFn

        return not trainer.fast_dev_run and trainer.state.fn == TrainerFn.FITTING and not trainer.sanity_checking

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
