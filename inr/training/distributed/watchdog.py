"""A rank that stops making progress ends the whole multi-process job, with one line naming it, on any backend.

With gloo a rank waiting for a hung peer gets an exception after the process-group timeout, which
:class:`~.faults.RankFailureReporter` turns into a readable line. With NCCL it does not: the waiting rank
blocks in a CUDA synchronisation, NCCL's own watchdog aborts the process from C++ after the timeout without a word,
and the hung rank is left running. :class:`HangWatchdog` is a thread in every rank that watches the training loop's
progress (:mod:`~.liveness`) and publishes it to the job's store. When its rank has made no progress for
``--ddp_timeout`` seconds, it reads every rank's progress, prints one line naming the rank that is behind (the one
that never entered the gradient all-reduce the others wait in), rank zero stops the ranks it started, and the
process exits. The process group's timeout is a minute longer (:func:`~.faults.apply_timeout`), so the
watchdog speaks first whatever the backend.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import torch.distributed as dist
from lightning.pytorch.callbacks import Callback

from inr.core.errors import print_error_line
from inr.training.distributed import liveness
from inr.training.distributed.faults import FAILURE_KEY, job_store, stop_started_ranks

_PROGRESS_KEY = "inr/progress/{rank}"


def describe_stall(progress: dict[int, tuple[int, int] | None], timeout_s: float) -> str:
    """One line on a stalled job from every rank's ``(gradient all-reduces entered, step)`` (None: unknown).

    The ranks that entered fewer all-reduces than the others are the ones the others wait for.
    """
    known = {rank: value for rank, value in progress.items() if value is not None}
    reductions = [entered for entered, _ in known.values()]
    limit = f"no progress for {timeout_s:g} s, --ddp_timeout"
    if reductions and min(reductions) < max(reductions):
        behind = sorted(rank for rank, (entered, _) in known.items() if entered == min(reductions))
        steps = sorted({known[rank][1] for rank in behind})
        names = ", ".join(str(rank) for rank in behind)
        return (f"rank {names} stopped making progress in training step {', '.join(map(str, steps))} while the "
                f"other ranks waited for its gradients ({limit}); the job is stopped")
    unknown = sorted(rank for rank, value in progress.items() if value is None)
    if unknown:
        return (f"rank {', '.join(map(str, unknown))} stopped reporting its progress ({limit}): it died or hung; "
                "the job is stopped")
    step = max((step for _, step in known.values()), default=0)
    return (f"no rank made progress in training step {step} ({limit}): all are waiting, e.g. in a collective "
            "that a rank left or in a slow operation; the job is stopped")


class HangWatchdog(Callback):
    """Ends a multi-process fit when this rank makes no progress for ``timeout_s`` seconds.

    Progress is noted by the training loop (every chunk and step); validation pauses the clock (every rank
    evaluates the whole signal on its own, with no collective to wait in).

    Args:
        timeout_s: seconds without progress before the job is stopped (``--ddp_timeout``).
        poll_s: how often the thread publishes progress and looks at the clock.
        grace_s: how long rank zero waits for the ranks it started to exit before killing them.
    """

    def __init__(self, timeout_s: float, poll_s: float = 1.0, grace_s: float = 5.0) -> None:
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.grace_s = grace_s
        self._stop = threading.Event()
        self._paused = False
        self._thread: threading.Thread | None = None
        self._trainer: Any = None

    def on_train_start(self, trainer, pl_module) -> None:
        """Start the thread when fitting on several processes."""
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
            return
        self._trainer = trainer
        liveness.note_progress()
        self._thread = threading.Thread(target=self._watch, name="inr-hang-watchdog", daemon=True)
        self._thread.start()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        """A new step is progress."""
        liveness.note_progress()

    def on_validation_start(self, trainer, pl_module) -> None:
        """Pause the clock: validation has no collective."""
        self._paused = True

    def on_validation_end(self, trainer, pl_module) -> None:
        """Restart the clock."""
        liveness.note_progress()
        self._paused = False

    def teardown(self, trainer, pl_module, stage: str) -> None:
        """Stop the thread."""
        self._stop.set()

    def _watch(self) -> None:
        rank, world_size, store = dist.get_rank(), dist.get_world_size(), job_store()
        published = None
        while not self._stop.wait(self.poll_s):
            mine = (liveness.reductions_entered(), self._trainer.global_step)
            if store is not None and mine != published:
                try:
                    store.set(_PROGRESS_KEY.format(rank=rank), f"{mine[0]} {mine[1]}")
                    published = mine
                except Exception:  # noqa: BLE001 - rank zero (the store's host) is gone; the clock still runs
                    pass
            idle = liveness.seconds_idle()
            if not self._paused and idle >= self.timeout_s and not self._stop.is_set():
                self._stop_job(rank, world_size, store)

    def _stop_job(self, rank: int, world_size: int, store: Any) -> None:
        """Print the line (shared through the store), stop the started ranks (rank zero), exit."""
        progress = {other: _read_progress(store, other) for other in range(world_size)}
        summary = describe_stall(progress, self.timeout_s)
        if store is not None:
            try:
                store.set(FAILURE_KEY.format(rank=rank), summary)
            except Exception:  # noqa: BLE001 - the store's host is gone; the line is still printed
                pass
        print_error_line(summary)
        if rank == 0:
            stop_started_ranks(self._trainer, self.grace_s)
        os._exit(1)  # the main thread may be blocked in a collective or a device sync that never returns


def _read_progress(store: Any, rank: int) -> tuple[int, int] | None:
    """``(gradient all-reduces entered, step)`` that ``rank`` last published, or None."""
    if store is None:
        return None
    try:
        key = _PROGRESS_KEY.format(rank=rank)
        if not store.check([key]):
            return None
        entered, step = store.get(key).decode().split()
        return int(entered), int(step)
    except Exception:  # noqa: BLE001 - the store's host is gone
        return None

