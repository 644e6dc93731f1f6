"""Errors the user fixes in the options, the data or the environment: ``inr`` prints them as one line, no traceback.

Each also derives from the built-in type a caller would catch (ValueError for a bad option or file content,
FileNotFoundError for a missing file, ...), so code catching those keeps working, while ``inr.cli`` tells them from
bugs by their type alone (``INR_DEBUG=1`` shows the traceback anyway).
"""

from __future__ import annotations

import sys


class InrError(Exception):
    """Base of the errors whose message, naming the option or file and what is wrong, is all the user needs."""


class InputError(InrError, ValueError):
    """An option, a file's content or the data cannot be used."""


class MissingFileError(InputError, FileNotFoundError):
    """A file the run needs does not exist."""


class MissingTargetError(InputError, KeyError):
    """A loss or metric needs a batch entry the DataModule does not provide."""


class NonFiniteLossError(InrError, FloatingPointError):
    """The training loss became NaN or infinite."""


class UnsupportedSetupError(InrError, RuntimeError):
    """The run asks for something this environment or configuration cannot do (e.g. compile without a compiler)."""


def print_error_line(message: str) -> None:
    """Write ``inr: error: <message>`` and its newline to stderr in one write.

    Under DDP several ranks may report at once: one write of a short line to a pipe is atomic, so their lines never
    interleave (``print`` writes the text and the newline separately).
    """
    sys.stderr.write(f"inr: error: {message}\n")
    sys.stderr.flush()
