"""Empirical NTK of any ``nn.Module`` mapping coordinates to values, with torch.func.

K(x_i, x_j) = sum_theta <df(x_i)/dtheta, df(x_j)/dtheta> over all trainable parameters (Jacot et al. 2018).
Per-point Jacobians come from ``vmap(jacrev(f))`` over a block of ``batch_size`` points, so memory holds at most
two blocks of Jacobians (2 x batch_size x channels x parameters floats), never parameters x all points.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal

import torch
from torch import Tensor, nn
from torch.func import functional_call, jacrev, vmap

from inr.core.devices import seeded
from inr.core.errors import InputError

Output = Literal["trace", "full"]


def _jacobian_fn(model: nn.Module) -> Callable[[Tensor], dict[str, Tensor]]:
    """Jacobian of ``model`` per point: coords [B, in_dim] -> {name: [B, c, *param.shape]}.

    A complex parameter (WIRE) counts as its real and imaginary parts, two real parameters each: its Jacobian is
    taken w.r.t. ``view_as_real(param)``, [B, c, *param.shape, 2].
    """
    params = {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}
    complex_names = {name for name, p in params.items() if p.is_complex()}
    params = {name: torch.view_as_real(p) if name in complex_names else p for name, p in params.items()}
    buffers = {name: b.detach() for name, b in model.named_buffers()}

    def single(theta: dict[str, Tensor], x: Tensor) -> Tensor:
        theta = {name: torch.view_as_complex(p) if name in complex_names else p for name, p in theta.items()}
        out = functional_call(model, (theta, buffers), (x[None],))
        return out.reshape(-1)  # [c]

    per_point = vmap(jacrev(single), in_dims=(None, 0))
    return lambda coords: per_point(params, coords)


def _blocks(count: int, size: int) -> Iterator[slice]:
    for start in range(0, count, size):
        yield slice(start, min(start + size, count))


def _contract(jac1: dict[str, Tensor], jac2: dict[str, Tensor], output: Output) -> Tensor:
    """Sum over parameters of J1 J2^T: [B1, c, ...] x [B2, c, ...] -> [B1, B2] (trace / c) or [B1, B2, c, c]."""
    total = None
    for name, j1 in jac1.items():
        j2 = jac2[name]
        b1, c = j1.shape[:2]
        b2 = j2.shape[0]
        block = j1.reshape(b1 * c, -1) @ j2.reshape(b2 * c, -1).T  # [B1 c, B2 c]
        total = block if total is None else total + block
    full = total.reshape(b1, c, b2, c).permute(0, 2, 1, 3)  # [B1, B2, c, c]
    if output == "full":
        return full
    return full.diagonal(dim1=2, dim2=3).mean(-1)


def _sq_norms(jac: dict[str, Tensor]) -> Tensor:
    """Per-point squared Jacobian norm, averaged over channels: [B] (the ``trace`` diagonal K(x, x))."""
    total = sum(j.reshape(j.shape[0], j.shape[1], -1).pow(2).sum(-1) for j in jac.values())
    return total.mean(-1)


def empirical_ntk(
    model: nn.Module,
    x1: Tensor,
    x2: Tensor | None = None,
    *,
    batch_size: int = 256,
    normalize: bool = False,
    output: Output = "trace",
    progress: bool = False,
) -> Tensor:
    """Empirical NTK of ``model`` between two sets of points, computed block by block.

    Args:
        model: maps coords [B, in_dim] -> values [B, c] (e.g. ``nn.Sequential(encoder, network)``).
        x1: coordinates [N, in_dim].
        x2: coordinates [M, in_dim]; ``None`` means ``x1`` (the symmetric Gram matrix, half the work).
        batch_size: points per Jacobian block; memory ~ 2 x batch_size x c x parameters floats.
        normalize: divide by sqrt(K(x, x) K(x', x')) so that K(x, x) = 1 (per-point gradient normalisation).
        output: ``"trace"``: mean over the c output channels of the diagonal blocks, [N, M];
            ``"full"``: every channel pair, [N, M, c, c].
        progress: show a tqdm bar over blocks.

    Returns:
        K [N, M] (or [N, M, c, c]) in the model's dtype, on the coordinates' device.
    """
    if batch_size < 1:
        raise InputError(f"empirical_ntk batch_size must be >= 1, got {batch_size}")
    if output not in ("trace", "full"):
        raise InputError(f"empirical_ntk output must be 'trace' or 'full', got {output!r}")
    if x1.ndim != 2:
        raise InputError(f"empirical_ntk expects coordinates [N, in_dim], got shape {tuple(x1.shape)}")
    symmetric = x2 is None
    x2 = x1 if symmetric else x2
    jacobian = _jacobian_fn(model)
    rows, cols = list(_blocks(len(x1), batch_size)), list(_blocks(len(x2), batch_size))
    kernel: Tensor | None = None
    dtype = next(p for p in model.parameters() if p.requires_grad).dtype
    diag1 = torch.empty(len(x1), device=x1.device, dtype=dtype)
    diag2 = diag1 if symmetric else torch.empty(len(x2), device=x2.device, dtype=dtype)
    pairs = sum(len(cols) - i for i in range(len(rows))) if symmetric else len(rows) * len(cols)
    from tqdm.auto import tqdm

    bar = tqdm(total=pairs, desc="NTK blocks", disable=not progress)
    for i, row in enumerate(rows):
        jac1 = jacobian(x1[row])
        diag1[row] = _sq_norms(jac1).to(diag1)
        for j, col in enumerate(cols):
            if symmetric and j < i:
                continue
            jac2 = jac1 if symmetric and i == j else jacobian(x2[col])
            if i == 0 and not symmetric:
                diag2[col] = _sq_norms(jac2).to(diag2)
            block = _contract(jac1, jac2, output)
            if kernel is None:
                kernel = block.new_zeros((len(x1), len(x2), *block.shape[2:]))
            kernel[row, col] = block
            if symmetric and j > i:
                kernel[col, row] = block.transpose(0, 1).transpose(-1, -2) if output == "full" else block.T
            del jac2
            bar.update()
        del jac1
    bar.close()
    if normalize:
        scale = (diag1[:, None] * diag2[None, :]).sqrt().to(kernel)
        kernel = kernel / (scale if output == "trace" else scale[..., None, None])
    return kernel


def averaged_ntk(
    factory: Callable[[int], nn.Module],
    x1: Tensor,
    x2: Tensor | None = None,
    *,
    seeds: int | list[int] = 4,
    batch_size: int = 256,
    normalize: bool = False,
    output: Output = "trace",
    progress: bool = False,
) -> Tensor:
    """Empirical NTK averaged over random initialisations.

    Each model is built on the CPU as ``factory(seed)`` with the global RNGs seeded by ``seed`` (the caller's RNG
    states, CUDA's included, are untouched), then moved to the device of ``x1``; with ``normalize`` each seed's
    kernel is normalised before averaging.

    Args:
        factory: builds a fresh model from a seed (the seed may also go to a seeded encoder).
        x1: coordinates [N, in_dim].
        x2: coordinates [M, in_dim] or ``None`` (= ``x1``).
        seeds: number of seeds (0..seeds-1) or the list of seeds.
        batch_size: points per Jacobian block.
        normalize: K(x, x) = 1 per seed.
        output: ``"trace"`` [N, M] or ``"full"`` [N, M, c, c].
        progress: tqdm bar over seeds.

    Returns:
        Mean kernel over seeds, [N, M] (or [N, M, c, c]).
    """
    seed_list = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not seed_list:
        raise InputError("averaged_ntk needs at least one seed")
    from tqdm.auto import tqdm

    total = None
    for seed in tqdm(seed_list, desc="NTK seeds", disable=not progress):
        with seeded(seed):
            model = factory(seed).to(x1.device)
        kernel = empirical_ntk(model, x1, x2, batch_size=batch_size, normalize=normalize, output=output)
        total = kernel if total is None else total + kernel
    return total / len(seed_list)

