"""Coordinate encoders applied before the network.

Fourier feature mappings follow Tancik et al. 2020, "Fourier Features Let Networks Learn High Frequency
Functions in Low Dimensional Domains", and the NeRF positional encoding (Mildenhall et al. 2020).

Every encoder takes coordinates in [-1, 1] (the range the DataModules produce) over any leading dimensions,
``coords[..., in_dim] -> features[..., out_dim]``. The Fourier encoders first map [-1, 1] onto the papers' unit
domain u = (x + 1) / 2 in [0, 1] and use phases 2 pi b u, so frequencies b are in cycles per signal extent and
match the papers' numbers. Their lowest frequency is at most one cycle over the whole range (b = 1 for the
deterministic encoders), so no two interior coordinates share a code (no aliasing); like the papers' [0, 1)
setup, the mapping is periodic with period 1 in u.

Every encoder runs in full float32 (:func:`inr.core.precision.full_float32`), also under mixed precision: subclasses
implement ``encode`` and the base class's ``forward`` calls it with autocast off.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from inr.core.errors import InputError
from inr.core.precision import at_least_float32, full_float32


class Encoder(nn.Module):
    """Base class: ``in_dim`` given, ``out_dim`` derived from the constructor arguments.

    ``piecewise_linear`` declares whether the features are piecewise linear in the coordinates (their second
    derivatives vanish almost everywhere), as networks declare it (:class:`inr.nn.networks.CoordinateNetwork`).
    """

    #: whether the mapping is piecewise linear in the coordinates.
    piecewise_linear: bool = False

    def __init__(self, in_dim: int) -> None:
        super().__init__()
        if in_dim < 1:
            raise InputError(f"encoder in_dim must be >= 1, got {in_dim}")
        self.in_dim = in_dim

    @property
    def out_dim(self) -> int:
        """Number of output features."""
        raise NotImplementedError

    def forward(self, coords: Tensor) -> Tensor:
        """Encode coords [..., in_dim] in [-1, 1] -> features [..., out_dim], in float32 (or float64), autocast off."""
        with full_float32(coords.device.type):
            return self.encode(at_least_float32(coords))

    def encode(self, coords: Tensor) -> Tensor:
        """The mapping itself, on float32 coords [..., in_dim] -> [..., out_dim]."""
        raise NotImplementedError

    def parameter_groups(self) -> list[dict[str, Any]]:
        """Optimizer groups with options of their own (:class:`inr.nn.hash_grid.HashGrid`'s table); none here."""
        return []

    def describe(self) -> str:
        """A short name for messages."""
        return type(self).__name__


def check_options(owner: str, *rules: tuple[str, float, str]) -> None:
    """Raise :class:`InputError` for the first ``(option, value, rule)`` broken; rules: ``>= 1``, ``> 0``."""
    for option, value, rule in rules:
        if not (value >= 1 if rule == ">= 1" else value > 0):
            raise InputError(f"{owner} {option} must be {rule}, got {value}")


def _unit_domain(coords: Tensor) -> Tensor:
    """Map coordinates from [-1, 1] to the papers' unit domain [0, 1]."""
    return (coords + 1.0) * 0.5


def fourier_features(coords: Tensor, frequencies: Tensor, amplitudes: Tensor) -> Tensor:
    """[a sin(2 pi B u), a cos(2 pi B u)] for coords [..., in_dim], B [F, in_dim], a [F] -> [..., 2F]."""
    phases = (2.0 * math.pi) * (_unit_domain(coords) @ frequencies.T)
    return torch.cat([amplitudes * torch.sin(phases), amplitudes * torch.cos(phases)], dim=-1)


class Identity(Encoder):
    """No mapping: features are the coordinates themselves.

    Args:
        in_dim: coordinate dimension.
    """

    piecewise_linear = True

    def __init__(self, in_dim: int) -> None:
        super().__init__(in_dim)

    @property
    def out_dim(self) -> int:
        """Equal to ``in_dim``."""
        return self.in_dim

    def encode(self, coords: Tensor) -> Tensor:
        """Return ``coords`` unchanged, [..., in_dim]."""
        return coords


class FourierFeatures(Encoder):
    """Base of the encoders ``[a sin(2 pi B u), a cos(2 pi B u)]`` with u = (x + 1) / 2.

    Subclasses set the buffers ``frequencies`` B [F, in_dim] (cycles over the [-1, 1] range) and ``amplitudes`` a [F].
    """

    frequencies: Tensor
    amplitudes: Tensor

    @property
    def out_dim(self) -> int:
        """2 x the number of frequencies F."""
        return 2 * self.frequencies.shape[0]

    def encode(self, coords: Tensor) -> Tensor:
        """Encode coords [..., in_dim] in [-1, 1] -> [..., 2F]."""
        return fourier_features(coords, self.frequencies, self.amplitudes)


class BasicFourier(FourierFeatures):
    """Band-limited Fourier features with power-law amplitudes (Tancik et al. 2020, Sec. 6.1).

    Per axis k and j = 1..band_limit: frequency b_j = j along axis k, amplitude a_j = 1 / j^p.
    Output [a sin(2 pi b u), a cos(2 pi b u)] / ||a||, so every feature vector has unit norm.
    ``p = inf`` keeps only j = 1 (the paper's "basic" mapping).

    Args:
        in_dim: coordinate dimension.
        band_limit: highest frequency per axis, in cycles over the [-1, 1] range (>= 1).
        p: amplitude decay exponent (>= 0, may be ``inf``).
    """

    def __init__(self, in_dim: int, band_limit: int = 16, p: float = 1.0) -> None:
        super().__init__(in_dim)
        if band_limit < 1:
            raise InputError(f"BasicFourier band_limit must be >= 1, got {band_limit}")
        if not p >= 0:
            raise InputError(f"BasicFourier p must be >= 0 (or inf), got {p}")
        self.band_limit = band_limit
        self.p = p
        orders = torch.arange(1, (1 if math.isinf(p) else band_limit) + 1, dtype=torch.float64)
        amplitudes = orders.pow(-p) if not math.isinf(p) else torch.ones(1, dtype=torch.float64)
        eye = torch.eye(in_dim, dtype=torch.float64)
        frequencies = (eye[:, None, :] * orders[None, :, None]).reshape(-1, in_dim)  # [in_dim * J, in_dim]
        amplitudes = amplitudes.repeat(in_dim)
        amplitudes = amplitudes / amplitudes.norm()
        self.register_buffer("frequencies", frequencies.float(), persistent=False)
        self.register_buffer("amplitudes", amplitudes.float(), persistent=False)

class PositionalEncoding(Encoder):
    """NeRF-style positional encoding with log-linear frequencies.

    Per axis, frequencies sigma^(j / m) for j = 0..m-1 (m = ``num_frequencies``), features
    [sin(2 pi f u), cos(2 pi f u)], optionally preceded by the raw coordinates.

    Args:
        in_dim: coordinate dimension.
        num_frequencies: m, frequencies per axis (>= 1).
        sigma: highest frequency scale, > 0 (frequencies run from 1 up to sigma^((m-1)/m)).
        include_input: prepend the raw coordinates to the features.
    """

    def __init__(
        self, in_dim: int, num_frequencies: int = 10, sigma: float = 256.0, include_input: bool = True
    ) -> None:
        super().__init__(in_dim)
        check_options("PositionalEncoding", ("num_frequencies", num_frequencies, ">= 1"), ("sigma", sigma, "> 0"))
        self.num_frequencies, self.sigma, self.include_input = num_frequencies, sigma, include_input
        scales = sigma ** (torch.arange(num_frequencies, dtype=torch.float64) / num_frequencies)
        eye = torch.eye(in_dim, dtype=torch.float64)
        frequencies = (eye[:, None, :] * scales[None, :, None]).reshape(-1, in_dim)
        self.register_buffer("frequencies", frequencies.float(), persistent=False)
        self.register_buffer("amplitudes", torch.ones(frequencies.shape[0]), persistent=False)

    @property
    def out_dim(self) -> int:
        """2 x in_dim x num_frequencies, plus in_dim with ``include_input``."""
        return 2 * self.frequencies.shape[0] + (self.in_dim if self.include_input else 0)

    def encode(self, coords: Tensor) -> Tensor:
        """Encode coords [..., in_dim] in [-1, 1] -> [..., out_dim]."""
        features = fourier_features(coords, self.frequencies, self.amplitudes)
        return torch.cat([coords, features], dim=-1) if self.include_input else features


class NerfPositionalEncoding(Encoder):
    """NeRF's positional encoding on the raw coordinates (Mildenhall et al. 2020; FINER's PE-MLP baseline).

    Features ``[x, sin(2^0 x), cos(2^0 x), ..., sin(2^(m-1) x), cos(2^(m-1) x)]`` in this order (each term over
    all coordinates), phases in radians of the coordinates in [-1, 1] themselves: frequency 2^k is 2^k / pi cycles
    over the range. Unlike :class:`PositionalEncoding` it is not periodic over the range.

    Args:
        in_dim: coordinate dimension.
        num_frequencies: m (>= 1); NeRF and FINER use 10 for images.
        include_input: start the features with the raw coordinates.
    """

    def __init__(self, in_dim: int, num_frequencies: int = 10, include_input: bool = True) -> None:
        super().__init__(in_dim)
        check_options("NerfPositionalEncoding", ("num_frequencies", num_frequencies, ">= 1"))
        self.num_frequencies, self.include_input = num_frequencies, include_input
        bands = 2.0 ** torch.arange(num_frequencies, dtype=torch.float64)
        self.register_buffer("bands", bands.float(), persistent=False)

    @property
    def out_dim(self) -> int:
        """in_dim x (2 num_frequencies + 1 with ``include_input``)."""
        return self.in_dim * (2 * self.num_frequencies + (1 if self.include_input else 0))

    def encode(self, coords: Tensor) -> Tensor:
        """Encode coords [..., in_dim] in [-1, 1] -> [..., out_dim]."""
        phases = coords[..., None, :] * self.bands.to(coords.dtype)[:, None]  # [..., m, in_dim]
        terms = torch.stack([torch.sin(phases), torch.cos(phases)], dim=-2).flatten(-3)  # [..., m * 2 * in_dim]
        return torch.cat([coords, terms], dim=-1) if self.include_input else terms


class GaussianFourier(FourierFeatures):
    """Gaussian random Fourier features (Tancik et al. 2020): B ~ N(0, sigma^2), fixed after construction.

    B is a persistent buffer drawn from its own generator seeded by ``seed``, so it is saved in checkpoints
    and identical after resume, independent of the global RNG.

    Args:
        in_dim: coordinate dimension.
        mapping_size: number of random frequencies (output has twice as many features).
        sigma: standard deviation of the frequencies, in cycles over the [-1, 1] range (> 0).
        seed: seed of the generator that draws B.
    """

    def __init__(self, in_dim: int, mapping_size: int = 256, sigma: float = 10.0, seed: int = 0) -> None:
        super().__init__(in_dim)
        check_options("GaussianFourier", ("mapping_size", mapping_size, ">= 1"), ("sigma", sigma, "> 0"))
        self.mapping_size, self.sigma = mapping_size, sigma
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("frequencies", torch.randn(mapping_size, in_dim, generator=generator) * sigma)
        self.register_buffer("amplitudes", torch.ones(mapping_size), persistent=False)

class FixedFourier(FourierFeatures):
    """Fourier features with a given frequency matrix B (Tancik et al. 2020, Table 1: the "basic" and "PE" rows).

    Output [a sin(2 pi B u), a cos(2 pi B u)] for u = (x + 1) / 2, with B and a exactly as given.

    Args:
        in_dim: coordinate dimension.
        frequencies: B as nested lists [F][in_dim], in cycles over the [-1, 1] range.
        amplitudes: a, one per frequency [F]; ``None`` for unit amplitudes.
    """

    def __init__(self, in_dim: int, frequencies: list[list[float]], amplitudes: list[float] | None = None) -> None:
        super().__init__(in_dim)
        try:
            matrix = torch.tensor(frequencies, dtype=torch.float32)
        except (TypeError, ValueError) as error:  # ragged rows or non-numbers
            raise InputError(f"FixedFourier frequencies must be [F, {in_dim}] numbers ({error})") from None
        if matrix.ndim != 2 or matrix.shape[0] < 1 or matrix.shape[1] != in_dim:
            raise InputError(f"FixedFourier frequencies must be [F, {in_dim}] with F >= 1, got {tuple(matrix.shape)}")
        weights = torch.ones(matrix.shape[0]) if amplitudes is None else torch.tensor(amplitudes, dtype=torch.float32)
        if weights.shape != (matrix.shape[0],):
            raise InputError(f"FixedFourier amplitudes must be [{matrix.shape[0]}], got {tuple(weights.shape)}")
        self.register_buffer("frequencies", matrix, persistent=False)
        self.register_buffer("amplitudes", weights, persistent=False)

class AxisFourier(FixedFourier):
    """The Fourier-features paper's positional encoding: per axis, m frequencies ``2^linspace(0, scale, m) - 1``.

    Tancik et al. 2020, Table 1 "positional encoding": ``m = mapping_size // in_dim`` frequencies on each axis alone
    (the first is 0: a constant sine and cosine), features [sin(2 pi B u), cos(2 pi B u)], u = (x + 1) / 2.

    Args:
        in_dim: coordinate dimension.
        mapping_size: frequencies over all axes (the paper: 256; 128 per axis in 2D, 85 in 3D).
        scale: the top frequency's exponent, 2^scale - 1 cycles over the range (the paper: 6 natural images, 3 CT).
    """

    def __init__(self, in_dim: int, mapping_size: int = 256, scale: float = 6.0) -> None:
        check_options("AxisFourier", ("mapping_size", mapping_size, ">= 1"), ("scale", scale, "> 0"))
        per_axis = mapping_size // in_dim
        if per_axis < 1:
            raise InputError(f"AxisFourier mapping_size {mapping_size} gives no frequency per axis in {in_dim}D")
        bands = 2.0 ** torch.linspace(0, scale, per_axis, dtype=torch.float64) - 1
        frequencies = (torch.eye(in_dim, dtype=torch.float64)[:, None, :] * bands[None, :, None]).reshape(-1, in_dim)
        super().__init__(in_dim, frequencies.tolist())
        self.mapping_size, self.scale = mapping_size, scale
