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
