"""Images as signals: f(x, y) -> channels, with coordinates on a [-1, 1] grid and values in [-1, 1].

The coordinate layout follows SIREN's image fitting (Sitzmann et al. 2020): ``linspace(-1, 1)`` along each
axis, coordinate 0 is x (column), coordinate 1 is y (row); points are in row-major pixel order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from datamodules.base import SignalDataModule

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_bit_depth(path: Path) -> int | None:
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
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"image file {path} is empty (0 bytes)")
    try:
        if _png_bit_depth(path) == 16:
            pixels = _read_png16(path)
        else:
            import imageio.v3 as iio

            pixels = iio.imread(path)
    except Exception as error:  # imageio/pypng raise many types; the user needs the file name and the reason
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(f"cannot read image file {path}: not a readable image ({reason})") from None
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.ndim != 3 or not 1 <= pixels.shape[-1] <= 4 or min(pixels.shape[:2]) < 1:
        raise ValueError(f"image file {path} has shape {pixels.shape}; expected [H, W] or [H, W, C] with C in 1..4")
    if pixels.dtype == np.bool_:
        return pixels.astype(np.float32)
    if np.issubdtype(pixels.dtype, np.integer):
        return pixels.astype(np.float32) / np.iinfo(pixels.dtype).max
    pixels = pixels.astype(np.float32)
    if not np.isfinite(pixels).all() or pixels.min() < 0 or pixels.max() > 1:
        raise ValueError(f"image file {path} holds floats outside [0, 1] (or NaN/inf); rescale it first")
    return pixels


def sample_image() -> np.ndarray:
    """scikit-image's cameraman (512 x 512, 8-bit gray) as float32 [H, W, 1] in [0, 1]."""
    from skimage import data

    return data.camera().astype(np.float32)[..., None] / 255.0


def resize_longer_side(pixels: np.ndarray, size: int) -> np.ndarray:
    """Bilinear, antialiased resize of [H, W, C] so the longer side is ``size`` (aspect ratio kept)."""
    height, width = pixels.shape[:2]
    scale = size / max(height, width)
    target = (max(1, round(height * scale)), max(1, round(width * scale)))
    if target == (height, width):
        return pixels
    image = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None]
    resized = F.interpolate(image, size=target, mode="bilinear", antialias=True, align_corners=False)
    return resized[0].permute(1, 2, 0).clamp(0, 1).numpy()


def pixel_grid(height: int, width: int) -> Tensor:
    """Coordinates of an H x W grid on [-1, 1]^2 in row-major order, [H * W, 2] as (x, y)."""
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, height), torch.linspace(-1, 1, width), indexing="ij")
    return torch.stack([xs, ys], dim=-1).reshape(-1, 2)


def output_size(spec: dict[str, Any], resolution: int | None) -> tuple[int, int]:
    """(height, width) of a render whose longer side is ``resolution`` (default: the training size)."""
    height, width = spec["height"], spec["width"]
    if resolution is None:
        return height, width
    if resolution < 1:
        raise ValueError(f"--resolution must be >= 1, got {resolution}")
    scale = resolution / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def values_to_pixels(values: Tensor, height: int, width: int, bit_depth: int = 8) -> np.ndarray:
    """Values [H * W, C] in [-1, 1] -> integer pixels [H, W, C] (uint8 or uint16), clipped."""
    unit = ((values.detach().float().cpu().reshape(height, width, -1) + 1) / 2).clamp(0, 1)
    top = 2**bit_depth - 1
    dtype = np.uint16 if bit_depth == 16 else np.uint8
    return (unit * top).round().numpy().astype(dtype)


def write_png(path: str | Path, pixels: np.ndarray) -> None:
    """Write [H, W, C] uint8/uint16 pixels as PNG (16-bit through pypng)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if pixels.dtype == np.uint16:
        import png

        height, width, channels = pixels.shape
        writer = png.Writer(width, height, greyscale=channels in (1, 2), alpha=channels in (2, 4), bitdepth=16)
        with open(path, "wb") as file:
            writer.write(file, pixels.reshape(height, width * channels).tolist())
        return
    import imageio.v3 as iio

    iio.imwrite(path, pixels[..., 0] if pixels.shape[-1] == 1 else pixels)


class ImageDataModule(SignalDataModule):
    """An image as a signal f(x, y) -> C channels.

    Args:
        path: image file (PNG/JPEG/TIFF..., gray/RGB/RGBA, 8/16-bit); ``None`` uses scikit-image's cameraman.
        size: resize (bilinear, antialiased) so the longer side has this many pixels; ``None`` keeps the size.
        batch_size: random pixels per training step; ``None`` uses every pixel every step (full batch).
        seed: seed of the batch sampler; ``None`` takes the run's ``seed_everything``.
    """

    kind = "image"

    def __init__(
        self, path: str | None = None, size: int | None = None, batch_size: int | None = None, seed: int | None = None
    ) -> None:
        super().__init__(batch_size=batch_size, seed=seed)
        if size is not None and size < 1:
            raise ValueError(f"data size must be >= 1 pixel, got {size}")
        self.path = path
        pixels = sample_image() if path is None else read_image(path)
        self.bit_depth = 16 if path is not None and _png_bit_depth(Path(path)) == 16 else 8
        self.pixels = pixels if size is None else resize_longer_side(pixels, size)
        self.height, self.width, self.channels = self.pixels.shape

    def signal_tensors(self) -> dict[str, Tensor]:
        """``coords [H*W, 2]`` in [-1, 1] and ``values [H*W, C]`` in [-1, 1]."""
        values = torch.from_numpy(self.pixels).reshape(-1, self.channels) * 2 - 1
        return {"coords": pixel_grid(self.height, self.width), "values": values}

    @property
    def signal_spec(self) -> dict[str, Any]:
        """Dims, size and value range of the image, saved in the checkpoint."""
        return {
            "kind": self.kind,
            "datamodule": f"{type(self).__module__}.{type(self).__qualname__}",
            "in_dim": 2,
            "out_dim": self.channels,
            "value_range": [-1.0, 1.0],
            "height": self.height,
            "width": self.width,
            "bit_depth": self.bit_depth,
            "source": self.path or "skimage.data.camera",
        }

    def log_media(self, logger: Any, prediction: Tensor, step: int) -> None:
        """Log the reconstruction and its absolute error map (uint8 pictures) when the logger takes images."""
        if not hasattr(logger, "log_image"):
            return
        reconstruction = values_to_pixels(prediction, self.height, self.width)
        target = torch.from_numpy(self.pixels).to(prediction.device).reshape(-1, self.channels) * 2 - 1
        error = (prediction.detach().clamp(-1, 1) - target).abs().mean(dim=-1, keepdim=True)
        error_map = values_to_pixels(error * 2 - 1, self.height, self.width)  # |error| of 1 (half range) is white
        logger.log_image(
            key="val/reconstruction", images=[_squeeze(reconstruction), _squeeze(error_map)],
            step=step, caption=["reconstruction", "|error|"],
        )

    @staticmethod
    def render_to_file(predict: Callable[[Tensor], Tensor], spec: dict[str, Any], out: str, resolution: int | None) -> str:
        """Evaluate ``predict`` on a grid whose longer side is ``resolution`` and write a PNG to ``out``."""
        height, width = output_size(spec, resolution)
        values = predict(pixel_grid(height, width))
        write_png(out, values_to_pixels(values, height, width, spec.get("bit_depth", 8)))
        return f"wrote {out}: {width} x {height} image, {spec['out_dim']} channel(s)"


def _squeeze(pixels: np.ndarray) -> np.ndarray:
    return pixels[..., 0] if pixels.shape[-1] == 1 else pixels
