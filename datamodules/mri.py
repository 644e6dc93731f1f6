"""MRI: a 3D volume f(z, y, x) -> intensity seen only through sparse k-space samples (Tancik et al. 2020, "3D MRI").

The volume (``.npy``, or NIfTI ``.nii`` / ``.nii.gz`` through nibabel, scaled by its maximum; or a modified 3D
Shepp-Logan phantom, perturbed per seed as the CT phantoms) is measured at the frequencies of a Gaussian k-space
mask, as the Fourier-features MRI notebook draws it: ``samples`` points from N(n // 2, 2 n I) in the centred
layout, truncated to integers, those inside the grid kept once each, then moved to the FFT's own layout (DC at
index 0). The measurement is the unitary FFT of the volume there (:mod:`inr.core.kspace`). Training batches are the
whole grid with ``kspace [M, 1, 2]`` and ``kspace_index [M]`` (:class:`inr.losses.measurements.FourierMeasurementLoss`);
the zero-filled inverse FFT is the classical baseline. The mask's density scales as the paper's, but its central
peak does not: N(n // 2, 2 n I) puts about 4.8 draws on DC at 96^3 and fewer than one below 32^3, where DC (the
volume's mean) may go unmeasured.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from datamodules.base import SignalDataModule
from datamodules.image import values_to_pixels
from datamodules.phantoms import NOTEBOOK_Z_LIMIT, shepp_logan
from inr.core import grids
from inr.core.atomic import atomic_output
from inr.core.error_maps import error_caption, error_map, psnr_db, round_scale
from inr.core.errors import InputError
from inr.core.evaluation import Evaluation
from inr.core.kspace import grid_spectrum
from inr.core.media import Media, Picture
from inr.core.signal import SignalSpec
from inr.io.files import input_file

#: the MRI notebook's 200,000 mask samples at 96^3, scaled with the volume to keep the sampling density.
PAPER_SAMPLES, PAPER_SIZE = 200_000, 96
#: volume files read.
VOLUME_SUFFIXES = (".npy", ".nii", ".nii.gz")


def read_volume(path: str, size: int) -> np.ndarray:
    """A 3D volume from ``.npy`` or NIfTI, scaled to [0, 1] by its maximum and resampled to [size]^3 (trilinear)."""
    file = input_file(path, "volume file")
    name = file.name.lower()
    if not name.endswith(VOLUME_SUFFIXES):
        raise InputError(f"volume file {path}: read are {', '.join(VOLUME_SUFFIXES)}")
    try:
        if name.endswith(".npy"):
            volume = np.load(file, allow_pickle=False)
        else:
            import nibabel

            volume = np.asarray(nibabel.load(str(file)).get_fdata())
    except Exception as error:  # numpy / nibabel raise many types; the user needs the file and the reason
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(f"cannot read volume file {path}: {reason}") from None
    volume = np.squeeze(volume)
    if volume.ndim != 3:
        raise InputError(f"volume file {path} holds an array of shape {list(volume.shape)}: a volume has 3 axes")
    volume = volume.astype(np.float64)
    if not np.isfinite(volume).all():
        raise InputError(f"volume file {path} holds NaN or infinite values")
    top = volume.max()
    if top <= 0:
        raise InputError(f"volume file {path} has no positive value to scale by (max {top})")
    tensor = torch.from_numpy(np.clip(volume / top, 0, 1)).float()[None, None]
    resized = torch.nn.functional.interpolate(tensor, size=(size,) * 3, mode="trilinear", align_corners=True)
    return resized[0, 0].numpy()


def gaussian_kspace_mask(size: int, samples: int, seed: int) -> Tensor:
    """Flat indices [M] (sorted, unique) into the FFT of a [size]^3 grid of a Gaussian k-space sampling pattern."""
    if samples < 1:
        raise InputError(f"data mask_samples must be >= 1, got {samples}: a mask with no samples measures nothing")
    centre = size // 2
    draws = np.random.default_rng(seed).multivariate_normal([centre] * 3, np.eye(3) * 2 * size, size=samples)
    points = np.trunc(draws).astype(np.int64)
    points = points[((points >= 0) & (points < size)).all(axis=1)]
    unshifted = (points - centre) % size  # ifftshift: the centred DC (n // 2) to index 0
    flat = np.ravel_multi_index(tuple(unshifted.T), (size,) * 3)
    return torch.from_numpy(np.unique(flat))


class MRIDataModule(SignalDataModule):
    """A 3D volume seen only through sparse k-space samples; f(z, y, x) -> intensity in [0, 1].

    Args:
        path: a volume (``.npy``, ``.nii``, ``.nii.gz``); ``None`` draws a 3D Shepp-Logan phantom.
        size: side of the cubic grid (the paper: 96).
        mask_samples: Gaussian draws of the k-space mask; ``None``: the paper's 200,000 at 96^3, scaled by
            (size / 96)^3 (the same density).
        mask_seed: seed of the mask.
        phantom_seed: seed of the phantom's perturbation; ``None``: the unperturbed phantom.
        phantom_z_limit: the grid spans z in [-limit, limit] of the phantom's [-1, 1]: 0.25 the notebook's slab
            (nearly constant along z), 1 the whole 3D phantom (detail along every axis).
        phantom_rotated: turn the phantom by a random 3D rotation drawn from ``phantom_seed``, so that no ellipsoid
            axis lies along a grid axis (use with ``phantom_z_limit: 1``: the turned phantom spans every axis).
    """

    kind = "mri"
    available_targets = ("values", "kspace", "kspace_index")

    def __init__(self, path: str | None = None, size: int = 48, mask_samples: int | None = None, mask_seed: int = 0,
                 phantom_seed: int | None = None, phantom_z_limit: float = NOTEBOOK_Z_LIMIT,
                 phantom_rotated: bool = False) -> None:
        super().__init__(batch_size=None, seed=None)
        if size < 2:
            raise InputError(f"data size must be >= 2 voxels, got {size}")
        if not 0 < phantom_z_limit <= 1:
            raise InputError(f"data phantom_z_limit must be in (0, 1], got {phantom_z_limit}: the phantom fills z in "
                             "[-1, 1]")
        if phantom_rotated and path is not None:
            raise InputError(f"data phantom_rotated turns the Shepp-Logan phantom, but data path {path} is a volume "
                             "file: give one of the two")
        self.path, self.size, self.phantom_seed, self.phantom_z_limit = path, size, phantom_seed, phantom_z_limit
        self.phantom_rotated = phantom_rotated
        volume = (shepp_logan(size, 3, phantom_seed, phantom_z_limit, phantom_rotated) if path is None
                  else read_volume(path, size))
        self.volume = torch.from_numpy(volume)
        count = round(PAPER_SAMPLES * (size / PAPER_SIZE) ** 3) if mask_samples is None else mask_samples
        self.mask_index = gaussian_kspace_mask(size, count, mask_seed)
        spectrum = grid_spectrum(self.volume.double().reshape(-1, 1), 3)
        self.kspace = torch.view_as_real(spectrum[self.mask_index]).float()  # [M, 1, 2]
        self.mask_samples = count
        self._zero_filled: Tensor | None = None  # the baseline, computed once

    @property
    def sampled_fraction(self) -> float:
        """The fraction of k-space measured."""
        return len(self.mask_index) / self.size**3

    def signal_tensors(self) -> dict[str, Tensor]:
        """The grid and the truth (``coords [n^3, 3]``, ``values [n^3, 1]``), and the measurement."""
        return {"coords": grids.grid((self.size,) * 3), "values": self.volume.reshape(-1, 1), "kspace": self.kspace,
                "kspace_index": self.mask_index}

    def sample(self, device: torch.device, step: int, rank: int) -> dict[str, Tensor]:
        """The whole grid and the whole measurement, every step (the loss transforms the grid)."""
        signal = self.on_device(device)
        return {"coords": signal["coords"], **{key: signal[key] for key in self.training_targets}}

    @property
    def signal_spec(self) -> SignalSpec:
        """The grid size and the mask (samples, seed, fraction measured)."""
        details = [f"seed {self.phantom_seed}"] if self.phantom_seed is not None else []
        if self.phantom_z_limit != NOTEBOOK_Z_LIMIT:
            details.append(f"z in [-{self.phantom_z_limit:g}, {self.phantom_z_limit:g}]")
        if self.phantom_rotated:
            details.append("rotated")
        phantom = "3D Shepp-Logan phantom" + (f" ({', '.join(details)})" if details else "")
        source = self.path or phantom
        return self.spec(3, 1, shape=(self.size,) * 3, source=source, value_range=(0.0, 1.0),
                         meta={"mask_samples": self.mask_samples, "sampled_fraction": round(self.sampled_fraction, 6)})

    def baselines(self) -> dict[str, Tensor]:
        """The zero-filled inverse FFT (real part) of the measurement, [n^3, 1] (computed once)."""
        if self._zero_filled is None:
            spectrum = torch.zeros(self.size**3, dtype=torch.complex128)
            spectrum[self.mask_index] = torch.view_as_complex(self.kspace[:, 0].double().contiguous())
            grid = spectrum.reshape((self.size,) * 3)
            self._zero_filled = torch.fft.ifftn(grid, norm="ortho").real.float().reshape(-1, 1)
        return {"zero_filled": self._zero_filled}

    def media(self, evaluation: Evaluation, extra: dict[str, Tensor]) -> list[Media]:
        """The middle slice along each axis: reconstruction, truth, zero-filled, error map; and the mask."""
        size = self.size
        fit = evaluation.prediction.detach().float().cpu().clamp(0, 1).reshape((size,) * 3)
        zero_filled = self.baselines()["zero_filled"].clamp(0, 1).reshape((size,) * 3)
        errors = (fit - self.volume).abs()
        scale = round_scale(errors.numpy())
        rows = [_middle_slices(volume) for volume in (fit, self.volume, zero_filled)]
        pictures = [values_to_pixels(row.reshape(-1, 1), size, 3 * size, value_range=(0.0, 1.0))[..., 0]
                    for row in rows]
        psnr = psnr_db(float((fit - self.volume).square().mean()))
        mask = torch.zeros(size**3)
        mask[self.mask_index] = 1
        centred = torch.fft.fftshift(mask.reshape((size,) * 3))
        return [Picture("val/mri", [*pictures, error_map(_middle_slices(errors).numpy(), scale)],
                        ["reconstruction (z | y | x middle slices)", "truth", "zero-filled inverse FFT",
                         error_caption(scale, psnr)]),
                Picture("val/kspace_mask", [(centred[size // 2].numpy() * 255).astype(np.uint8)],
                        [f"k-space mask, middle slice ({self.sampled_fraction:.2%} of k-space measured)"])]

    @staticmethod
    def render_to_file(predict, spec: SignalSpec, out: str, resolution: int | None) -> str:
        """Write the volume on a [resolution]^3 grid (default: the fitted size) as .npy, NIfTI or middle slices."""
        size = resolution or spec.shape[0]
        if size < 2:
            raise InputError(f"--resolution must be >= 2, got {size}")
        name = out.lower()
        if not name.endswith((".npy", ".nii", ".nii.gz", ".png")):
            raise InputError(f"--out {out}: a volume renders to .npy, .nii, .nii.gz or .png (middle slices)")
        volume = predict(grids.grid((size,) * 3)).detach().float().cpu().clamp(0, 1).reshape((size,) * 3)
        with atomic_output(out) as temporary:
            if name.endswith(".npy"):
                with open(temporary, "wb") as file:
                    np.save(file, volume.numpy())
            elif name.endswith(".png"):
                import imageio.v3 as iio

                iio.imwrite(temporary, values_to_pixels(_middle_slices(volume).reshape(-1, 1), size, 3 * size,
                                                        value_range=(0.0, 1.0))[..., 0])
            else:
                import gzip

                import nibabel

                data = nibabel.Nifti1Image(volume.numpy(), np.eye(4)).to_bytes()
                temporary.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
        return f"wrote {out}: {size}^3 volume"


def _middle_slices(volume: Tensor) -> Tensor:
    """The middle slice along each axis of a cube [n, n, n], side by side: [n, 3 n]."""
    middle = volume.shape[0] // 2
    return torch.cat([volume[middle], volume[:, middle], volume[:, :, middle]], dim=1)
