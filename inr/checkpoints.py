"""ModelCheckpoint that writes ``last.ckpt`` on schedule from the first step and at the end of fitting."""

from __future__ import annotations

from lightning.pytorch.callbacks import ModelCheckpoint


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
