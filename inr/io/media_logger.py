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
    """After each validation step, log the module's media of it (rank zero, with a logger, not the sanity check).

    The module says what its media are (``validation_media(trainer, wanted)``: INRModule asks the DataModule to
    picture its evaluation, the meta-learning methods the held-out crops beside their reconstructions).
    """

    def on_validation_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        """Log the media of the validation step just run."""
        wanted = trainer.is_global_zero and not trainer.sanity_checking and bool(trainer.loggers)
        items = pl_module.validation_media(trainer, wanted)
        for logger in trainer.loggers if wanted else []:
            log_media(logger, items, pl_module.global_step)
