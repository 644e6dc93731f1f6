"""Cross-sections, spectra and eigendecompositions of NTK Gram matrices (Tancik et al. 2020, Figs. 2-3).

On a 1D periodic grid a stationary kernel is a function of x - x' only: one row (a cross-section) describes it,
and its FFT magnitude is the kernel's spectrum, i.e. how fast each frequency of the target is learned.
"""

from __future__ import annotations

import torch
from torch import Tensor


def cross_section(kernel: Tensor, index: int | None = None) -> Tensor:
    """Row ``index`` of K [N, N] (default the middle point), rolled so that the point sits at N // 2: [N]."""
    count = kernel.shape[0]
    index = count // 2 if index is None else index
    return torch.roll(kernel[index], count // 2 - index)


def stationary_profile(kernel: Tensor) -> Tensor:
    """Mean of K(x_i, x_{i+k}) over i, indices modulo N: [N], offset k = 0..N-1 (circular diagonals).

    For a stationary kernel on a periodic grid this is any row; for a non-stationary one (a plain ReLU MLP)
    it is the stationary kernel nearest in the least-squares sense.
    """
    count = kernel.shape[0]
    rows = torch.arange(count, device=kernel.device)
    offsets = (rows[None, :] + rows[:, None]) % count  # [i, k] -> i + k
    return kernel.gather(1, offsets).mean(0)


def spectrum(profile: Tensor) -> Tensor:
    """|rfft| of a kernel profile [N] sampled on a uniform grid -> [N // 2 + 1], index = cycles over the grid.

    Normalised so that the largest magnitude is 1 (compare shapes across kernels of different scales).
    """
    magnitude = torch.fft.rfft(profile.to(torch.float64)).abs()
    return magnitude / magnitude.max().clamp_min(1e-300)


def eigen(kernel: Tensor) -> tuple[Tensor, Tensor]:
    """Eigendecomposition of a symmetric PSD Gram matrix K [N, N].

    Returns:
        eigenvalues [N] in decreasing order (negative round-off clamped to 0) and eigenvectors [N, N] (columns).
    """
    symmetric = 0.5 * (kernel + kernel.T)
    values, vectors = torch.linalg.eigh(symmetric)
    return values.flip(0).clamp_min(0.0), vectors.flip(1)
