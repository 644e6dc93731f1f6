"""Fit a config through inr's CLI, as a user would, while recording validation metrics at every validation."""

from __future__ import annotations

import time

from lightning.pytorch.callbacks import Callback

from inr.cli import build_cli


class ValidationRecorder(Callback):
    """Collects ``(step, value of each key)`` after each validation (sanity checks excluded)."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys
        self.rows: list[tuple[int, ...]] = []

    def on_validation_end(self, trainer, pl_module) -> None:
        metrics = trainer.callback_metrics
        if not trainer.sanity_checking and all(key in metrics for key in self.keys):
            self.rows.append((trainer.global_step, *(float(metrics[key]) for key in self.keys)))


def recorded_fit(args: list[str], keys: list[str], steps: int) -> tuple[list[tuple[int, ...]], float]:
    """Runs ``inr fit ARGS`` for ``steps`` steps (no progress bar); returns the recorded rows and s/step.

    ``args`` must not set ``--trainer.max_steps`` (``steps`` does); seconds per step include validation.
    """
    cli = build_cli([*args, "--trainer.max_steps", str(steps), "--trainer.enable_progress_bar", "false"], run=False)
    recorder = ValidationRecorder(keys)
    cli.trainer.callbacks.append(recorder)
    start = time.perf_counter()
    cli.trainer.fit(cli.model, cli.datamodule)
    seconds = (time.perf_counter() - start) / steps
    if cli.trainer.logger is not None:
        cli.trainer.logger.experiment.finish()
    return recorder.rows, seconds
