"""Files that appear whole or not at all: renders, checkpoints and run records.

Everything is written to a temporary sibling of the target (same folder, so the rename stays on one filesystem;
same suffix, so writers that pick a format by extension still do), which replaces the target with ``os.replace``
only when the writing block succeeds. A failure or an interruption leaves the previous file (or none), never a
half-written one, and removes the temporary. ``durable=True`` also fsyncs the bytes and the rename, so a machine
crash cannot leave an empty file under the target's name (checkpoints).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def atomic_output(out: str | os.PathLike, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling of ``out`` to write; it replaces ``out`` only if the block succeeds.

    Args:
        out: the file to write (its folder is created).
        durable: fsync the written bytes before the rename and the folder after it.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.stem}.{os.getpid()}.partial{out.suffix}")
    try:
        yield temporary
        if durable:
            _fsync(temporary)
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
    if durable:
        _fsync(out.parent)  # make the rename itself durable
