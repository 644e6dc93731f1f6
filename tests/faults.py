"""A loss that fails on purpose on one rank, for DDP fault tests (children import it through PYTHONPATH)."""

from __future__ import annotations

import time

import torch.distributed as dist

from inr.losses import ValueLoss


class FailOnRank(ValueLoss):
    """MSE, except that on ``rank`` the ``at_call``-th evaluation raises (``mode: raise``) or hangs (``hang``)."""

    def __init__(self, weight: float = 1.0, rank: int = 1, at_call: int = 3, mode: str = "raise") -> None:
        super().__init__(weight)
        self.rank, self.at_call, self.mode, self.calls = rank, at_call, mode, 0

    def forward(self, step):
        """MSE; the fault when this is the chosen rank and call."""
        self.calls += 1
        if self.training and dist.is_initialized() and dist.get_rank() == self.rank and self.calls == self.at_call:
            if self.mode == "hang":
                time.sleep(3600)
            raise RuntimeError(f"injected failure on rank {self.rank} at call {self.calls}")
        return super().forward(step)
