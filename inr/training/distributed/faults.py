"""Multi-process faults: a failing rank is named, a hung rank ends the job after a timeout, no rank is left behind.

Under DDP an exception on one rank leaves the others waiting in a collective (gradient all-reduce, barrier).
:class:`RankFailureReporter` makes the end of such a job readable: the failing rank writes ``rank N failed:
Type: message`` into the job's key-value store (torch.distributed's TCPStore, hosted by rank zero, so it works
across nodes); a rank that then loses contact with it reads that line and stops with it instead of a transport
error; rank zero terminates the ranks it launched, so none is left hanging. A rank that hangs instead of failing
is caught by :class:`~.watchdog.HangWatchdog` after ``--ddp_timeout`` seconds; the process group's own timeout
(:func:`apply_timeout`) is a minute longer, a backstop that also bounds the start-up rendezvous.
"""

from __future__ import annotations

import re
import signal
import time
from datetime import timedelta
from typing import Any

import torch.distributed as dist
from lightning.fabric.plugins.collectives.torch_collective import default_pg_timeout
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.strategies import DDPStrategy

from inr.core.errors import InputError
from inr.training.lightning_private import (
    default_store,
    launched_ranks,
    process_group_timeout,
    set_process_group_timeout,
)

#: default ``--ddp_timeout`` in seconds: a rank that makes no progress this long stops the job (Lightning's
#: process-group default is 30 min).
DEFAULT_TIMEOUT_S = 600.0
#: the process group's timeout exceeds ``--ddp_timeout`` by this much, so that inr's watchdog speaks first.
BACKSTOP_S = 60.0
FAILURE_KEY = "inr/failure/{rank}"
#: how a collective reports a peer that died or stopped answering (gloo; NCCL with blocking wait or error handling).
#: A rank's own NCCL or CUDA error (out of memory, invalid usage, "launch timed out") is not among them.
_PEER_LOSS_PHRASES = ("connection closed by peer", "connection reset by peer", "broken pipe", "timed out waiting",
                      "collective operation timeout", "operations have failed or timed out", "communicator was aborted",
                      "ncclremoteerror", "remote process exiting", "connection refused")


def apply_timeout(strategy: Any, seconds: float | None) -> None:
    """Set the process-group timeout of a DDP ``strategy`` to ``seconds`` plus :data:`BACKSTOP_S`.

    Must run before the process group is created (Lightning creates it when fitting starts). A strategy instance
    whose own ``timeout`` differs from Lightning's default keeps it; other strategies are left as they are.
    """
    if seconds is None or not isinstance(strategy, DDPStrategy):
        return
    if process_group_timeout(strategy) in (None, default_pg_timeout):
        set_process_group_timeout(strategy, timedelta(seconds=seconds + BACKSTOP_S))


def check_timeout(seconds: float | None) -> None:
    """Refuse a non-positive ``--ddp_timeout``."""
    if seconds is not None and not seconds > 0:
        raise InputError(f"--ddp_timeout must be a positive number of seconds, got {seconds}")


def is_transport_error(error: BaseException) -> bool:
    """Whether ``error`` is a collective that failed because a peer died or hung (not a failure of this rank)."""
    if isinstance(error, (dist.DistNetworkError, dist.DistStoreError)):
        return True
    return isinstance(error, RuntimeError) and any(phrase in str(error).lower() for phrase in _PEER_LOSS_PHRASES)


def job_store() -> Any | None:
    """The job's key-value store (hosted by rank zero), or None outside a process group."""
    return default_store()


def _read_failures(store: Any, world_size: int, wait_s: float) -> list[str]:
    """The failure lines other ranks wrote, waiting up to ``wait_s`` for the first one."""
    deadline = time.monotonic() + wait_s
    while True:
        lines = []
        for rank in range(world_size):
            key = FAILURE_KEY.format(rank=rank)
            try:
                if store.check([key]):
                    lines.append(store.get(key).decode())
            except Exception:  # noqa: BLE001 - the store's host may be gone
                return lines
        if lines or time.monotonic() >= deadline:
            return lines
        time.sleep(0.2)


def _one_line(error: BaseException) -> str:
    """``Type: first line of the message``, without the ``[source.cc:NN]`` prefixes of torch's C++ errors."""
    text = re.sub(r"\[[^\]]*\.(cc|cpp|h):\d+\]\s*", "", str(error)).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


class RankFailureReporter(Callback):
    """On an exception under multi-process training: name the failing rank, and stop the ranks rank zero started.

    The summary is attached to the exception as ``inr_rank_failure`` (one line) for ``inr.cli.main`` to print.

    Args:
        grace_s: how long rank zero waits for the other ranks to exit by themselves before terminating them.
    """

    def __init__(self, grace_s: float = 5.0) -> None:
        self.grace_s = grace_s

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        """Share or read the failure line, attach the summary, then stop the child ranks (rank zero)."""
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
            return
        rank, world_size, store = dist.get_rank(), dist.get_world_size(), job_store()
        if is_transport_error(exception):
            failures = _read_failures(store, world_size, wait_s=2.0) if store is not None else []
            timeout = process_group_timeout(trainer.strategy)
            summary = "; ".join(dict.fromkeys(failures)) or (
                f"rank {rank} lost contact with the other ranks ({_one_line(exception)[:200]}); another rank died "
                f"or hung without a message (process-group timeout {_seconds(timeout)}: --ddp_timeout plus "
                f"{BACKSTOP_S:g} s)")
        else:
            summary = f"rank {rank} failed: {_one_line(exception)}"
            if store is not None:
                try:
                    store.set(FAILURE_KEY.format(rank=rank), summary)
                except Exception:  # noqa: BLE001 - the store's host may be gone; the summary is still printed
                    pass
        exception.inr_rank_failure = summary
        if rank == 0:
            stop_started_ranks(trainer, self.grace_s)


def stop_started_ranks(trainer, grace_s: float) -> None:
    """On rank zero: wait up to ``grace_s`` seconds for the ranks it launched to exit, then kill those left."""
    deadline = time.monotonic() + grace_s
    for process in launched_ranks(trainer.strategy):
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except Exception:  # noqa: BLE001 - still running after the grace period
            process.send_signal(signal.SIGKILL)


def _seconds(timeout: timedelta | None) -> str:
    return "unknown" if timeout is None else f"{timeout.total_seconds():g} s"
