"""Derivatives of network outputs with respect to input coordinates, via torch.autograd.

Shapes: ``coords [..., N, d]`` (requires_grad), ``outputs [..., N, c]``; gradient ``[..., N, c, d]``; Laplacian
``[..., N, c]``: any leading axes (e.g. independent signals) pass through.
``create_graph=True`` keeps the graph so that losses on derivatives can be trained (and differentiated again).
Each point's output depends only on its own coordinates, so a backward pass of the *sum* over points gives every
point's derivative at once: the gradient costs c backward passes and the Laplacian c * d more.

SIREN (Sitzmann et al. 2020, Sec. 3) fits signals through these derivatives: the derivative of a SIREN is itself
a SIREN, so gradient and Laplacian supervision are well posed.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from inr.core.chunks import evaluate_in_chunks
from inr.core.errors import UnsupportedSetupError


def _grad(total: Tensor, coords: Tensor, create_graph: bool) -> Tensor:
    """Derivative of ``total`` w.r.t. coords [N, d]; zeros where it does not depend on them (linear network)."""
    if not total.requires_grad:
        return torch.zeros_like(coords)
    (grad,) = torch.autograd.grad(total, coords, create_graph=create_graph, retain_graph=True, allow_unused=True)
    return torch.zeros_like(coords) if grad is None else grad


def gradient(outputs: Tensor, coords: Tensor, create_graph: bool = True) -> Tensor:
    """Jacobian of each output channel w.r.t. the coordinates: [N, c] x [N, d] -> [N, c, d].

    Args:
        outputs: network outputs [N, c], computed from ``coords``.
        coords: input coordinates [N, d] with ``requires_grad=True``.
        create_graph: keep the graph (needed to train on the gradient or to take the Laplacian).

    Returns:
        Per-point gradients [N, c, d], in output units per coordinate unit.
    """
    if not coords.requires_grad:
        raise ValueError("gradient needs coords with requires_grad=True (set by the module when a loss needs it)")
    rows = [_grad(outputs[..., channel].sum(), coords, create_graph) for channel in range(outputs.shape[-1])]
    return torch.stack(rows, dim=-2)


def divergence(field: Tensor, coords: Tensor, create_graph: bool = True) -> Tensor:
    """Divergence of a per-point vector field per channel: field [N, c, d], coords [N, d] -> [N, c]."""
    channels = []
    for channel in range(field.shape[-2]):
        total = torch.zeros_like(field[..., channel, 0])
        for axis in range(field.shape[-1]):
            total = total + _grad(field[..., channel, axis].sum(), coords, create_graph)[..., axis]
        channels.append(total)
    return torch.stack(channels, dim=-1)


def laplacian(outputs: Tensor, coords: Tensor, grad: Tensor | None = None, create_graph: bool = True) -> Tensor:
    """Trace of the Hessian of each output channel: [N, c] -> [N, c]. Reuses ``grad`` [N, c, d] if given.

    ``grad``, when given, must have been computed with ``create_graph=True``.
    """
    grad = gradient(outputs, coords, create_graph=True) if grad is None else grad
    return divergence(grad, coords, create_graph=create_graph)


def evaluate_with_derivatives(
    function: Callable[[Tensor], Tensor], coords: Tensor, chunk_size: int, with_laplacian: bool = True,
    members: bool = False,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Values, gradients and (optionally) Laplacians of ``function`` at ``coords``, in chunks, without training graph.

    For validation and pictures: memory is bounded by one chunk, results are detached. Works inside ``no_grad``
    (as Lightning's validation loop runs) but not inside ``inference_mode``.

    Args:
        function: the representation, coords [n, d] -> values [n, c].
        coords: all coordinates [N, d].
        chunk_size: most points differentiated at once.
        with_laplacian: also compute the Laplacian (c * d more backward passes).
        members: coords [K, N, d] of K members, outputs with the same leading axis (chunks split the points).

    Returns:
        ``values [N, c]``, ``gradient [N, c, d]`` and ``laplacian [N, c]`` (None unless ``with_laplacian``).
    """
    if torch.is_inference_mode_enabled():
        raise UnsupportedSetupError("derivatives cannot be taken under torch.inference_mode; "
                                    "set trainer.inference_mode: false")

    def derivatives(chunk: Tensor) -> tuple[Tensor, ...]:
        chunk = chunk.detach().requires_grad_(True)
        outputs = function(chunk)
        grad = gradient(outputs, chunk, create_graph=with_laplacian)
        if not with_laplacian:
            return outputs.detach(), grad.detach()
        return outputs.detach(), grad.detach(), laplacian(outputs, chunk, grad=grad, create_graph=False).detach()

    with torch.enable_grad():
        results = evaluate_in_chunks(derivatives, coords, chunk_size, members=members)
    return (*results, None) if not with_laplacian else results
