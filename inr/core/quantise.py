"""Uniform quantisation of a network's tensors into integer symbols, and back.

A tensor is cut into groups (the whole tensor, or one group per output channel: the rows of a weight [out, in]);
group g's values are mapped onto ``2^bits`` levels spaced ``step_g`` apart from ``low_g``:
``symbol = round((w - low_g) / step_g)``, ``w' = low_g + symbol * step_g``. With the range step
``(max_g - min_g) / (2^bits - 1)`` every value is within ``step_g / 2`` of its reconstruction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from inr.core.errors import InputError

#: the bit depths a tensor may be quantised to.
BITS = range(2, 17)


@dataclass(frozen=True)
class Quantised:
    """One tensor as symbols: ``symbols`` [numel] int64 in [0, 2^bits), ``low`` and ``step`` [groups] float32."""

    shape: tuple[int, ...]
    bits: int
    per_channel: bool
    low: Tensor
    step: Tensor
    symbols: Tensor

    def dequantise(self) -> Tensor:
        """The reconstruction, float32 of ``shape``."""
        groups = self.low.numel()
        values = self.symbols.reshape(groups, -1).float() * self.step[:, None] + self.low[:, None]
        return values.reshape(self.shape)


def _grouped(tensor: Tensor, per_channel: bool) -> Tensor:
    """``tensor`` as [groups, values]: one row per output channel (dim 0), or one row."""
    flat = tensor.detach().float().cpu()
    return flat.reshape(flat.shape[0], -1) if per_channel and flat.dim() >= 2 else flat.reshape(1, -1)


def quantise(tensor: Tensor, bits: int, per_channel: bool = False) -> Quantised:
    """``tensor`` uniformly quantised to ``bits`` bits over each group's range (see the module docstring)."""
    if bits not in BITS:
        raise InputError(f"quantisation bits must be in {BITS.start}..{BITS.stop - 1}, got {bits}")
    if not torch.isfinite(tensor).all():
        raise InputError("cannot quantise a tensor holding NaN or infinite values")
    groups = _grouped(tensor, per_channel)
    low, high = groups.min(dim=1).values, groups.max(dim=1).values
    levels = 2**bits - 1
    step = (high - low) / levels
    step = torch.where(step > 0, step, torch.ones_like(step))  # a constant group: every symbol is 0
    symbols = torch.round((groups - low[:, None]) / step[:, None]).clamp(0, levels).long()
    return Quantised(tuple(tensor.shape), bits, per_channel and tensor.dim() >= 2, low, step, symbols.reshape(-1))
