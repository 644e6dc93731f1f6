"""Image files read as float32 [H, W, C] in [0, 1], with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from inr.core.errors import InputError
from inr.io.files import input_file

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: extensions of sounds and videos (GIF aside): not images, whatever plugin imageio tries on them.
SOUND_AND_VIDEO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".mp4", ".webm", ".avi", ".mkv", ".mov")

def png_bit_depth(path: Path) -> int | None:
    """Bit depth from a PNG's IHDR chunk, or None when the file is no PNG."""
    with open(path, "rb") as file:
        head = file.read(26)
    if len(head) < 26 or not head.startswith(PNG_SIGNATURE):
        return None
    return head[24]


def _read_png16(path: Path) -> np.ndarray:
    """Read a 16-bit PNG with pypng (imageio's Pillow reader truncates 16-bit colour PNGs to 8 bits)."""
    import png

    width, height, rows, info = png.Reader(filename=str(path)).asDirect()
    pixels = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows])
    return pixels.reshape(height, width, info["planes"])


def read_image(path: str | Path) -> np.ndarray:
    """Read any image imageio can (PNG/JPEG/TIFF...; gray, RGB, RGBA; 8/16-bit) as float32 [H, W, C] in [0, 1].

    Integer images are normalised by their true bit depth; float images must already lie in [0, 1].
    """
    path = input_file(path, "image file")
    try:
        if png_bit_depth(path) == 16:
            pixels = _read_png16(path)
        else:
            import imageio.v3 as iio

            pixels = iio.imread(path)
    except Exception as error:  # imageio/pypng raise many types; the user needs the file name and the reason
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        # imageio's words for "no plugin knows this content/extension"; a sound or video extension goes to its PyAV
        # plugin, whose failure on a non-video says nothing useful
        if "Could not find a backend" in reason or path.suffix.lower() in SOUND_AND_VIDEO_SUFFIXES:
            reason = f"no image reader accepts its content or its {path.suffix or 'missing'!r} extension"
        raise InputError(f"cannot read image file {path}: not a readable image ({reason})") from None
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or not 1 <= pixels.shape[-1] <= 4 or min(pixels.shape[:2]) < 1:
        raise InputError(f"image file {path} has shape {pixels.shape}; expected [H, W] or [H, W, C] with C in 1..4")
    if pixels.dtype == np.bool_:
        return pixels.astype(np.float32)
    if np.issubdtype(pixels.dtype, np.integer):
        return pixels.astype(np.float32) / np.iinfo(pixels.dtype).max
    pixels = pixels.astype(np.float32)
    if not np.isfinite(pixels).all() or pixels.min() < 0 or pixels.max() > 1:
        raise InputError(f"image file {path} holds floats outside [0, 1] (or NaN/inf); rescale it first")
    return pixels
