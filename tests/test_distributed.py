"""inr.training.distributed faults and watchdog without processes: which errors mean a lost peer, how a stall reads."""

from __future__ import annotations

from datetime import timedelta

import pytest
import torch.distributed as dist
from lightning.pytorch.strategies import DDPStrategy

from inr.training.distributed.faults import BACKSTOP_S, apply_timeout, is_transport_error
from inr.training.distributed.watchdog import describe_stall
from inr.training.lightning_private import process_group_timeout


@pytest.mark.parametrize("error, lost_peer", [
    (RuntimeError("[../third_party/gloo/gloo/transport/tcp/pair.cc:534] Connection closed by peer [127.0.0.1]:3401"),
     True),
    (RuntimeError("[gloo/transport/tcp/unbound_buffer.cc:81] Timed out waiting 20000ms for recv operation to "
                  "complete"), True),
    (dist.DistBackendError("[Rank 0] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=7, "
                           "OpType=ALLREDUCE) ran for 600081 milliseconds before timing out."), True),
    (dist.DistBackendError("NCCL communicator was aborted on rank 1."), True),
    (dist.DistNetworkError("failed to recv, got 0 bytes"), True),
    # a rank's own errors, even when NCCL or a timeout is named
    (dist.DistBackendError("NCCL error in: ProcessGroupNCCL.cpp:1970, unhandled cuda error, NCCL version 2.21.5"),
     False),
    (dist.DistBackendError("NCCL error: invalid usage (run with NCCL_DEBUG=WARN for details)"), False),
    (RuntimeError("CUDA error: the launch timed out and was terminated"), False),
    (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), False),
    (ValueError("Connection closed by peer"), False),  # not from a collective
])
def test_only_a_lost_peer_counts_as_transport_error(error, lost_peer):
    assert is_transport_error(error) is lost_peer


def test_the_rank_that_never_entered_the_all_reduce_is_named():
    line = describe_stall({0: (3, 2), 1: (2, 2), 2: (3, 2)}, 20.0)
    assert line == ("rank 1 stopped making progress in training step 2 while the other ranks waited for its "
                    "gradients (no progress for 20 s, --ddp_timeout); the job is stopped")


def test_a_stall_with_no_rank_behind_or_a_silent_rank_says_so():
    assert describe_stall({0: (5, 4), 1: (5, 4)}, 30.0).startswith(
        "no rank made progress in training step 4 (no progress for 30 s, --ddp_timeout): all are waiting")
    assert describe_stall({0: (5, 4), 1: None}, 30.0).startswith(
        "rank 1 stopped reporting its progress (no progress for 30 s, --ddp_timeout): it died or hung")


def test_process_group_timeout_is_a_backstop_after_the_watchdog():
    strategy = DDPStrategy()
    apply_timeout(strategy, 20.0)
    assert process_group_timeout(strategy) == timedelta(seconds=20.0 + BACKSTOP_S)
    own = DDPStrategy(timeout=timedelta(seconds=5))
    apply_timeout(own, 20.0)
    assert process_group_timeout(own) == timedelta(seconds=5)  # a strategy built with its own timeout keeps it
