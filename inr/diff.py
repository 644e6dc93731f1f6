"""Derivatives of network outputs with respect to input coordinates, via torch.autograd.

Shapes: ``coords [N, d]`` (requires_grad), ``outputs [N, c]``; gradient ``[N, c, d]``; Laplacian ``[N, c]``.
``create_graph=True`` keeps the graph so that losses on derivatives can be trained (and differentiated again).
"""

from __future__ import annotations

import torch
from torch import Tensor


def gradient(outputs: Tensor, coords: Tensor, create_graph: bool = True) -> Tensor:
    """Jacobian of each output channel w.r.t. the coordinates: [N, c] x [N, d] -> [N, c, d].

    Each point's output depends only on its own coordinates, so one backward pass per channel gives
    the per-point gradients.
    """
    if not coords.requires_grad:
        raise ValueError("gradient needs coords with requires_grad=True (set by the module when a loss needs it)")
    rows = []
    for channel in range(outputs.shape[-1]):
        (grad,) = torch.autograd.grad(
            outputs[..., channel].sum(), coords, create_graph=create_graph, retain_graph=True
        )
        rows.append(grad)
    return torch.stack(rows, dim=-2)


def divergence(field: Tensor, coords: Tensor, create_graph: bool = True) -> Tensor:
    """Divergence of a per-point vector field per channel: field [N, c, d], coords [N, d] -> [N, c]."""
    channels = []
    for channel in range(field.shape[-2]):
        total = torch.zeros_like(field[..., channel, 0])
        for axis in range(field.shape[-1]):
            (grad,) = torch.autograd.grad(
                field[..., channel, axis].sum(), coords, create_graph=create_graph, retain_graph=True
            )
            total = total + grad[..., axis]
        channels.append(total)
    return torch.stack(channels, dim=-1)


def laplacian(outputs: Tensor, coords: Tensor, grad: Tensor | None = None, create_graph: bool = True) -> Tensor:
    """Trace of the Hessian of each output channel: [N, c] -> [N, c]. Reuses ``grad`` [N, c, d] if given."""
    grad = gradient(outputs, coords) if grad is None else grad
    return divergence(grad, coords, create_graph=create_graph)
