"""Uniform quantisation of a network's tensors into integer symbols, and back.

A tensor is cut into groups (the whole tensor, or one group per output channel: the rows of a weight [out, in]);
group g's values are mapped onto ``2^bits`` levels spaced ``step_g`` apart from ``low_g``:
``symbol = round((w - low_g) / step_g)``, ``w' = low_g + symbol * step_g``. With the range step
``(max_g - min_g) / (2^bits - 1)`` every value is within ``step_g / 2`` of its reconstruction. The MSE step
shrinks each group's range about its centre (by the factor of :data:`CLIP_FACTORS` with the least squared error):
the few extreme values are clipped, every other value gets a finer step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from inr.core.errors import InputError

#: the bit depths a tensor may be quantised to.
BITS = range(2, 17)
#: the fractions of a group's range the MSE step tries.
CLIP_FACTORS = tuple(round(0.5 + 0.05 * index, 2) for index in range(11))


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


def _levels(groups: Tensor, low: Tensor, high: Tensor, levels: int) -> tuple[Tensor, Tensor]:
    """(step [G], symbols [G, n]) of ``groups`` on ``levels + 1`` levels from ``low`` to ``high`` (clamped)."""
    step = (high - low) / levels
    step = torch.where(step > 0, step, torch.ones_like(step))  # a constant group: every symbol is 0
    return step, torch.round((groups - low[:, None]) / step[:, None]).clamp(0, levels).long()


def quantise(tensor: Tensor, bits: int, per_channel: bool = False, step: str = "range") -> Quantised:
    """``tensor`` uniformly quantised to ``bits`` bits per group, with the ``range`` or the ``mse`` step."""
    if bits not in BITS:
        raise InputError(f"quantisation bits must be in {BITS.start}..{BITS.stop - 1}, got {bits}")
    if step not in ("range", "mse"):
        raise InputError(f"quantisation step must be range or mse, got {step!r}")
    if not torch.isfinite(tensor).all():
        raise InputError("cannot quantise a tensor holding NaN or infinite values")
    groups = _grouped(tensor, per_channel)
    low, high = groups.min(dim=1).values, groups.max(dim=1).values
    levels = 2**bits - 1
    best_low, (best_step, best_symbols) = low, _levels(groups, low, high, levels)
    if step == "mse":
        centre, half = (low + high) / 2, (high - low) / 2
        best_error = (best_symbols * best_step[:, None] + low[:, None] - groups).square().mean(dim=1)
        for factor in CLIP_FACTORS[:-1]:  # the last, 1.0, is the range step
            trial_low = centre - factor * half
            trial_step, symbols = _levels(groups, trial_low, centre + factor * half, levels)
            error = (symbols * trial_step[:, None] + trial_low[:, None] - groups).square().mean(dim=1)
            better = error < best_error
            best_error = torch.where(better, error, best_error)
            best_low = torch.where(better, trial_low, best_low)
            best_step = torch.where(better, trial_step, best_step)
            best_symbols = torch.where(better[:, None], symbols, best_symbols)
    return Quantised(tuple(tensor.shape), bits, per_channel and tensor.dim() >= 2, best_low, best_step,
                     best_symbols.reshape(-1))
