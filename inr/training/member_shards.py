"""Members sharded over processes: each rank fits a disjoint, contiguous range of the K members.

Members share nothing, so nothing is averaged across ranks: rank r evaluates and trains only its shard (the other
members' rows of the stacked parameters get zero gradients there and are never used). Before a checkpoint is
written, and at the end of fitting, :func:`gather_members` gives every rank every member's current parameters and
optimizer state (each rank contributes its own rows), so a checkpoint holds all members whatever the number of
processes and resumes on any other number. Validation gathers the shards' metric rows into one table.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from inr.training.distributed import liveness


def _as_real(tensor: Tensor) -> Tensor:
    return torch.view_as_real(tensor) if tensor.is_complex() else tensor


def gather_members(parameters: Iterable[nn.Parameter], optimizers: Iterable[torch.optim.Optimizer], members: int,
                   shard: slice) -> None:
    """Give every rank every member's rows of the stacked ``parameters`` and of their optimizer state, in place.

    Each rank keeps its own shard's rows and zeroes the others; one sum all-reduce then assembles the whole.
    State entries with a leading member axis (Adam's moments) travel with their parameter; scalars (the step
    count, the same on every rank) stay as they are.
    """
    parameters = [parameter for parameter in parameters if parameter.dim() > 0 and parameter.shape[0] == members]
    tensors: list[Tensor] = [parameter.data for parameter in parameters]
    for optimizer in optimizers:
        for parameter in parameters:
            for value in optimizer.state.get(parameter, {}).values():
                if isinstance(value, Tensor) and value.dim() > 0 and value.shape[0] == members:
                    tensors.append(value)
    if not tensors:
        return
    views = [_as_real(tensor) for tensor in tensors]
    flat = torch.cat([_masked(view, shard).reshape(-1) for view in views])
    liveness.note_reduction()
    dist.all_reduce(flat)
    offset = 0
    for view in views:
        view.copy_(flat[offset : offset + view.numel()].view_as(view))
        offset += view.numel()


def _masked(view: Tensor, shard: slice) -> Tensor:
    """A copy of ``view`` with every row outside ``shard`` zeroed."""
    masked = torch.zeros_like(view)
    masked[shard] = view[shard]
    return masked


def gather_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every rank's list of per-member rows, concatenated in rank order (the members' order), on every rank."""
    gathered: list[list[dict[str, Any]]] = [[] for _ in range(dist.get_world_size())]
    liveness.note_reduction()
    dist.all_gather_object(gathered, rows)
    return [row for part in gathered for row in part]


def all_reduce_terms(terms: Tensor, members: int) -> Tensor:
    """Loss terms [T], each rank's mean over its ``members``, as the mean over all ranks' members."""
    flat = torch.cat([terms * members, terms.new_full((1,), float(members))])
    liveness.note_reduction()
    dist.all_reduce(flat)
    return flat[:-1] / flat[-1]
