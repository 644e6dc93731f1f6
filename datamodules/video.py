"""Video as a signal: f(t, y, x) -> channels, fitted from real video files.

SIREN's video fit (Sitzmann et al. 2020, supplement Sec. 7: "bikes", 0.38% of the pixels per step) on inr's
conventions: coordinate 0 is t (frame), 1 is y (row), 2 is x (column), each ``linspace(-1, 1)`` over the kept
frames / rows / columns; values in [-1, 1].

Memory: the decoded clip stays ``uint8 [T, H, W, C]`` on the training device; a batch draws point indices in
[0, T H W) from the (seed, step, rank) generator and computes their coordinates and values from the indices there,
so no coordinate grid of the clip is ever materialised (43.5M points for the full bikes clip). Validation evaluates
a fixed subset of frames (``val_frames``); its metrics are the per-frame PSNR and SSIM, averaged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from datamodules.base import SignalDataModule, sampling_seed
from inr.core.atomic import atomic_output
from inr.core.error_maps import error_caption, error_map, round_scale
from inr.core.errors import InputError
from inr.core.evaluation import Evaluation
from inr.core.media import Media, Picture, Video
from inr.core.signal import SignalSpec
from inr.io.video_files import ENCODERS, read_video, resize_frame, target_size, write_video

#: the built-in clip when no path is given: a 24-frame, 32 x 48 pattern moving right.
SYNTHETIC_SOURCE = "synthetic moving pattern"
#: random points per training step by default.
DEFAULT_BATCH = 16384


def synthetic_clip(frames: int = 24, height: int = 32, width: int = 48) -> np.ndarray:
    """A labelled test clip: stripes and a disc moving over a gradient, uint8 [T, H, W, 3]."""
    t, y, x = np.meshgrid(np.arange(frames), np.arange(height), np.arange(width), indexing="ij")
    stripes = 0.5 + 0.5 * np.sin(2 * np.pi * (x - 1.5 * t) / 12)
    disc = ((x - 8 - t) ** 2 + (y - height / 2) ** 2 < 36).astype(float)
    clip = np.stack([stripes, y / (height - 1), np.clip(disc + 0.2 * stripes, 0, 1)], axis=-1)
    return np.round(clip * 255).astype(np.uint8)


def frame_axis(count: int) -> Tensor:
    """The position in [-1, 1] of each of ``count`` samples along one axis (0 for a single sample)."""
    if count == 1:
        return torch.zeros(1)
    return torch.linspace(-1.0, 1.0, count)


def index_coords(index: Tensor, shape: tuple[int, int, int]) -> Tensor:
    """Point indices [B] (row-major over (t, y, x)) -> coordinates [B, 3] in [-1, 1], computed where ``index`` is."""
    frames, height, width = shape
    t, rest = index // (height * width), index % (height * width)
    y, x = rest // width, rest % width
    coords = torch.stack([t, y, x], dim=-1).float()
    scale = torch.tensor([max(size - 1, 1) for size in shape], device=index.device, dtype=torch.float32)
    centre = torch.tensor([0.0 if size == 1 else 1.0 for size in shape], device=index.device)
    return coords * (2 / scale) - centre


class VideoDataModule(SignalDataModule):
    """A clip as a signal f(t, y, x) -> C channels.

    Args:
        path: video file (MP4/WebM/AVI/MKV/MOV/GIF) or a folder of numbered frames (PNG/JPEG...); ``None`` uses a
            built-in 24-frame synthetic clip.
        start: first frame kept (0-based).
        frames: most frames kept; ``None`` keeps all from ``start``.
        stride: keep every ``stride``-th frame (the clip's frame rate is divided by it).
        size: resize every frame so its longer side has this many pixels; ``None`` keeps the size.
        gray: fit one luma channel instead of RGB.
        fps: frame rate of a folder of frames (a file has its own).
        batch_size: random points per training step; ``None`` uses every point every step (full batch).
        seed: seed of the batch sampler; ``None`` takes the run's ``seed_everything``.
        val_frames: frames (0-based, of the kept clip) validation evaluates, or how many evenly spaced ones.
    """

    kind = "video"

    def __init__(
        self,
        path: str | None = None,
        start: int = 0,
        frames: int | None = None,
        stride: int = 1,
        size: int | None = None,
        gray: bool = False,
        fps: float = 25.0,
        batch_size: int | None = DEFAULT_BATCH,
        seed: int | None = None,
        val_frames: int | list[int] = 4,
    ) -> None:
        super().__init__(batch_size=batch_size, seed=seed)
        self.path = path
        if path is None:
            clip = synthetic_clip()
            if gray:
                clip = np.round(clip.astype(np.float32) @ np.array([0.299, 0.587, 0.114])).astype(np.uint8)[..., None]
            selected = clip[start::stride][:frames]
            if len(selected) == 0:
                raise InputError(f"the synthetic clip has {len(clip)} frames; data start {start} and stride {stride} "
                                 "leave none")
            size_hw = target_size(*selected.shape[1:3], size)
            self.clip = np.stack([resize_frame(frame, size_hw) for frame in selected])
            self.fps = fps / stride
        else:
            self.clip, self.fps = read_video(path, start, frames, stride, size, gray, fps)
        self.frames, self.height, self.width, self.channels = self.clip.shape
        self.start, self.stride = start, stride
        self.val_frames = self._validation_frames(val_frames)

    def _validation_frames(self, val_frames: int | list[int]) -> list[int]:
        """The frames validation evaluates: as given, or ``val_frames`` evenly spaced ones."""
        if isinstance(val_frames, int):
            if val_frames < 1:
                raise InputError(f"data val_frames must be >= 1 frame (or a list of frames), got {val_frames}")
            count = min(val_frames, self.frames)
            return sorted({round(i * (self.frames - 1) / max(count - 1, 1)) for i in range(count)})
        chosen = sorted(set(int(frame) for frame in val_frames))
        bad = [frame for frame in chosen if not 0 <= frame < self.frames]
        if not chosen or bad:
            raise InputError(f"data val_frames {list(val_frames)}: frames must be in 0..{self.frames - 1} (the clip "
                             f"keeps {self.frames} frames)")
        return chosen

    @property
    def shape(self) -> tuple[int, int, int]:
        """(frames, height, width) of the kept clip."""
        return self.frames, self.height, self.width

    def on_device(self, device: torch.device) -> dict[str, Tensor]:
        """The clip as uint8 ``[T, H, W, C]`` on ``device``, copied once (no coordinates)."""
        clip = self._on_device.get("clip")
        if clip is None or clip.device != device:
            self._on_device = {"clip": torch.from_numpy(self.clip).to(device)}
        return self._on_device

    def points(self, index: Tensor, device: torch.device) -> dict[str, Tensor]:
        """``coords [B, 3]`` and ``values [B, C]`` in [-1, 1] of the point indices ``index`` [B]."""
        clip = self.on_device(device)["clip"]
        values = clip.reshape(-1, self.channels)[index].float() * (2 / 255) - 1
        return {"coords": index_coords(index, self.shape), "values": values}

    def sample(self, device: torch.device, step: int, rank: int) -> dict[str, Tensor]:
        """A training batch: ``coords [B, 3]`` and ``values [B, C]``.

        ``batch_size`` random points (with replacement) from the (seed, step, rank) generator, or every point (every
        world-th one on each rank under DDP).
        """
        count = self.frames * self.height * self.width
        if self.batch_size is None:
            world = self.trainer.world_size if self.trainer is not None else 1
            if count < world:
                raise InputError(f"full-batch training on {world} processes needs at least {world} points; the clip "
                                 f"has {count}")
            return self.points(torch.arange(rank, count, world, device=device), device)
        generator = torch.Generator(device=device).manual_seed(sampling_seed(self.seed, step, rank))
        index = torch.randint(count, (self.batch_size,), generator=generator, device=device)
        return self.points(index, device)

    def validation_batch(self, device: torch.device) -> dict[str, Tensor]:
        """The points of the validation frames, frame after frame: ``coords [F H W, 3]``, ``values``."""
        pixels = self.height * self.width
        frames = torch.tensor(self.val_frames, device=device)
        index = (frames[:, None] * pixels + torch.arange(pixels, device=device)[None]).reshape(-1)
        return self.points(index, device)

    @property
    def signal_spec(self) -> SignalSpec:
        """Dims, (frames, height, width), frame rate and validation frames, saved in the checkpoint."""
        return self.spec(3, self.channels, shape=self.shape, source=self.path or SYNTHETIC_SOURCE,
                         meta={"fps": self.fps, "val_frames": list(self.val_frames), "start": self.start,
                               "stride": self.stride})

    def media(self, evaluation: Evaluation, extra: dict[str, Tensor]) -> list[Media]:
        """The validation frames as a video, reconstruction beside ground truth, and a strip of |error| maps.

        The strip's |error| is of the 8-bit frames, in magma on a stated scale (:mod:`inr.core.error_maps`), with
        each frame's PSNR when the metric computed it.
        """
        count = len(self.val_frames)
        shape = (count, self.height, self.width, self.channels)
        predicted = values_to_frames(evaluation.prediction, shape)
        truth = self.clip[self.val_frames]
        side_by_side = np.concatenate([predicted, truth], axis=2)
        errors = np.abs(predicted.astype(np.float32) - truth.astype(np.float32)).mean(axis=-1) / 255.0
        scale = round_scale(errors)
        strip = error_map(np.concatenate(list(errors), axis=1), scale)
        caption = f"frames {self.val_frames}: {error_caption(scale)}"
        per_frame = evaluation.extras.get("psnr_per_frame")
        if per_frame is not None:
            caption += ", PSNR per frame " + ", ".join(f"{float(value):.2f}" for value in per_frame) + " dB"
        return [Video("val/video", side_by_side, fps=max(1.0, self.fps / max(1, self._spacing())),
                      caption=f"frames {self.val_frames}: reconstruction | ground truth"),
                Picture("val/error_strip", [strip], [caption])]

    def _spacing(self) -> int:
        frames = self.val_frames
        return frames[1] - frames[0] if len(frames) > 1 else 1

    @staticmethod
    def render_to_file(predict: Callable[[Tensor], Tensor], spec: SignalSpec, out: str, resolution: int | None,
                       fps: float | None = None, frame_size: tuple[int, int] | None = None) -> str:
        """Evaluate the clip frame by frame and write it: a video file, or frames by a ``%d`` pattern.

        ``frame_size`` (width, height) sets the frames' size, any aspect ratio; else ``resolution`` is their longer
        side (default the training size). ``fps`` is the output frame rate
        (default the clip's): the same duration at another rate evaluates the frames in between.
        """
        frames, height, width = spec.shape
        clip_fps = float(spec.meta.get("fps", 25.0))
        fps = clip_fps if fps is None else fps
        if not fps > 0:
            raise InputError(f"--fps must be > 0, got {fps}")
        pattern = "%" in Path(out).name
        if pattern and not re.fullmatch(r"[^%]*%0?\d*d[^%]*", Path(out).name):
            raise InputError(f"--out {out}: a frame pattern needs one integer field such as %04d")
        if pattern:
            if Path(out).suffix.lower() not in (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"):
                raise InputError(f"--out {out}: frames render to .png/.jpg/.bmp/.tif files")
        elif Path(out).suffix.lower() not in ENCODERS:
            raise InputError(f"--out {out}: a video renders to one of {', '.join(ENCODERS)} (or frame_%04d.png)")
        if resolution is not None and resolution < 1:
            raise InputError(f"--resolution must be >= 1, got {resolution}")
        if frame_size is not None and min(frame_size) < 1:
            raise InputError(f"--frame-size must be WIDTHxHEIGHT with both >= 1, got {frame_size[0]}x{frame_size[1]}")
        size = (frame_size[1], frame_size[0]) if frame_size is not None else target_size(height, width, resolution)
        count = max(1, round((frames - 1) * fps / clip_fps) + 1) if frames > 1 else 1
        rows, cols = frame_axis(size[0]), frame_axis(size[1])
        plane = torch.stack(torch.meshgrid(rows, cols, indexing="ij"), dim=-1).reshape(-1, 2)

        def rendered():
            from tqdm.auto import tqdm

            for t in tqdm(frame_axis(count), desc="frames"):
                coords = torch.cat([torch.full((plane.shape[0], 1), float(t)), plane], dim=1)
                yield values_to_frames(predict(coords), (1, *size, spec.out_dim))[0]

        if pattern:
            return _write_frames(out, rendered(), count, size)
        with atomic_output(out) as temporary:
            written = write_video(temporary, rendered(), fps, size)
        return f"wrote {out}: {written} frames of {size[1]} x {size[0]} at {fps:g} fps"


def values_to_frames(values: Tensor, shape: tuple[int, int, int, int]) -> np.ndarray:
    """Values [N, C] in [-1, 1] -> uint8 frames of ``shape`` = (T, H, W, C), clipped."""
    unit = ((values.detach().float().cpu() + 1) / 2).clamp(0, 1).reshape(shape)
    return (unit * 255).round().to(torch.uint8).numpy()


def _write_frames(pattern: str, frames, count: int, size: tuple[int, int]) -> str:
    """Write numbered frame images; each file appears whole (written beside, then renamed)."""
    from datamodules.image import write_png

    for index, frame in enumerate(frames):
        write_png(pattern % index, frame)
    return f"wrote {count} frames of {size[1]} x {size[0]} to {pattern}"
