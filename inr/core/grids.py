"""Coordinate grids over [-1, 1]^d, one convention for every signal, renderer and experiment.

A signal's samples sit at ``linspace(-1, 1, n)`` along each axis, both ends included: sample 0 at -1, sample n - 1 at
+1 (SIREN's ``get_mgrid``). Points are listed in C order of the axes given (for an image: rows, then columns; the
first coordinate is y). ``periodic=True`` drops the +1 end (``x = 2 i / n - 1``, [-1, 1)): the grid of one period
of a periodic function, for the spectral experiments, whose FFTs need the n samples to tile the line without
repeating the end point.
"""

from __future__ import annotations

import torch
from torch import Tensor

from inr.core.errors import InputError


def axis(size: int, periodic: bool = False) -> Tensor:
    """The ``size`` sample positions along one axis, [size]: ``linspace(-1, 1, size)``, or ``2 i / size - 1``."""
    if size < 1:
        raise InputError(f"a grid axis needs at least 1 point, got {size}")
    if periodic:
        return 2 * torch.arange(size) / size - 1
    return torch.linspace(-1.0, 1.0, size)


def grid(shape: tuple[int, ...] | list[int], periodic: bool = False) -> Tensor:
    """Coordinates of a grid of ``shape`` in C order, [prod(shape), len(shape)] (coordinate k along axis k)."""
    return product(*(axis(size, periodic) for size in shape))


def product(*axes: Tensor) -> Tensor:
    """Every combination of the given axis positions in C order, [prod(len(axis)), len(axes)]."""
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, len(axes))


def interpolate(values: Tensor, points: Tensor) -> Tensor:
    """A signal on the grid of ``values [*shape, c]`` (2 or 3 axes), linearly interpolated at ``points [..., d]``.

    Points use the grid's convention (sample i of an axis of n at ``-1 + 2 i / (n - 1)``, coordinate k along axis k);
    outside [-1, 1]^d the signal is 0. Returns [..., c] in the dtype of ``values``.
    """
    from torch.nn import functional as F

    dims = values.dim() - 1
    if dims not in (2, 3) or points.shape[-1] != dims:
        raise InputError(f"interpolate needs values [*shape, c] on 2 or 3 axes and points [..., {dims}], got "
                         f"{tuple(values.shape)} and {tuple(points.shape)}")
    grid = points.to(values.dtype).reshape(1, *([1] * (dims - 1)), -1, dims).flip(-1)  # grid_sample wants (x, y[, z])
    field = values.movedim(-1, 0)[None]  # [1, c, *shape]
    sampled = F.grid_sample(field, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return sampled.reshape(values.shape[-1], -1).T.reshape(*points.shape[:-1], values.shape[-1])
