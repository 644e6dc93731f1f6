"""inr.core.errors: the CLI tells the user's errors (one line) from bugs (traceback) by type, not by where."""

from __future__ import annotations

import pytest

from inr.cli import input_error
from inr.core.errors import InputError, MissingFileError, MissingTargetError, NonFiniteLossError


def _wrapped(error: BaseException) -> RuntimeError:
    """``error`` behind another exception, as jsonargparse wraps errors raised while instantiating classes."""
    try:
        try:
            raise error
        except Exception as inner:
            raise RuntimeError("Problem with given class_path") from inner
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize("error", [InputError("data size must be >= 1 pixel, got 0"),
                                   MissingFileError("image file not found: x.png"),
                                   MissingTargetError("this loss needs batch['normals']"),
                                   NonFiniteLossError("train/loss is nan at step 3")])
def test_inr_errors_are_found_behind_wrappers(error):
    assert input_error(_wrapped(error)) is error


def test_a_plain_value_error_is_a_bug_and_keeps_its_traceback():
    assert input_error(_wrapped(ValueError("math domain error"))) is None


def test_inr_errors_are_still_the_builtin_types_callers_catch():
    assert isinstance(MissingFileError("x"), FileNotFoundError) and isinstance(MissingFileError("x"), ValueError)
    assert isinstance(MissingTargetError("x"), KeyError) and isinstance(NonFiniteLossError("x"), FloatingPointError)


def test_an_error_line_is_one_write_so_concurrent_ranks_never_interleave(monkeypatch):
    import sys

    from inr.core.errors import print_error_line

    writes = []

    class Recorder:
        def write(self, text):
            writes.append(text)

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stderr", Recorder())
    print_error_line("rank 1 failed: RuntimeError: boom")
    assert writes == ["inr: error: rank 1 failed: RuntimeError: boom\n"]
