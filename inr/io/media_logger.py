"""Media of a validation (pictures, sounds, meshes), asked of the DataModule and logged on rank zero.

The DataModule turns an :class:`inr.core.evaluation.Evaluation` into its signal's natural form (``media``), after the
callback evaluated the model at the extra points the DataModule names (``media_coords``, e.g. SDF slices); the
callback sends the result to every logger that can take it (W&B: images, audio, 3D objects).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import lightning as L
from torch import Tensor

from inr.core.media import Media, Picture, Shape, Sound, Video


def log_media(logger: Any, items: list[Media], step: int) -> None:
    """Send ``items`` to ``logger`` at x = ``step``; kinds the logger cannot show are skipped."""
    for item in items:
        if isinstance(item, Picture) and hasattr(logger, "log_image"):
            logger.log_image(key=item.key, images=item.images, step=step, caption=item.captions or None)
        elif isinstance(item, Sound) and hasattr(logger, "log_audio"):
            logger.log_audio(key=item.key, audios=[item.samples], step=step, sample_rate=[item.sample_rate],
                             caption=[item.caption])
        elif isinstance(item, Video) and hasattr(logger, "log_video"):
            from inr.io.video_files import write_video

            # W&B takes a clip from a file without extra encoders: encode it into the run's own folder
            folder = Path(logger.experiment.dir) / "inr_media"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{item.key.replace('/', '_')}_{step}.mp4"
            write_video(path, list(item.frames), item.fps, item.frames.shape[1:3])
            logger.log_video(key=item.key, videos=[str(path)], step=step, caption=[item.caption])
            path.unlink(missing_ok=True)  # W&B has copied it into the run's media
        elif isinstance(item, Shape) and hasattr(getattr(logger, "experiment", None), "log"):
            import wandb

            obj = wandb.Object3D(io.StringIO(item.mesh.export(file_type="obj")), file_type="obj")
            logger.experiment.log({item.key: obj}, commit=False)  # goes with the next commit: this step


class MediaLogger(L.Callback):
    """After each validation step on rank zero (not the sanity check), log the DataModule's media of it."""

    def on_validation_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Ask the DataModule for the media of ``pl_module.last_evaluation`` and log them."""
        evaluation, pl_module.last_evaluation = getattr(pl_module, "last_evaluation", None), None
        datamodule = trainer.datamodule
        if (evaluation is None or not trainer.is_global_zero or trainer.sanity_checking or not trainer.loggers
                or not hasattr(datamodule, "media")):
            return
        extra: dict[str, Tensor] = {
            name: pl_module.predict_values(coords) for name, coords in datamodule.media_coords().items()
        }
        items = datamodule.media(evaluation, extra)
        for logger in trainer.loggers:
            log_media(logger, items, evaluation.step)
