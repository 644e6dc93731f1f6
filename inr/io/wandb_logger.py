"""Weights & Biases logger that never needs an account or a network.

Offline unless the user opts in: ``WANDB_MODE=online`` (after ``wandb login``), or ``WANDB_API_KEY`` set with
``WANDB_MODE`` unset. Offline runs land in ``<save_dir>/wandb/offline-run-*`` and upload later with
``wandb sync <save_dir>/wandb/offline-run-*``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from lightning.pytorch.loggers import WandbLogger as LightningWandbLogger
from lightning.pytorch.utilities import rank_zero_only

from inr.core.atomic import atomic_output


def online_requested() -> bool:
    """True when the environment asks for online W&B logging."""
    mode = os.environ.get("WANDB_MODE", "").strip().lower()
    if mode:
        return mode == "online"
    return bool(os.environ.get("WANDB_API_KEY"))


class WandbLogger(LightningWandbLogger):
    """Lightning's WandbLogger with inr's defaults: project ``inr``, offline unless online is requested.

    Args:
        project: W&B project name.
        name: display name of the run (W&B picks one when ``None``).
        save_dir: folder that receives ``wandb/``; ``inr fit`` sets it to ``trainer.default_root_dir``.
        version: run id; set to resume a run (``inr fit --ckpt_path last`` does it for you).
        offline: force offline (True) or online (False); ``None`` decides from the environment.
        group: W&B group, to compare runs side by side.
        tags: W&B tags.
    """

    def __init__(
        self,
        project: str = "inr",
        name: str | None = None,
        save_dir: str | None = None,
        version: str | None = None,
        offline: bool | None = None,
        group: str | None = None,
        tags: list[str] | None = None,
    ) -> None:
        offline = not online_requested() if offline is None else offline
        if offline:
            os.environ["WANDB_MODE"] = "offline"
        if save_dir is not None:
            os.makedirs(save_dir, exist_ok=True)
        super().__init__(
            project=project, name=name, save_dir=save_dir or ".", version=version, offline=offline,
            group=group, tags=tags, settings={"silent": True, "console": "off"} if offline else None,
        )
        # Lightning always passes ``anonymous`` (None by default), which W&B now warns about on every run
        self._wandb_init.pop("anonymous", None)
        self._logged_up_to: int | None = None
        self._current_step: int | None = None

    def _step_file(self) -> Path:
        return Path(self.save_dir or ".") / "wandb" / f"{self.version}.last_step"

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log at x = ``step``, skipping steps this run id already logged before a crash and resume.

        Resume is exact, so the skipped values equal those already in the run; W&B cannot rewind a step.
        """
        if step is not None:
            if self._logged_up_to is None:
                text = self._step_file().read_text().strip() if self._step_file().is_file() else ""
                self._logged_up_to = int(text) if text.isdigit() else -1
            if step <= self._logged_up_to and not self._logging_this_step(step):
                return
        super().log_metrics(metrics, step)
        if step is not None and step > self._logged_up_to:
            self._logged_up_to = step
            self._current_step = step
            with atomic_output(self._step_file()) as temporary:  # a kill mid-write never leaves an empty record
                temporary.write_text(str(step))

    def _logging_this_step(self, step: int) -> bool:
        """True for further metrics of the step this process is logging now (e.g. media after val/psnr)."""
        return step == self._current_step

    @property
    def offline(self) -> bool:
        """Whether the run is stored locally only."""
        return self._offline
