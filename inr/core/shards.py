"""Members divided over processes: each rank fits a contiguous range."""

from __future__ import annotations

from inr.core.errors import InputError


def shard_range(members: int, world: int, rank: int) -> slice:
    """Members of ``rank`` among ``world`` processes: contiguous, sizes differing by at most one, rank 0 first."""
    if members < world:
        raise InputError(f"{members} members cannot be sharded over {world} processes: each process needs at least "
                         "one member (use fewer --trainer.devices)")
    base, extra = divmod(members, world)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (1 if rank < extra else 0))
