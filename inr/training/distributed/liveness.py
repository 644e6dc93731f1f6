"""This process's training progress, as seen by inr's hang watchdog (:mod:`inr.training.distributed.watchdog`).

The training loop notes progress (each chunk, each step) and each gradient all-reduce it enters; the watchdog's
thread reads both. Plain module state: one training loop per process, read without locks (a stale read is fine).
"""

from __future__ import annotations

import time

_last_progress = time.monotonic()
_reductions_entered = 0


def note_progress() -> None:
    """Record that the training loop moved on (cheap: a clock read)."""
    global _last_progress
    _last_progress = time.monotonic()


def note_reduction() -> None:
    """Record that this rank entered a gradient all-reduce (it now waits for the others)."""
    global _reductions_entered
    _reductions_entered += 1
    note_progress()


def seconds_idle() -> float:
    """Seconds since the last recorded progress."""
    return time.monotonic() - _last_progress


def reductions_entered() -> int:
    """Gradient all-reduces this rank has entered so far."""
    return _reductions_entered
