"""Checks of input files: each names the file and what is wrong with it."""

from __future__ import annotations

from pathlib import Path

from inr.core.errors import InputError, MissingFileError


def input_file(path: str | Path, what: str) -> Path:
    """``path`` as a Path once it is known to be a non-empty file; ``what`` names it in errors ("image file")."""
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"{what} not found: {path}")
    if not path.is_file():
        raise InputError(f"{what} {path} is a folder (or device), not a file")
    if path.stat().st_size == 0:
        raise InputError(f"{what} {path} is empty (0 bytes)")
    return path
