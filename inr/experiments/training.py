"""A plain full-batch training loop for the experiments (small problems: no Lightning, no data loader)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn


def psnr(prediction: Tensor, target: Tensor, peak: float = 1.0) -> float:
    """PSNR in dB of ``prediction`` vs ``target`` (same shape) for signals of range ``peak``."""
    mse = (prediction - target).pow(2).mean().item()
    return math.inf if mse == 0 else 10 * math.log10(peak**2 / mse)


def fit_full_batch(
    model: nn.Module,
    coords: Tensor,
    values: Tensor,
    steps: int,
    optimizer: Callable[[list[nn.Parameter]], torch.optim.Optimizer],
    chunk: int = 16384,
) -> list[float]:
    """Minimise the mean squared error over all points for ``steps`` steps; returns the loss per step.

    Args:
        model: coords [N, d] -> values [N, c], on the device of ``coords``.
        coords: [N, d] in [-1, 1].
        values: [N, c] targets.
        steps: full-batch optimisation steps.
        optimizer: builds the optimizer from the parameters (e.g. ``lambda p: torch.optim.Adam(p, lr=1e-3)``).
        chunk: points per forward pass (gradients accumulate over chunks; the step is still full-batch).
    """
    opt = optimizer(list(model.parameters()))
    losses = []
    count = coords.shape[0]
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        total = torch.zeros((), device=coords.device)
        for start in range(0, count, chunk):
            piece = slice(start, start + chunk)
            loss = (model(coords[piece]) - values[piece]).pow(2).sum() / (count * values.shape[1])
            loss.backward()
            total += loss.detach()
        opt.step()
        losses.append(total)
    return torch.stack(losses).tolist() if losses else []  # read once: no host sync per step


@torch.no_grad()
def predict(model: nn.Module, coords: Tensor, chunk: int = 16384) -> Tensor:
    """Evaluate ``model`` on coords [N, d] in chunks -> [N, c]."""
    return torch.cat([model(coords[start : start + chunk]) for start in range(0, coords.shape[0], chunk)])
