"""Reading and writing video: files through PyAV (FFmpeg's libraries in-process), folders of numbered frames.

PyAV decodes frame by frame in the process, reports a file without a video stream or with broken packets as
exceptions that name the reason, and encodes H.264 / VP9 / GIF for renders, with no external ffmpeg binary.
Frames are 8-bit: ``uint8 [T, H, W, C]``, C = 3 (RGB) or 1 (gray).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from inr.core.errors import InputError, MissingFileError
from inr.io.image_files import read_image

#: containers read as video files (any FFmpeg reads; these are the tested ones).
VIDEO_SUFFIXES = (".mp4", ".webm", ".avi", ".mkv", ".mov", ".gif")
#: image files read from a folder of numbered frames.
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
#: encoder and pixel format per render container.
ENCODERS = {".mp4": ("libx264", "yuv420p"), ".webm": ("libvpx-vp9", "yuv420p"), ".gif": ("gif", "rgb8"),
            ".avi": ("mpeg4", "yuv420p")}
#: encoder options of renders: high quality (a render is a result, not a preview).
ENCODER_OPTIONS = {"libx264": {"crf": "12"}, "libvpx-vp9": {"crf": "12", "b": "0"}, "mpeg4": {"qscale": "2"}}


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def resize_frame(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 [H, W, C] -> uint8 [h, w, C], bilinear and antialiased (as images are resized)."""
    if frame.shape[:2] == tuple(size):
        return frame
    tensor = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None].float()
    resized = F.interpolate(tensor, size=tuple(size), mode="bilinear", antialias=True, align_corners=False)
    return resized[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


def target_size(height: int, width: int, size: int | None) -> tuple[int, int]:
    """(height, width) with the longer side ``size`` (aspect ratio kept); unchanged for ``None``."""
    if size is None:
        return height, width
    scale = size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def _selected(index: int, start: int, stride: int) -> bool:
    return index >= start and (index - start) % stride == 0


def _to_gray(frame: np.ndarray) -> np.ndarray:
    """RGB uint8 [H, W, 3] -> luma (ITU-R BT.601) uint8 [H, W, 1]; gray frames unchanged."""
    if frame.shape[-1] == 1:
        return frame
    luma = frame[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.clip(np.round(luma), 0, 255).astype(np.uint8)[..., None]


def _collect(frames: Iterable[np.ndarray], path: Path, start: int, count: int | None, stride: int,
             size: int | None, gray: bool) -> np.ndarray:
    """Keep frames start, start + stride, ... (at most ``count``), resized and converted; [T, H, W, C] uint8."""
    kept: list[np.ndarray] = []
    shape: tuple[int, int] | None = None
    seen = 0
    for index, frame in enumerate(frames):
        seen = index + 1
        if shape is None:
            shape = frame.shape[:2]
        elif frame.shape[:2] != shape:
            raise InputError(f"{path}: frame {index} is {frame.shape[1]} x {frame.shape[0]}, frame 0 is "
                             f"{shape[1]} x {shape[0]}: the frames of a video share one size")
        if not _selected(index, start, stride):
            continue
        frame = _to_gray(frame) if gray else frame
        kept.append(resize_frame(frame, target_size(*frame.shape[:2], size)))
        if count is not None and len(kept) == count:
            break
    if not kept:
        raise InputError(f"{path} has {seen} frame(s); data start {start} and stride {stride} leave none")
    return np.stack(kept)


def _decoded_frames(path: Path, gray: bool) -> Iterator[np.ndarray]:
    """The frames of a video file as uint8 [H, W, 3] (or [H, W, 1]), one clear error for what cannot be read."""
    import av

    try:
        container = av.open(str(path))
    except Exception as error:  # PyAV raises FFmpeg's errors (InvalidDataError, ...): name the file and why
        raise InputError(f"cannot read video file {path}: not a readable video ({_reason(error)})") from None
    with container:
        if not container.streams.video:
            kinds = sorted({stream.type for stream in container.streams}) or ["nothing"]
            raise InputError(f"video file {path} has no video stream (it holds: {', '.join(kinds)})")
        stream = container.streams.video[0]
        declared = stream.frames
        decoded = 0
        try:
            for frame in container.decode(stream):
                decoded += 1
                pixels = frame.to_ndarray(format="gray" if gray else "rgb24")
                yield pixels[..., None] if pixels.ndim == 2 else pixels
        except InputError:
            raise
        except Exception as error:
            raise InputError(f"video file {path} is truncated or corrupt: decoding failed after {decoded} "
                             f"frame(s) ({_reason(error)})") from None
        if declared and decoded < declared:
            raise InputError(f"video file {path} is truncated: its header declares {declared} frames, "
                             f"{decoded} could be decoded")


def frame_rate(path: Path) -> float:
    """Frames per second of a video file (its stream's average rate)."""
    import av

    with av.open(str(path)) as container:
        rate = container.streams.video[0].average_rate
    return float(rate) if rate else 0.0


def numbered_frames(folder: Path) -> list[Path]:
    """The image files of ``folder`` sorted by the last number in their names (frame_2 before frame_10)."""
    files = [file for file in folder.iterdir() if file.is_file() and file.suffix.lower() in FRAME_SUFFIXES]
    if not files:
        raise InputError(f"no frames in the folder {folder} (looking for {', '.join(FRAME_SUFFIXES)})")

    def number(file: Path) -> tuple[int, str]:
        found = re.findall(r"\d+", file.stem)
        return (int(found[-1]) if found else -1, file.name)

    return sorted(files, key=number)


def _folder_frames(files: list[Path]) -> Iterator[np.ndarray]:
    for file in files:
        pixels = read_image(file)  # float [0, 1], with read_image's errors naming the frame file
        frame = np.round(pixels[..., :3] * 255).astype(np.uint8) if pixels.shape[-1] >= 3 else \
            np.round(pixels[..., :1] * 255).astype(np.uint8)
        if frame.shape[-1] == 1:
            frame = np.repeat(frame, 3, axis=-1)
        yield frame


def read_video(path: str | Path, start: int = 0, frames: int | None = None, stride: int = 1,
               size: int | None = None, gray: bool = False, folder_fps: float = 25.0) -> tuple[np.ndarray, float]:
    """A clip as uint8 [T, H, W, C] and its frame rate (frames per second).

    Args:
        path: a video file (MP4/WebM/AVI/MKV/MOV/GIF...) or a folder of numbered frame images.
        start: first frame kept (0-based).
        frames: most frames kept; ``None`` keeps all from ``start``.
        stride: keep every ``stride``-th frame from ``start``.
        size: resize every frame so its longer side is ``size`` pixels; ``None`` keeps the size.
        gray: one luma channel instead of RGB.
        folder_fps: the frame rate of a folder of frames (files have their own).

    The returned rate is the source's divided by ``stride`` (the kept frames' spacing in time).
    """
    for option, value, low in (("start", start, 0), ("stride", stride, 1), ("frames", frames, 1),
                               ("size", size, 1)):
        if value is not None and value < low:
            raise InputError(f"data {option} must be >= {low}, got {value}")
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"video file not found: {path}")
    if path.is_dir():
        if not folder_fps > 0:
            raise InputError(f"data fps must be > 0 for a folder of frames, got {folder_fps}")
        clip = _collect(_folder_frames(numbered_frames(path)), path, start, frames, stride, size, gray)
        return clip, folder_fps / stride
    if path.stat().st_size == 0:
        raise InputError(f"video file {path} is empty (0 bytes)")
    clip = _collect(_decoded_frames(path, gray), path, start, frames, stride, size, gray)
    rate = frame_rate(path)
    return clip, (rate if rate > 0 else folder_fps) / stride


def write_video(out: str | Path, frames: Iterable[np.ndarray], fps: float, size: tuple[int, int]) -> int:
    """Encode uint8 frames [H, W, C] (C = 1 or 3) of ``size`` = (height, width) to ``out`` by its extension.

    H.264 and VP9 need even sides: an odd side is padded by repeating the last row / column. Returns the frames.
    """
    import av

    suffix = Path(out).suffix.lower()
    if suffix not in ENCODERS:
        raise InputError(f"--out {out}: a video renders to one of {', '.join(ENCODERS)} (or frame_%04d.png)")
    codec, pixel_format = ENCODERS[suffix]
    height, width = size
    padded = (height + height % 2, width + width % 2) if pixel_format == "yuv420p" else (height, width)
    written = 0
    with av.open(str(out), mode="w", format={".gif": "gif", ".avi": "avi"}.get(suffix)) as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
        stream.height, stream.width = padded
        stream.pix_fmt = pixel_format
        stream.options = ENCODER_OPTIONS.get(codec, {})
        for frame in frames:
            rgb = np.repeat(frame, 3, axis=-1) if frame.shape[-1] == 1 else frame
            if padded != (height, width):
                rgb = np.pad(rgb, ((0, padded[0] - height), (0, padded[1] - width), (0, 0)), mode="edge")
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")):
                container.mux(packet)
            written += 1
        for packet in stream.encode():
            container.mux(packet)
    return written
