"""Images as signals: f(x, y) -> channels, with coordinates on a [-1, 1] grid and values in [-1, 1].

The coordinate layout follows SIREN's image fitting (Sitzmann et al. 2020, ``get_mgrid``): ``linspace(-1, 1)``
along each axis, coordinate 0 is y (row, growing downwards), coordinate 1 is x (column); points are in row-major
pixel order. With the same seed, inr's SIREN then starts from exactly the official notebook's weights and data.

Derivative supervision (SIREN Sec. 4.1, Poisson reconstruction): ``supervision: gradient`` trains on Sobel
gradients and ``supervision: laplacian`` on the 5-point Laplacian of the image, both scaled to the units of
the [-1, 1] coordinates so that they compare directly with the network's autograd derivatives. Validation
then reports PSNR after aligning the unrecoverable offset (and gain, for the Laplacian) with the image.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from datamodules.base import SignalDataModule, atomic_output, input_file
from inr import diff, grids
from inr.errors import InputError
from inr.signal import SignalSpec

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: file types ``inr render`` writes 8-bit images to (16-bit ones: PNG only, through pypng).
RENDER_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

#: what each ``supervision`` trains on: the batch key a training step receives besides ``coords``.
SUPERVISION_TARGETS = {"value": "values", "gradient": "gradients", "laplacian": "laplacians"}

# Sobel = (central difference f(i+1) - f(i-1), i.e. 2 f') x (smoothing [1, 2, 1], sum 4): 8 x the derivative per pixel.
SOBEL_GAIN = 8.0


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
    path = input_file(path, "image file")
    try:
        if _png_bit_depth(path) == 16:
            pixels = _read_png16(path)
        else:
            import imageio.v3 as iio

            pixels = iio.imread(path)
    except Exception as error:  # imageio/pypng raise many types; the user needs the file name and the reason
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if "Could not find a backend" in reason:  # imageio's words for "no plugin knows this content/extension"
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


def values_to_pixels(values: Tensor, height: int, width: int, bit_depth: int = 8) -> np.ndarray:
    """Values [H * W, C] in [-1, 1] -> integer pixels [H, W, C] (uint8 or uint16), clipped."""
    unit = ((values.detach().float().cpu().reshape(height, width, -1) + 1) / 2).clamp(0, 1)
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


def align(prediction: Tensor, truth: Tensor, gain: bool = False, coords: Tensor | None = None) -> Tensor:
    """Per channel, the least-squares fit to ``truth`` [N, c] of ``prediction`` [N, c] plus what it cannot know.

    Derivatives do not determine a signal's constant; the Laplacian loses its linear terms too (any ``a + b . x``
    has zero Laplacian) and, in practice, its scale. So a fit from derivatives is compared with the ground truth
    after adding the best constant (always), the best linear function of ``coords`` [N, d] (if given) and, with
    ``gain``, scaling it by the best factor.
    """
    columns = [torch.ones_like(prediction[:, :1])] + ([coords.to(prediction)] if coords is not None else [])
    aligned = []
    for channel in range(prediction.shape[1]):
        own = prediction[:, channel : channel + 1]
        basis = torch.cat(([own] if gain else []) + columns, dim=1).double().cpu()
        target = (truth[:, channel : channel + 1] - (0 if gain else own)).double().cpu()
        fit = basis @ torch.linalg.lstsq(basis, target, driver="gelsy").solution  # gelsy: rank-deficient is fine
        aligned.append(fit.to(prediction) + (0 if gain else own))
    return torch.cat(aligned, dim=1)


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
        supervision: what training steps see besides ``coords``: the pixel ``values``, their Sobel ``gradients``
            [N, C, 2] or their ``laplacians`` [N, C] (derivatives in [-1, 1] coordinate units; pair with
            ``inr.losses.derivatives.GradientLoss`` / ``LaplacianLoss``). Validation always sees every target.
    """

    kind = "image"

    def __init__(
        self,
        path: str | None = None,
        size: int | None = None,
        batch_size: int | None = None,
        seed: int | None = None,
        supervision: Literal["value", "gradient", "laplacian"] = "value",
    ) -> None:
        super().__init__(batch_size=batch_size, seed=seed)
        if size is not None and size < 1:
            raise InputError(f"data size must be >= 1 pixel, got {size}")
        if supervision not in SUPERVISION_TARGETS:
            raise InputError(f"data supervision must be one of {sorted(SUPERVISION_TARGETS)}, got {supervision!r}")
        self.path = path
        self.supervision = supervision
        pixels = sample_image() if path is None else read_image(path)
        self.bit_depth = 16 if path is not None and _png_bit_depth(Path(path)) == 16 else 8
        self.pixels = pixels if size is None else resize_longer_side(pixels, size)
        self.height, self.width, self.channels = self.pixels.shape

    def image_targets(self) -> dict[str, np.ndarray]:
        """``values [H, W, C]`` in [-1, 1], Sobel ``gradients [H, W, C, 2]`` and ``laplacians [H, W, C]``."""
        values = self.pixels * 2 - 1
        gradients, laplacians = image_derivatives(values)
        return {"values": values, "gradients": gradients, "laplacians": laplacians}

    def signal_tensors(self) -> dict[str, Tensor]:
        """``coords [H*W, 2]`` and ``values [H*W, C]`` in [-1, 1], plus the derivative targets supervision needs.

        With ``gradient`` also ``gradients [H*W, C, 2]``; with ``laplacian`` also those and ``laplacians [H*W, C]``
        (training sees only the supervised one; validation uses all for its metrics).
        """
        keys = {"value": ["values"], "gradient": ["values", "gradients"],
                "laplacian": ["values", "gradients", "laplacians"]}[self.supervision]
        targets = self.image_targets() if self.supervision != "value" else {"values": self.pixels * 2 - 1}
        count = self.height * self.width
        signal = {"coords": pixel_grid(self.height, self.width)}
        for key in keys:
            target = np.ascontiguousarray(targets[key], dtype=np.float32)
            signal[key] = torch.from_numpy(target).reshape(count, *target.shape[2:])
        return signal

    def sample(self, device: torch.device, step: int, rank: int) -> dict[str, Tensor]:
        """A training batch holding only ``coords`` and the supervised target, so no other target can leak in."""
        batch = super().sample(device, step, rank)
        keep = ("coords", SUPERVISION_TARGETS[self.supervision])
        return {key: value for key, value in batch.items() if key in keep}

    @property
    def signal_spec(self) -> SignalSpec:
        """Dims, size (height, width), bit depth and value range of the image, saved in the checkpoint."""
        return self.spec(2, self.channels, shape=(self.height, self.width), source=self.path or "skimage.data.camera",
                         meta={"bit_depth": self.bit_depth})

    def evaluate(self, model: Any, batch: dict[str, Tensor], logger: Any = None) -> dict[str, Tensor]:
        """Validation metrics; with derivative supervision also the aligned PSNR and derivative-space errors.

        ``psnr``: raw prediction. ``psnr_aligned``: after matching the constant (gradient), or the constant, the
        linear terms in x and y and the gain (Laplacian), which the derivatives cannot determine (see :func:`align`).
        ``gradient_mse``: mean over pixels and channels of |grad f - Sobel target|^2 in coordinate units (the
        GradientLoss value); ``laplacian_mse`` likewise.
        Derivatives are taken in chunks of ``model.chunk_size`` points.
        """
        if self.supervision == "value":
            return super().evaluate(model, batch, logger)
        from torchmetrics.functional.image import peak_signal_noise_ratio

        with_laplacian = self.supervision == "laplacian" or logger is not None
        prediction, gradient, laplacian = diff.evaluate_with_derivatives(
            model, batch["coords"], model.chunk_size, with_laplacian=with_laplacian
        )
        low, high = model.value_range
        truth = batch["values"]
        from_laplacian = self.supervision == "laplacian"
        aligned = align(prediction, truth, gain=from_laplacian, coords=batch["coords"] if from_laplacian else None)
        metrics = {
            "psnr": peak_signal_noise_ratio(prediction.clamp(low, high), truth, data_range=high - low),
            "psnr_aligned": peak_signal_noise_ratio(aligned.clamp(low, high), truth, data_range=high - low),
            "gradient_mse": (gradient - batch["gradients"]).square().sum(dim=-1).mean(),
        }
        if self.supervision == "laplacian":
            metrics["laplacian_mse"] = (laplacian - batch["laplacians"]).square().mean()
        if logger is not None:
            self.log_media(logger, aligned, model.global_step, gradient=gradient, laplacian=laplacian)
        return metrics

    def log_media(
        self, logger: Any, prediction: Tensor, step: int, gradient: Tensor | None = None,
        laplacian: Tensor | None = None,
    ) -> None:
        """Log the reconstruction and its |error| map; given derivatives, also their pictures.

        Args:
            logger: a logger with ``log_image`` (others are skipped).
            prediction: values [N, C] (aligned to the image for derivative supervision).
            step: the x axis (global step).
            gradient: the network's gradient [N, C, 2]; logs ``val/derivatives``: |grad f| and the target's
                |Sobel|, scaled alike (white = the target's 99th percentile), then Laplacians of the network and
                the target (mid-gray 0, white/black = +/- the target's 99th percentile of |Laplacian|).
            laplacian: the network's Laplacian [N, C] (needed with ``gradient``).
        """
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
        if gradient is None or laplacian is None:
            return
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
        logger.log_image(
            key="val/derivatives",
            images=[_magnitude_picture(magnitude, top, *size), _magnitude_picture(target_magnitude, top, *size),
                    _signed_picture(curvature, bound, *size), _signed_picture(target_curvature, bound, *size)],
            step=step, caption=["|grad f|", "|Sobel| target", "Laplacian f", "Laplacian target"],
        )

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
        write_png(out, values_to_pixels(values, height, width, bit_depth))
        return f"wrote {out}: {width} x {height} image, {spec.out_dim} channel(s)"


def _squeeze(pixels: np.ndarray) -> np.ndarray:
    return pixels[..., 0] if pixels.shape[-1] == 1 else pixels
