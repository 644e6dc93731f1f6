"""k-space: the unitary FFT of a signal on a cubic grid, the measurement domain of MRI.

``norm="ortho"`` makes the transform unitary: by Parseval, the mean squared error of two spectra over all
frequencies equals that of the signals over all points, so k-space errors read in the signal's own units.
"""

from __future__ import annotations

import torch
from torch import Tensor

from inr.core.errors import InputError


def grid_spectrum(values: Tensor, dims: int) -> Tensor:
    """The unitary FFT of values [..., n^dims, c] on a cubic grid of ``dims`` axes in C order -> complex, same shape."""
    points, channels = values.shape[-2:]
    side = round(points ** (1 / dims))
    if side**dims != points:
        raise InputError(f"a k-space transform needs the whole cubic grid, n^{dims} points; got {points}")
    grid = values.reshape(*values.shape[:-2], *(side,) * dims, channels)
    complex_type = torch.complex128 if values.dtype == torch.float64 else torch.complex64
    spectrum = torch.fft.fftn(grid.to(complex_type), dim=tuple(range(-dims - 1, -1)), norm="ortho")
    return spectrum.reshape(values.shape)


def measured_at(spectrum: Tensor, index: Tensor) -> Tensor:
    """The spectrum [..., N, c] at the flat grid indices ``index`` [M] (or one row per leading entry, [..., M])."""
    if index.dim() == 1:
        return spectrum[..., index, :]
    return spectrum.gather(-2, index[..., None].expand(*index.shape, spectrum.shape[-1]))
