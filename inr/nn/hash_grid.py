"""Multiresolution hash encoding in plain PyTorch.

Müller et al. 2022, "Instant Neural Graphics Primitives with a Multiresolution Hash Encoding", Sec. 3, and
NVlabs/tiny-cuda-nn ``encodings/grid.h`` (hash primes, initialisation, dense coarse levels).

L grids of increasing resolution N_l = floor(N_min b^l), b = exp((ln N_max - ln N_min) / (L - 1)) (paper Eq. 2-3),
each holding F trainable features per vertex. A coordinate in [-1, 1] is mapped to u = (x + 1) / 2 in [0, 1] and
scaled by N_l, as in the paper: level l has N_l cells and N_l + 1 vertices per axis, vertex 0 at u = 0 and vertex
N_l at u = 1. (tiny-cuda-nn instead scales by N_min b^l - 1 and adds half a cell, so that the levels' vertices do
not line up at u = 0; both give the same cell counts up to one.)

A level whose (N_l + 1)^d vertices fit in the 2^T table rows is stored densely (row = sum_i v_i (N_l + 1)^i, no
collisions) with only as many rows as it has vertices; finer levels share 2^T rows through the spatial hash
XOR_i(v_i pi_i) mod 2^T (paper Eq. 4). All levels live in one flat table ``[rows, F]`` at per-level offsets.
The features of a point are the d-linear interpolation of its cell's 2^d corners per level, levels concatenated.
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.nn import functional

from inr.core.errors import InputError
from inr.nn.encoders import Encoder, check_options

#: the spatial hash's per-axis primes (paper Eq. 4, tiny-cuda-nn ``fast_hash``); pi_1 = 1 keeps rows coherent.
HASH_PRIMES = (1, 2654435761, 805459861)
#: Adam options of the table (paper Sec. 4: epsilon 1e-15, no L2 regularisation of the table entries).
TABLE_OPTIMIZER = {"eps": 1e-15, "weight_decay": 0.0}
#: table sizes T accepted (2^4 to 2^30 rows per level).
LOG2_TABLE_SIZES = (4, 30)
#: finest resolution accepted: vertex x prime stays below 2^63 in int64.
MAX_RESOLUTION = 2**30
INTERPOLATIONS = ("linear", "smoothstep")


def level_resolutions(levels: int, base_resolution: int, max_resolution: int) -> list[int]:
    """N_l = floor(N_min b^l) for l = 0..L-1, b = (N_max / N_min)^(1 / (L - 1)) (paper Eq. 2-3; b = 1 for L = 1).

    The factor 1 + 1e-12 absorbs float rounding, so that the finest level is exactly N_max.
    """
    if levels == 1:
        return [base_resolution]
    growth = math.exp((math.log(max_resolution) - math.log(base_resolution)) / (levels - 1))
    return [math.floor(base_resolution * growth**level * (1 + 1e-12)) for level in range(levels)]


def smoothstep(fraction: Tensor) -> Tensor:
    """3 t^2 - 2 t^3: 0 and 1 at the cell's ends with zero slope there, so second derivatives do not vanish."""
    return fraction * fraction * (3.0 - 2.0 * fraction)


class HashGrid(Encoder):
    """Multiresolution hash grid: coords [..., in_dim] in [-1, 1] -> features [..., levels * features].

    With ``linear`` interpolation every coordinate enters linearly in every cell (the features are d-linear), so a
    ReLU network on them has zero pure second derivatives, hence a zero Laplacian, almost everywhere:
    ``piecewise_linear`` is True and :class:`inr.losses.LaplacianLoss` refuses that pair. ``smoothstep`` weights
    (3t^2 - 2t^3 per axis) are smooth inside cells and give non-zero second derivatives.

    Coordinates outside [-1, 1] are clamped onto the boundary. Table entries start U(-init_scale, init_scale) from
    a generator seeded by ``seed`` (independent of the global RNG). The table trains as its own optimizer group
    (:meth:`parameter_groups`).

    Args:
        in_dim: coordinate dimension, 1 to 3.
        levels: L, number of grid resolutions.
        features: F, features per vertex and level.
        log2_table_size: T, at most 2^T table rows per level (4 to 30).
        base_resolution: N_min, cells per axis of the coarsest level.
        max_resolution: N_max, cells per axis of the finest level (>= N_min).
        interpolation: weights of the 2^d corners: ``linear`` (paper) or ``smoothstep``.
        init_scale: half-width of the uniform initialisation of the table (paper: 1e-4).
        seed: seed of the table's initialisation.
        table_optimizer: optimizer options of the table's parameter group, updating the defaults
            ``{"eps": 1e-15, "weight_decay": 0.0}`` (e.g. add ``lr`` or ``betas``); ``None`` keeps the defaults.
    """

    def __init__(
        self,
        in_dim: int,
        levels: int = 16,
        features: int = 2,
        log2_table_size: int = 19,
        base_resolution: int = 16,
        max_resolution: int = 2048,
        interpolation: Literal["linear", "smoothstep"] = "linear",
        init_scale: float = 1e-4,
        seed: int = 0,
        table_optimizer: dict[str, Any] | None = None,
    ) -> None:
        if in_dim not in (1, 2, 3):
            raise InputError(f"HashGrid in_dim must be 1, 2 or 3 (coordinate axes), got {in_dim}")
        super().__init__(in_dim)
        check_options("HashGrid", ("levels", levels, ">= 1"), ("features", features, ">= 1"),
                      ("base_resolution", base_resolution, ">= 1"), ("init_scale", init_scale, "> 0"))
        low, high = LOG2_TABLE_SIZES
        if not low <= log2_table_size <= high:
            raise InputError(f"HashGrid log2_table_size must be in {low}..{high}, got {log2_table_size}")
        if not base_resolution <= max_resolution <= MAX_RESOLUTION:
            raise InputError(f"HashGrid max_resolution must be in base_resolution ({base_resolution})..2^30, "
                             f"got {max_resolution}")
        if interpolation not in INTERPOLATIONS:
            raise InputError(f"HashGrid interpolation must be one of {list(INTERPOLATIONS)}, got {interpolation!r}")
        if table_optimizer is not None and (not isinstance(table_optimizer, dict) or "params" in table_optimizer):
            raise InputError(f"HashGrid table_optimizer must be a dict of optimizer options (no 'params'), "
                             f"got {table_optimizer!r}")
        self.levels, self.features, self.log2_table_size = levels, features, log2_table_size
        self.interpolation = interpolation
        self.piecewise_linear = interpolation == "linear"
        self.table_optimizer = {**TABLE_OPTIMIZER, **(table_optimizer or {})}
        self.resolutions = level_resolutions(levels, base_resolution, max_resolution)
        vertices = [(resolution + 1) ** in_dim for resolution in self.resolutions]
        self.dense = [count <= 2**log2_table_size for count in vertices]
        self.level_rows = [count if dense else 2**log2_table_size for count, dense in zip(vertices, self.dense)]
        offsets = [0, *itertools.accumulate(self.level_rows)]
        # dense row strides (N_l + 1)^i per axis; zero on hashed levels, whose strides could overflow int64
        strides = [[(resolution + 1) ** axis if dense else 0 for axis in range(in_dim)]
                   for resolution, dense in zip(self.resolutions, self.dense)]
        corners = [[(corner >> axis) & 1 for axis in range(in_dim)] for corner in range(2**in_dim)]
        self.register_buffer("_resolutions", torch.tensor(self.resolutions), persistent=False)  # [L]
        self.register_buffer("_offsets", torch.tensor(offsets[:-1]), persistent=False)  # [L]
        self.register_buffer("_dense", torch.tensor(self.dense), persistent=False)  # [L]
        self.register_buffer("_strides", torch.tensor(strides, dtype=torch.int64), persistent=False)  # [L, d]
        self.register_buffer("_corners", torch.tensor(corners, dtype=torch.int64), persistent=False)  # [2^d, d]
        generator = torch.Generator().manual_seed(seed)
        table = torch.empty(offsets[-1], features).uniform_(-init_scale, init_scale, generator=generator)
        self.table = nn.Parameter(table)  # [sum of level rows, F]

    @property
    def out_dim(self) -> int:
        """``levels * features``."""
        return self.levels * self.features

    def parameter_groups(self) -> list[dict[str, Any]]:
        """The table's optimizer group: ``[{"params": [table], **table_optimizer}]``."""
        return [{"params": [self.table], **self.table_optimizer}]

    def encode(self, coords: Tensor) -> Tensor:
        """Encode coords [..., in_dim] in [-1, 1] -> [..., levels * features] (level-major)."""
        points = coords.reshape(-1, self.in_dim)
        unit = ((points + 1.0) * 0.5).clamp(0.0, 1.0)
        positions = unit[:, None, :] * self._resolutions.to(unit.dtype)[:, None]  # [P, L, d], in cells
        # u = 1 lies in the last cell, at fraction 1
        cells = torch.minimum(positions.detach().floor().long(), (self._resolutions - 1)[:, None])  # [P, L, d]
        fractions = positions - cells.to(positions.dtype)  # [P, L, d] in [0, 1]
        if self.interpolation == "smoothstep":
            fractions = smoothstep(fractions)
        weights = self._corner_weights(fractions)  # [P, L, 2^d]
        values = functional.embedding(self._corner_rows(cells), self.table)  # [P, L, 2^d, F]
        encoded = (weights[..., None] * values).sum(dim=-2)  # [P, L, F]
        return encoded.reshape(*coords.shape[:-1], self.out_dim)

    def _corner_weights(self, fractions: Tensor) -> Tensor:
        """Products over axes of t or 1 - t: [P, L, d] -> [P, L, 2^d] (corner c has bit i = its offset on axis i)."""
        weights = None
        for axis in range(self.in_dim):
            fraction = fractions[:, :, None, axis]  # [P, L, 1]
            factor = torch.where(self._corners[:, axis].bool(), fraction, 1.0 - fraction)  # [P, L, 2^d]
            weights = factor if weights is None else weights * factor
        return weights

    def _corner_rows(self, cells: Tensor) -> Tensor:
        """Table rows of every cell's corners: cells [P, L, d] int64 -> rows [P, L, 2^d] int64.

        The hash XORs the int64 products v_i pi_i (< 2^63) and keeps the low T bits, which equals tiny-cuda-nn's
        uint32 arithmetic mod 2^T because 2^T divides 2^32.
        """
        vertices = [cells[:, :, None, axis] + self._corners[:, axis] for axis in range(self.in_dim)]  # d x [P, L, 2^d]
        dense = sum(vertex * self._strides[:, None, axis] for axis, vertex in enumerate(vertices))
        hashed = functools.reduce(torch.bitwise_xor, [vertex * prime for vertex, prime in zip(vertices, HASH_PRIMES)])
        hashed = hashed & (2**self.log2_table_size - 1)
        return torch.where(self._dense[:, None], dense, hashed) + self._offsets[:, None]

