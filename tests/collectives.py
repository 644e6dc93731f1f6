"""A callback that counts collective calls per training step on each rank (children import it via PYTHONPATH).

It counts ``torch.distributed`` collectives called from Python (inr's own gradient all-reduce, Lightning's
barriers and broadcasts) and, through a DDP communication hook, every bucket DDP's reducer would all-reduce. Each
rank writes ``collectives-rank<R>.json`` into ``folder``: one entry per step, ``{"step", "python": {name: n},
"reducer_buckets": n}``.
"""

from __future__ import annotations

import collections
import functools
import json
from pathlib import Path

import torch.distributed as dist
from lightning.pytorch.callbacks import Callback
from torch.distributed.algorithms.ddp_comm_hooks import default_hooks
from torch.nn.parallel import DistributedDataParallel

COUNTED = ("all_reduce", "broadcast", "all_gather", "all_gather_object", "broadcast_object_list", "barrier",
           "reduce_scatter", "reduce", "gather", "scatter")


class CollectiveCounter(Callback):
    """Per-step counts of collective calls, written as JSON at the end of training.

    Args:
        folder: where each rank writes its ``collectives-rank<R>.json``.
    """

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)
        self.current: collections.Counter = collections.Counter()
        self.buckets = 0
        self.steps: list[dict] = []
        self._originals: dict = {}

    def on_train_start(self, trainer, pl_module) -> None:
        for name in COUNTED:
            original = getattr(dist, name)
            self._originals[name] = original
            setattr(dist, name, self._counting(name, original))
        model = trainer.strategy.model
        if isinstance(model, DistributedDataParallel):
            model.register_comm_hook(None, self._count_bucket)

    def _counting(self, name, original):
        @functools.wraps(original)
        def counted(*args, **kwargs):
            self.current[name] += 1
            return original(*args, **kwargs)

        return counted

    def _count_bucket(self, state, bucket):
        self.buckets += 1
        return default_hooks.allreduce_hook(dist.group.WORLD, bucket)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.steps.append({"step": trainer.global_step, "points": int(batch["coords"].shape[0]),
                           "python": dict(self.current), "reducer_buckets": self.buckets})
        self.current.clear()
        self.buckets = 0

    def on_train_end(self, trainer, pl_module) -> None:
        for name, original in self._originals.items():
            setattr(dist, name, original)
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"collectives-rank{trainer.global_rank}.json"
        path.write_text(json.dumps(self.steps))
