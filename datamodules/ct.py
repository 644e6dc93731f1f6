"""CT: a 2D slice f(y, x) -> attenuation seen only through parallel-beam projections (Tancik et al. 2020, "2D CT").

The slice (an image file, or a modified Shepp-Logan phantom whose ellipse parameters are perturbed by N(0, 1) / 20
and clipped to [0, 1], as the Fourier-features CT notebook draws them) is measured along ``views`` angles: each
view's ``size`` detector bins sit at the pixel columns and integrate the slice along rays across the image square
(:mod:`inr.core.rays`: the image rotated and summed, as the paper's operator). Training batches are
rays, ``coords [R, S, 2]`` with ``ray_lengths [R, S]`` and the measured ``projections [R, 1]``
(:class:`inr.losses.measurements.LineIntegralLoss`); validation compares the fit on the pixel grid with the truth and
its projections with the measured ones, and logs the classical reconstructions from the same projections
(:mod:`datamodules.ct_baselines`) once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from datamodules.base import SignalDataModule, sampling_seed
from datamodules.ct_baselines import filtered_back_projection, grid_optimisation
from datamodules.image import ImageDataModule, resize_to, values_to_pixels
from datamodules.phantoms import shepp_logan
from inr.core import grids
from inr.core.error_maps import error_caption, error_map, psnr_db, round_scale
from inr.core.errors import InputError
from inr.core.evaluation import Evaluation
from inr.core.media import Media, Picture
from inr.core.rays import default_angles, line_integrals, parallel_beam_rays
from inr.core.signal import SignalSpec
from inr.io.files import input_file
from inr.io.image_files import read_image


def shepp_logan_phantom(size: int, seed: int | None) -> np.ndarray:
    """The modified Shepp-Logan phantom [size, size] in [0, 1]; with a seed, its parameters perturbed and clipped."""
    return shepp_logan(size, 2, seed)


def checked_angles(angles: Sequence[float] | None, views: int) -> Tensor:
    """The projection angles [V] in radians: ``angles`` (each in [0, pi)) or ``views`` evenly over [0, pi)."""
    if angles is None:
        return default_angles(views)
    values = torch.tensor([float(angle) for angle in angles], dtype=torch.float64)
    if len(values) == 0:
        raise InputError("data angles is empty: give at least one projection angle (radians in [0, pi))")
    outside = [float(angle) for angle in values if not 0 <= angle < math.pi]
    if outside:
        raise InputError(f"data angles must lie in [0, pi) radians (parallel beams repeat after pi), got {outside}")
    return values


def read_sinogram(path: str, views: int, size: int) -> Tensor:
    """Measured projections [views, size] from a ``.npy`` file, in inr's convention (see :mod:`inr.core.rays`)."""
    file = input_file(path, "sinogram file")
    try:
        values = np.load(file, allow_pickle=False)
    except Exception as error:  # numpy raises several types for a file that is not an array
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(f"cannot read sinogram file {path}: {reason}") from None
    if values.ndim != 2 or values.shape != (views, size):
        raise InputError(f"sinogram {path} has shape {list(values.shape)}, but the scan has {views} angles (data "
                         f"views or angles) of {size} bins (data size): it must be [{views}, {size}]")
    if not np.isfinite(values).all():
        raise InputError(f"sinogram {path} holds NaN or infinite values")
    return torch.from_numpy(values.astype(np.float64))


def read_slice(path: str, size: int) -> np.ndarray:
    """A gray slice [size, size] in [0, 1] from an image file (colour averaged), which must be square."""
    pixels = read_image(path)
    height, width = pixels.shape[:2]
    if height != width:
        raise InputError(f"CT slice {path} is {width} x {height} pixels: a slice is square (crop it to its field of "
                         "view)")
    gray = pixels[..., : 3 if pixels.shape[-1] >= 3 else 1].mean(axis=-1, keepdims=True)
    return resize_to(gray, (size, size))[..., 0]


class CTDataModule(SignalDataModule):
    """A 2D slice seen only through parallel-beam projections; f(y, x) -> attenuation in [0, 1].

    Args:
        path: a square gray (or colour, averaged) image as the slice; ``None`` draws a Shepp-Logan phantom.
        sinogram: measured projections instead (``.npy`` [views, size], view v at ``angles[v]``, bin j at pixel column
            j, integrals in [-1, 1] units: pixel sums times 2 / (size - 1)); the slice is then unknown and only the
            projection residual is measured (monitor it: ``--checkpoint.monitor val/projection_rmse
            --checkpoint.mode min``).
        size: side of the slice and number of detector bins per view.
        views: projection angles, evenly over [0, pi) (the paper: 20); ignored when ``angles`` is given.
        angles: the projection angles in radians, each in [0, pi).
        samples: points per ray (midpoint rule); ``None``: ``size``, about one per pixel.
        phantom_seed: seed of the phantom's perturbation; ``None``: the unperturbed modified Shepp-Logan.
        baseline_steps: Adam steps of the direct grid optimisation baseline (the paper: 1000); 0 skips it.
        batch_size: rays per training step; ``None`` uses every ray every step.
        seed: seed of the ray sampler; ``None`` takes the run's ``seed_everything``.
    """

    kind = "ct"
    available_targets = ("values", "ray_points", "ray_lengths", "projections")

    def __init__(self, path: str | None = None, sinogram: str | None = None, size: int = 128, views: int = 20,
                 angles: list[float] | None = None, samples: int | None = None, phantom_seed: int | None = None,
                 baseline_steps: int = 1000, batch_size: int | None = None, seed: int | None = None) -> None:
        super().__init__(batch_size=batch_size, seed=seed)
        if size < 2:
            raise InputError(f"data size must be >= 2 pixels, got {size}")
        if baseline_steps < 0:
            raise InputError(f"data baseline_steps must be >= 0 (0 skips the grid baseline), got {baseline_steps}")
        self.path, self.size, self.phantom_seed, self.baseline_steps = path, size, phantom_seed, baseline_steps
        self.angles = checked_angles(angles, views)
        self.samples = size if samples is None else samples
        if path is not None and sinogram is not None:
            raise InputError("data path (a slice to project) and data sinogram (measured projections) exclude "
                             "each other: give one")
        self.sinogram = sinogram
        points, lengths = parallel_beam_rays(self.angles, grids.axis(size), self.samples)
        if sinogram is None:
            image = shepp_logan_phantom(size, phantom_seed) if path is None else read_slice(path, size)
            self.slice: Tensor | None = torch.from_numpy(image)
            field = self.slice.double()[..., None]
            self.projections = line_integrals(grids.interpolate(field, points), lengths)[..., 0]
        else:
            self.slice = None  # only the projections are known
            self.projections = read_sinogram(sinogram, len(self.angles), size)
        self.ray_points = points.reshape(-1, self.samples, 2).float()
        self.ray_lengths = lengths.reshape(-1, self.samples).float()
        self._baselines: dict[str, Tensor] | None = None

    def signal_tensors(self) -> dict[str, Tensor]:
        """The pixel grid and the truth (``coords [N^2, 2]``, ``values [N^2, 1]``), and the rays with projections."""
        truth = self.slice if self.slice is not None else torch.zeros(self.size, self.size)  # no truth: unread
        return {"coords": grids.grid((self.size, self.size)), "values": truth.reshape(-1, 1),
                "ray_points": self.ray_points, "ray_lengths": self.ray_lengths,
                "projections": self.projections.reshape(-1, 1).float()}

    def sample(self, device: torch.device, step: int, rank: int) -> dict[str, Tensor]:
        """Rays: all of them (this rank's every world-th under DDP), or ``batch_size`` drawn with replacement."""
        signal = self.on_device(device)
        rays = {"coords": signal["ray_points"], **{key: signal[key] for key in self.training_targets}}
        count = rays["coords"].shape[0]
        if self.batch_size is None:
            world = self.trainer.world_size if self.trainer is not None else 1
            return rays if world == 1 else {key: value[rank::world] for key, value in rays.items()}
        generator = torch.Generator(device=device).manual_seed(sampling_seed(self.seed, step, rank))
        index = torch.randint(count, (self.batch_size,), generator=generator, device=device)
        return {key: value[index] for key, value in rays.items()}

    @property
    def signal_spec(self) -> SignalSpec:
        """Size, angles and samples per ray of the scan; the slice renders as an image."""
        source = self.sinogram or self.path or ("Shepp-Logan phantom" if self.phantom_seed is None
                                                else f"Shepp-Logan phantom (seed {self.phantom_seed})")
        return self.spec(2, 1, shape=(self.size, self.size), source=source, value_range=(0.0, 1.0),
                         meta={"angles": [round(float(angle), 12) for angle in self.angles],
                               "samples": self.samples, "bit_depth": 8, "truth": self.slice is not None})

    def baselines(self) -> dict[str, Tensor]:
        """The classical reconstructions [N^2, 1] from the same projections, by name (computed once)."""
        if self._baselines is None:
            views = self.projections.reshape(len(self.angles), self.size)
            self._baselines = {"fbp": filtered_back_projection(views, self.angles, self.size).reshape(-1, 1)}
            if self.baseline_steps:
                grid = grid_optimisation(self.projections.reshape(-1, 1).float(), self.ray_points, self.ray_lengths,
                                         self.size, self.baseline_steps)
                self._baselines["grid"] = grid.reshape(-1, 1)
        return self._baselines

    def media_coords(self) -> dict[str, Tensor]:
        """The rays' sample points, flattened [R * S, 2]: the fit's sinogram."""
        return {"rays": self.ray_points.reshape(-1, 2)}

    def media(self, evaluation: Evaluation, extra: dict[str, Tensor]) -> list[Media]:
        """Reconstruction, truth, filtered back-projection and the error map; the measured and the fit's sinograms."""
        size, views = self.size, len(self.angles)
        fit = evaluation.prediction.detach().float().cpu().clamp(0, 1)
        fbp = self.baselines()["fbp"]
        if self.slice is None:  # measured projections: no truth to compare with
            pictures = [values_to_pixels(values, size, size, value_range=(0.0, 1.0))[..., 0] for values in (fit, fbp)]
            items: list[Media] = [Picture("val/ct", pictures, ["reconstruction", "filtered back-projection"])]
        else:
            truth = self.slice.reshape(-1, 1)
            pictures = [values_to_pixels(values, size, size, value_range=(0.0, 1.0))[..., 0]
                        for values in (fit, truth, fbp)]
            errors = (fit - truth).abs().reshape(size, size).numpy()
            scale = round_scale(errors)
            fbp_psnr = psnr_db(float((fbp.clamp(0, 1) - truth).square().mean()))
            items = [Picture("val/ct", [*pictures, error_map(errors, scale)],
                             ["reconstruction", "truth", f"filtered back-projection ({fbp_psnr:.2f} dB)",
                              error_caption(scale, psnr_db(float((fit - truth).square().mean())))])]
        if "rays" in extra:
            fitted = line_integrals(extra["rays"].detach().float().cpu().reshape(*self.ray_lengths.shape, -1),
                                    self.ray_lengths)[..., 0].reshape(views, size)
            measured = self.projections.reshape(views, size).float()
            top = float(measured.max()) or 1.0
            sinograms = [values_to_pixels(values.reshape(-1, 1) / top, views, size, value_range=(0.0, 1.0))[..., 0]
                         for values in (measured, fitted)]
            items.append(Picture("val/sinogram", sinograms, [f"measured ({views} views x {size} bins)", "the fit's"]))
        return items

    render_to_file: Callable[..., str] = staticmethod(ImageDataModule.render_to_file)
