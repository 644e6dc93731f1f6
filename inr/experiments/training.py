"""A plain full-batch training loop for the experiments (small problems: no Lightning, no data loader)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from inr.core.chunks import chunk_slices, evaluate_in_chunks


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
        for piece in chunk_slices(count, chunk):
            loss = (model(coords[piece]) - values[piece]).pow(2).sum() / (count * values.shape[1])
            loss.backward()
            total += loss.detach()
        opt.step()
        losses.append(total)
    return torch.stack(losses).tolist() if losses else []  # read once: no host sync per step


@torch.no_grad()
def predict(model: nn.Module, coords: Tensor, chunk: int = 16384) -> Tensor:
    """Evaluate ``model`` on coords [N, d] in chunks of ``chunk`` points -> [N, c]."""
    return evaluate_in_chunks(model, coords, chunk)
