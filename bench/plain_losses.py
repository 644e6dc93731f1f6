"""Hand-written PyTorch losses for the step-time benchmark: what a researcher would write without inr.

Each takes the network, the batch (``coords [N, d]`` plus targets) and returns the scalar loss, derivatives by
``torch.autograd.grad`` as in the official SIREN code. They compute exactly inr's losses (same reductions), so the
benchmark compares the same arithmetic.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def _input_gradient(network: nn.Module, coords: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(coords with grad, outputs [N, 1], gradient [N, d])`` of a scalar network."""
    coords = coords.detach().requires_grad_(True)
    outputs = network(coords)
    (gradient,) = torch.autograd.grad(outputs.sum(), coords, create_graph=True)
    return coords, outputs, gradient


def value_loss(network: nn.Module, batch: dict[str, Tensor]) -> Tensor:
    """MSE of the outputs against ``values [N, c]``."""
    return (network(batch["coords"]) - batch["values"]).square().mean()


def projection_loss(network: nn.Module, batch: dict[str, Tensor]) -> Tensor:
    """MSE of the midpoint-rule integrals along rays ``coords [R, S, 2]`` against ``projections [R, 1]``."""
    integrals = (network(batch["coords"]) * batch["ray_lengths"][..., None]).sum(dim=-2)
    return (integrals - batch["projections"]).square().mean()


def gradient_loss(network: nn.Module, batch: dict[str, Tensor]) -> Tensor:
    """Mean over points of |grad f - target|^2 against ``gradients [N, 1, d]``."""
    _, _, gradient = _input_gradient(network, batch["coords"])
    return (gradient - batch["gradients"][:, 0]).square().sum(dim=-1).mean()


def laplacian_loss(network: nn.Module, batch: dict[str, Tensor]) -> Tensor:
    """Mean over points of (Laplacian f - target)^2 against ``laplacians [N, 1]``."""
    coords, _, gradient = _input_gradient(network, batch["coords"])
    laplacian = sum(torch.autograd.grad(gradient[:, axis].sum(), coords, create_graph=True)[0][:, axis]
                    for axis in range(coords.shape[1]))
    return (laplacian - batch["laplacians"][:, 0]).square().mean()


def sdf_loss(network: nn.Module, batch: dict[str, Tensor]) -> Tensor:
    """SIREN's SDF loss: 3e3 |f| + 1e2 (1 - cos) on the surface, 5e1 eikonal everywhere, 1e2 exp(-100 |f|) off it.

    Each term is a mean over all points with the other subset counted as zero, as in SIREN's code.
    """
    _, outputs, gradient = _input_gradient(network, batch["coords"])
    on = batch["on_surface"]
    sdf = outputs[:, 0]
    zero = torch.zeros_like(sdf)
    surface = torch.where(on, sdf.abs(), zero).mean()
    normal = torch.where(on, 1 - F.cosine_similarity(gradient, batch["normals"], dim=-1), zero).mean()
    eikonal = (gradient.norm(dim=-1) - 1).abs().mean()
    off_surface = torch.where(on, zero, torch.exp(-100.0 * sdf.abs())).mean()
    return 3e3 * surface + 1e2 * normal + 5e1 * eikonal + 1e2 * off_surface


def sdf_batch(points: Tensor, normals: Tensor, count: int, generator: torch.Generator) -> dict[str, Tensor]:
    """``count`` random surface points with normals, then ``count`` uniform in [-1, 1]^3, drawn on their device."""
    index = torch.randint(points.shape[0], (count,), generator=generator, device=points.device)
    off = torch.rand((count, 3), generator=generator, device=points.device) * 2 - 1
    return {"coords": torch.cat([points[index], off]), "normals": torch.cat([normals[index], torch.zeros_like(off)]),
            "on_surface": torch.arange(2 * count, device=points.device) < count}


def plain_step(network: nn.Module, optimizer: torch.optim.Optimizer, loss_fn, batch: dict[str, Tensor],
               chunk: int | None = None) -> Tensor:
    """One Adam step on ``loss_fn``; ``chunk`` splits the batch into pieces with gradient accumulation."""
    optimizer.zero_grad()
    count = batch["coords"].shape[0]
    chunk = chunk or count
    total = torch.zeros((), device=batch["coords"].device)
    for start in range(0, count, chunk):
        piece = {key: value[start : start + chunk] for key, value in batch.items()}
        loss = loss_fn(network, piece) * (piece["coords"].shape[0] / count)
        loss.backward()
        total += loss.detach()
    optimizer.step()
    return total
