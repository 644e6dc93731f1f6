"""Many signals in one fit: INRModule's members (K networks stacked, :mod:`inr.nn.members`), their chunks and shards.

A batched module evaluates a range of members at a time: all of them, a process's shard when members are divided
over processes (:mod:`inr.training.member_shards`), or a group of the shard while a training step works through
its chunks. Validation computes every member's metrics; shards gather their rows, and checkpoints all members.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from inr.core.chunks import chunk_slices, evaluate_in_chunks
from inr.core.evaluation import Evaluation
from inr.core.shards import shard_range
from inr.core.signal import SignalSpec
from inr.training.baselines import baseline_values
from inr.training.member_shards import gather_members, gather_rows


def member_chunks(batch: dict[str, Tensor], size: int) -> Iterator[tuple[slice, dict[str, Tensor]]]:
    """Split every [K, N, ...] tensor of ``batch`` into pieces of at most ``size`` points over their members.

    A piece holds whole groups of members with all their points while a member's points fit (groups of
    ``size // N``), else one member's points in pieces of ``size``: each member's working set stays small and
    contiguous (on a CPU, groups that fit the caches run faster than all members at once). Yields (the members of
    the piece, the piece). An item of N may be several points (a ray: ``coords [K, R, S, d]``); it stays whole.
    """
    members, count = batch["coords"].shape[:2]
    points = batch["coords"].shape[2:-1].numel()  # points per item: 1, or a ray's samples (kept whole)
    per_member = min(count, max(1, size // points))
    for group in chunk_slices(members, max(1, size // (per_member * points))):
        for piece in chunk_slices(count, per_member):
            yield group, {key: value[group, piece] for key, value in batch.items()}


class MemberFitting:
    """The members side of :class:`~inr.training.module.INRModule`.

    A mixin: it uses the module's signal, encoder, network, metrics, chunk size and trainer.
    """

    #: this process's members while fitting on several processes (None: all).
    shard: slice | None = None

    @property
    def active_spec(self) -> SignalSpec:
        """The signal this process evaluates: all of it, or its shard of the members."""
        return self.signal if self.shard is None else self.signal.shard(self.shard)

    @property
    def sharded(self) -> bool:
        """Whether this process fits a shard of the members (a batched fit on several processes)."""
        return self.shard is not None

    def _evaluate_members(self, members: slice) -> None:
        """The members (global indices) the encoder and the network evaluate from now on."""
        for component in (self.encoder, self.network):
            component.active = members

    def _set_shard(self, shard: slice | None) -> None:
        """Evaluate and train only the members in ``shard`` (None: all)."""
        self.shard = shard
        self._evaluate_members(shard if shard is not None else slice(0, self.signal.members))

    def _activate(self, group: slice | None) -> None:
        """Evaluate the members ``group`` of this process's shard (None: the whole shard)."""
        if group is None:
            self._set_shard(self.shard)
            return
        offset = self.shard.start if self.sharded else 0
        self._evaluate_members(slice(offset + group.start, offset + group.stop))

    def shard_over_processes(self, trainer) -> None:
        """On several processes, fit only this rank's contiguous range of the members (and say which)."""
        if trainer is not None and trainer.world_size > 1 and self.signal.batched:
            self._set_shard(shard_range(self.signal.members, trainer.world_size, trainer.global_rank))
            print(f"inr: rank {trainer.global_rank} fits members {self.shard.start}..{self.shard.stop - 1} of "
                  f"{self.signal.members}", file=sys.stderr, flush=True)

    def unshard(self) -> None:
        """Evaluate every member again."""
        if self.sharded:
            self._set_shard(None)

    @torch.no_grad()
    def predict_member(self, index: int, coords: Tensor, progress: bool = False) -> Tensor:
        """Member ``index`` alone at coords [N, in_dim] -> values [N, out_dim] (in chunks; the others not evaluated)."""
        self.signal.member(index)  # a clear error for an index out of range
        active = self.encoder.active
        try:
            self._evaluate_members(slice(index, index + 1))
            coords = coords.to(self.device)[None]
            empty = coords.new_empty((1, 0, self.signal.out_dim))
            return evaluate_in_chunks(self, coords, self.chunk_size, empty=empty, progress=progress, members=True)[0]
        finally:
            self._evaluate_members(active)

    def member_predictor(self):
        """``(index in this process's shard, coords [N, d]) -> values [N, c]``, for an evaluation's media."""
        offset = self.shard.start if self.sharded else 0

        def predict_member(index: int, coords: Tensor) -> Tensor:
            return self.predict_member(offset + index, coords)

        return predict_member

    def member_rows(self, evaluation: Evaluation) -> list[dict[str, Tensor]]:
        """Every member's metric values (all members, gathered from the shards), in member order."""
        rows = [self.metric_values(evaluation.member(index)) for index in range(evaluation.spec.members)]
        if self.sharded:
            floats = [{name: float(value) for name, value in row.items()} for row in rows]
            rows = [{name: torch.tensor(value) for name, value in row.items()} for row in gather_rows(floats)]
        return rows

    def member_baseline_values(self, reconstructions: dict[str, Tensor], batch: dict[str, Tensor]) -> dict[str, float]:
        """Each baseline's metric values (``baseline/<name>/<metric>``), the mean over every member.

        ``reconstructions`` holds every member's, ``{name: [K, N, c]}``; ``batch`` this process's members' validation
        batch (``[K_shard, N, ...]``).
        """
        if not reconstructions:
            return {}
        offset = self.shard.start if self.sharded else 0
        spec = self.active_spec
        rows = [baseline_values({name: value[offset + index] for name, value in reconstructions.items()},
                                spec.member(index), {key: value[index] for key, value in batch.items()},
                                self.metric_values, self.global_step)
                for index in range(spec.members)]
        if self.sharded:
            rows = gather_rows(rows)
        return {name: sum(row[name] for row in rows) / len(rows) for name in rows[0]}

    def gather_all_members(self) -> None:
        """Every rank gets every member's parameters and optimizer state (see :mod:`inr.training.member_shards`)."""
        gather_members(self.parameters(), self.trainer.optimizers, self.signal.members, self.shard)

    def save_all_members(self, checkpoint: dict[str, Any]) -> None:
        """A sharded fit's checkpoint holds every member: gather, then rewrite what Lightning took (every rank)."""
        self.gather_all_members()
        state = self.state_dict()
        checkpoint["state_dict"] = {key: state.get(key, value) for key, value in checkpoint["state_dict"].items()}
        if "optimizer_states" in checkpoint:
            checkpoint["optimizer_states"] = [optimizer.state_dict() for optimizer in self.trainer.optimizers]
