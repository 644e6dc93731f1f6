"""Images as signals: f(x, y) -> channels, with coordinates on a [-1, 1] grid and values in [-1, 1] (or any range).

The coordinate layout follows SIREN's image fitting (Sitzmann et al. 2020, ``get_mgrid``): ``linspace(-1, 1)``
along each axis, coordinate 0 is y (row, growing downwards), coordinate 1 is x (column); points are in row-major
pixel order. With the same seed, inr's SIREN then starts from exactly the official notebook's weights and data.

Targets: ``values`` (the pixels mapped linearly onto ``value_range``, [-1, 1] by default) and, for derivative
supervision (SIREN Sec. 4.1, Poisson reconstruction), Sobel ``gradients`` and 5-point ``laplacians`` of the
values, scaled to the units of the [-1, 1] coordinates so that they compare directly with the network's autograd
derivatives. Only the targets the losses
and metrics ask for are computed (``GradientLoss`` asks for ``gradients``, ``LaplacianLoss`` for ``laplacians``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from datamodules.base import SignalDataModule
from inr.core import grids
from inr.core.atomic import atomic_output
from inr.core.error_maps import error_caption, error_map, psnr_db, round_scale
from inr.core.errors import InputError
from inr.core.evaluation import Evaluation
from inr.core.media import Media, Picture
from inr.core.signal import SignalSpec
from inr.io.image_files import png_bit_depth, read_image

#: file types ``inr render`` writes 8-bit images to (16-bit ones: PNG only, through pypng).
RENDER_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

# Sobel = (central difference f(i+1) - f(i-1), i.e. 2 f') x (smoothing [1, 2, 1], sum 4): 8 x the derivative per pixel.
SOBEL_GAIN = 8.0


def sample_image() -> np.ndarray:
    """scikit-image's cameraman (512 x 512, 8-bit gray) as float32 [H, W, 1] in [0, 1]."""
    from skimage import data

    return data.camera().astype(np.float32)[..., None] / 255.0


def resize_longer_side(pixels: np.ndarray, size: int) -> np.ndarray:
    """Bilinear, antialiased resize of [H, W, C] so the longer side is ``size`` (aspect ratio kept)."""
    height, width = pixels.shape[:2]
    scale = size / max(height, width)
    return resize_to(pixels, (max(1, round(height * scale)), max(1, round(width * scale))))


def resize_to(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear, antialiased resize of [H, W, C] to exactly ``size`` = (height, width)."""
    if tuple(pixels.shape[:2]) == tuple(size):
        return pixels
    image = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None]
    resized = F.interpolate(image, size=tuple(size), mode="bilinear", antialias=True, align_corners=False)
    return resized[0].permute(1, 2, 0).clamp(0, 1).numpy()


def checked_image_options(size: int | None, value_range: tuple[float, float]) -> tuple[float, float]:
    """Refuse a ``size`` below 1 pixel or a ``value_range`` that is not finite (low, high); the range as floats."""
    if size is not None and size < 1:
        raise InputError(f"data size must be >= 1 pixel, got {size}")
    bounds = [float(bound) for bound in value_range]
    if len(bounds) != 2 or not (np.isfinite(bounds).all() and bounds[0] < bounds[1]):
        raise InputError(f"data value_range must be finite (low, high) with low < high, got {bounds}")
    return bounds[0], bounds[1]


def pixel_grid(height: int, width: int) -> Tensor:
    """Coordinates of an H x W grid on [-1, 1]^2 in row-major order, [H * W, 2] as (y, x) like SIREN's get_mgrid."""
    return grids.grid((height, width))


def output_size(spec: SignalSpec, resolution: int | None) -> tuple[int, int]:
    """(height, width) of a render whose longer side is ``resolution`` (default: the training size)."""
    height, width = spec.shape
    if resolution is None:
        return height, width
    if resolution < 1:
        raise InputError(f"--resolution must be >= 1, got {resolution}")
    scale = resolution / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def values_to_pixels(values: Tensor, height: int, width: int, bit_depth: int = 8,
                     value_range: tuple[float, float] = (-1.0, 1.0)) -> np.ndarray:
    """Values [H * W, C] in ``value_range`` -> integer pixels [H, W, C] (uint8 or uint16), clipped."""
    low, high = value_range
    unit = ((values.detach().float().cpu().reshape(height, width, -1) - low) / (high - low)).clamp(0, 1)
    top = 2**bit_depth - 1
    dtype = np.uint16 if bit_depth == 16 else np.uint8
    return (unit * top).round().numpy().astype(dtype)


def write_png(path: str | Path, pixels: np.ndarray) -> None:
    """Write [H, W, C] uint8 (any type imageio writes, by suffix) or uint16 (PNG, pypng) pixels, atomically."""
    with atomic_output(path) as temporary:
        if pixels.dtype == np.uint16:
            import png

            height, width, channels = pixels.shape
            writer = png.Writer(width, height, greyscale=channels in (1, 2), alpha=channels in (2, 4), bitdepth=16)
            with open(temporary, "wb") as file:
                writer.write(file, pixels.reshape(height, width * channels).tolist())
        else:
            import imageio.v3 as iio

            iio.imwrite(temporary, pixels[..., 0] if pixels.shape[-1] == 1 else pixels)


def grid_spacing(height: int, width: int) -> tuple[float, float]:
    """(dx, dy): distance between neighbouring pixel centres in [-1, 1] coordinate units (1 for a single pixel)."""
    return 2.0 / max(width - 1, 1), 2.0 / max(height - 1, 1)


def image_derivatives(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sobel gradients and 5-point Laplacians of an image, in [-1, 1] coordinate units.

    Filters run per channel with reflected borders (scipy.ndimage). y is the row axis (rows go down as y goes
    from -1 to 1) and coordinate 0, x the column axis and coordinate 1, matching :func:`pixel_grid`.

    Args:
        values: image [H, W, C] in value units (here [-1, 1]).

    Returns:
        ``gradients [H, W, C, 2]`` (d/dy, d/dx, value units per coordinate unit) and ``laplacians [H, W, C]``
        (d2/dx2 + d2/dy2, value units per coordinate unit squared).
    """
    from scipy import ndimage

    height, width, channels = values.shape
    dx, dy = grid_spacing(height, width)
    image = values.astype(np.float64)
    gradients = np.zeros((height, width, channels, 2))
    laplacians = np.zeros((height, width, channels))
    second = np.array([1.0, -2.0, 1.0])
    for channel in range(channels):
        plane = image[..., channel]
        gradients[..., channel, 0] = ndimage.sobel(plane, axis=0, mode="reflect") / (SOBEL_GAIN * dy)
        gradients[..., channel, 1] = ndimage.sobel(plane, axis=1, mode="reflect") / (SOBEL_GAIN * dx)
        laplacians[..., channel] = (ndimage.correlate1d(plane, second, axis=1, mode="reflect") / dx**2
                                    + ndimage.correlate1d(plane, second, axis=0, mode="reflect") / dy**2)
    return gradients.astype(np.float32), laplacians.astype(np.float32)


def _magnitude_picture(magnitude: Tensor, top: float, height: int, width: int) -> np.ndarray:
    """Gray uint8 [H, W] of a non-negative map [N], ``top`` and above white."""
    unit = (magnitude.detach().float().cpu() / max(top, 1e-12)).clamp(0, 1).reshape(height, width)
    return (unit * 255).round().numpy().astype(np.uint8)


def _signed_picture(value: Tensor, top: float, height: int, width: int) -> np.ndarray:
    """Gray uint8 [H, W] of a signed map [N]: 0 mid-gray, -top black, +top white."""
    unit = ((value.detach().float().cpu() / max(top, 1e-12) + 1) / 2).clamp(0, 1).reshape(height, width)
    return (unit * 255).round().numpy().astype(np.uint8)


class ImageDataModule(SignalDataModule):
    """An image as a signal f(x, y) -> C channels.

    Args:
        path: image file (PNG/JPEG/TIFF..., gray/RGB/RGBA, 8/16-bit); ``None`` uses scikit-image's cameraman.
        size: resize (bilinear, antialiased) so the longer side has this many pixels; ``None`` keeps the size.
        batch_size: random pixels per training step; ``None`` uses every pixel every step (full batch).
        seed: seed of the batch sampler; ``None`` takes the run's ``seed_everything``.
        value_range: (low, high) the pixels [0, 1] are mapped onto linearly: (-1, 1) as SIREN and FINER, (0, 1)
            as FINER's PE-MLP baseline (``--not_zero_mean``). Metrics, media and renders read it back.
    """

    kind = "image"
    available_targets = ("values", "gradients", "laplacians")

    def __init__(
        self,
        path: str | None = None,
        size: int | None = None,
        batch_size: int | None = None,
        seed: int | None = None,
        value_range: tuple[float, float] = (-1.0, 1.0),
    ) -> None:
        super().__init__(batch_size=batch_size, seed=seed)
        self.value_range = checked_image_options(size, value_range)
        self.path = path
        pixels = sample_image() if path is None else read_image(path)
        self.bit_depth = 16 if path is not None and png_bit_depth(Path(path)) == 16 else 8
        self.pixels = pixels if size is None else resize_longer_side(pixels, size)
        self.height, self.width, self.channels = self.pixels.shape

    def image_targets(self) -> dict[str, np.ndarray]:
        """``values [H, W, C]`` in ``value_range``, Sobel ``gradients [H, W, C, 2]`` and ``laplacians [H, W, C]``."""
        values = self.to_values(self.pixels)
        gradients, laplacians = image_derivatives(values)
        return {"values": values, "gradients": gradients, "laplacians": laplacians}

    def signal_tensors(self) -> dict[str, Tensor]:
        """``coords [H*W, 2]``, ``values [H*W, C]`` in ``value_range``, and the derivative targets asked for.

        ``gradients [H*W, C, 2]`` and ``laplacians [H*W, C]`` are computed only when a loss or metric reads them.
        """
        keys = self.computed_targets()
        targets = self.image_targets() if keys != ["values"] else {"values": self.to_values(self.pixels)}
        count = self.height * self.width
        signal = {"coords": pixel_grid(self.height, self.width)}
        for key in keys:
            target = np.ascontiguousarray(targets[key], dtype=np.float32)
            signal[key] = torch.from_numpy(target).reshape(count, *target.shape[2:])
        return signal

    def to_values(self, pixels: np.ndarray) -> np.ndarray:
        """Pixels [..., C] in [0, 1] -> values in ``value_range``."""
        low, high = self.value_range
        return low + pixels * (high - low)

    @property
    def signal_spec(self) -> SignalSpec:
        """Dims, size (height, width), bit depth and value range of the image, saved in the checkpoint."""
        return self.spec(2, self.channels, shape=(self.height, self.width), source=self.path or "skimage.data.camera",
                         value_range=self.value_range, meta={"bit_depth": self.bit_depth})

    def media(self, evaluation: Evaluation, extra: dict[str, Tensor]) -> list[Media]:
        """The reconstruction and its |error| map (:mod:`inr.core.error_maps`); with derivatives, their pictures.

        The reconstruction is the aligned one when a metric aligned it (a fit from derivatives). With the
        network's gradient and Laplacian, ``val/derivatives`` shows |grad f| and the target's |Sobel|, scaled alike
        (white = the target's 99th percentile), then the Laplacians of the network and the target (mid-gray 0,
        white/black = +/- the target's 99th percentile of |Laplacian|).
        """
        prediction = evaluation.extras.get("aligned", evaluation.prediction)
        low, high = self.value_range
        reconstruction = values_to_pixels(prediction, self.height, self.width, value_range=self.value_range)
        target = torch.from_numpy(self.to_values(self.pixels)).to(prediction.device).reshape(-1, self.channels)
        difference = ((prediction.detach().clamp(low, high) - target) / (high - low)).double().cpu().numpy()
        errors = np.abs(difference).mean(axis=-1).reshape(self.height, self.width)
        scale = round_scale(errors)
        caption = error_caption(scale, psnr_db(float(np.square(difference).mean())))
        items: list[Media] = [Picture("val/reconstruction", [_squeeze(reconstruction), error_map(errors, scale)],
                                      ["reconstruction", caption])]
        gradient, laplacian = evaluation.gradient, evaluation.laplacian
        if gradient is None or laplacian is None:
            return items
        targets = self.image_targets()
        count, size = self.height * self.width, (self.height, self.width)
        target_gradient = torch.from_numpy(targets["gradients"]).reshape(count, self.channels, 2)
        target_laplacian = torch.from_numpy(targets["laplacians"]).reshape(count, self.channels)
        magnitude = gradient.detach().cpu().square().sum(dim=(-2, -1)).sqrt()
        target_magnitude = target_gradient.square().sum(dim=(-2, -1)).sqrt()
        top = float(target_magnitude.quantile(0.99))
        curvature = laplacian.detach().cpu().mean(dim=-1)
        target_curvature = target_laplacian.mean(dim=-1)
        bound = float(target_curvature.abs().quantile(0.99))
        items.append(Picture(
            "val/derivatives",
            [_magnitude_picture(magnitude, top, *size), _magnitude_picture(target_magnitude, top, *size),
             _signed_picture(curvature, bound, *size), _signed_picture(target_curvature, bound, *size)],
            ["|grad f|", "|Sobel| target", "Laplacian f", "Laplacian target"],
        ))
        return items

    @staticmethod
    def render_to_file(
        predict: Callable[[Tensor], Tensor], spec: SignalSpec, out: str, resolution: int | None
    ) -> str:
        """Evaluate ``predict`` on a grid whose longer side is ``resolution`` and write an image (PNG...) to ``out``."""
        bit_depth = spec.meta.get("bit_depth", 8)
        if bit_depth == 16:
            what, suffixes = "a 16-bit image", (".png",)
        elif spec.out_dim in (2, 4):
            what, suffixes = "an image with alpha", (".png", ".tif", ".tiff")  # no alpha in JPEG, no gray+alpha in BMP
        else:
            what, suffixes = "an image", RENDER_SUFFIXES
        if Path(out).suffix.lower() not in suffixes:
            raise InputError(f"--out {out}: {what} renders to one of {', '.join(suffixes)}")
        height, width = output_size(spec, resolution)
        values = predict(pixel_grid(height, width))
        write_png(out, values_to_pixels(values, height, width, bit_depth, value_range=spec.value_range))
        return f"wrote {out}: {width} x {height} image, {spec.out_dim} channel(s)"


def _squeeze(pixels: np.ndarray) -> np.ndarray:
    return pixels[..., 0] if pixels.shape[-1] == 1 else pixels
