"""Evaluation in bounded chunks: memory bounded by ``chunk_size`` points, whatever the number of points.

Every chunk's result is written into one preallocated output: keeping each chunk's output alive in a list between
the large temporaries of the next chunks fragments glibc's heap, which then grows by a chunk's activations per
chunk (15 GB and rising over a 4096^2 image).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from torch import Tensor

from inr.core.errors import InputError

Outputs = Tensor | tuple[Tensor, ...]


def chunk_slices(count: int, size: int) -> Iterator[slice]:
    """Consecutive slices of at most ``size`` of ``range(count)``."""
    if size < 1:
        raise InputError(f"chunk size must be >= 1 point, got {size}")
    for start in range(0, count, size):
        yield slice(start, min(start + size, count))


def evaluate_in_chunks(
    function: Callable[[Tensor], Outputs], coords: Tensor, chunk_size: int, empty: Outputs | None = None,
    progress: bool = False, members: bool = False,
) -> Outputs:
    """``function`` on coords [N, d] in chunks of ``chunk_size`` points, its outputs gathered over the N points.

    Args:
        function: coords [n, d] -> a tensor [n, ...] or a tuple of them (e.g. values and their derivatives).
        coords: all the coordinates [N, d], or [K, N, d] with ``members``.
        chunk_size: most points evaluated at once (over all members: K x n per chunk).
        empty: the result for N = 0, when no chunk shows the outputs' shapes.
        progress: show a tqdm bar over the chunks.
        members: coords and outputs carry a leading member axis [K, ...]; chunks split the points axis.

    Returns:
        What ``function`` returns, for all N points: [N, ...] (or [K, N, ...]; or a tuple of such).
    """
    from tqdm.auto import tqdm

    lead = 1 if members else 0
    count = coords.shape[lead]
    per_chunk = max(1, chunk_size // coords.shape[0]) if members else chunk_size
    outputs: tuple[Tensor, ...] | None = None
    single = True
    for piece in tqdm(list(chunk_slices(count, per_chunk)), disable=not progress):
        index = (slice(None), piece) if members else piece
        result = function(coords[index])
        single = not isinstance(result, tuple)
        parts = (result,) if single else result
        if outputs is None:
            outputs = tuple(part.new_empty((*part.shape[:lead], count, *part.shape[lead + 1:])) for part in parts)
        for output, part in zip(outputs, parts):
            output[index] = part
    if outputs is None:
        if empty is None:
            raise InputError("evaluate_in_chunks got no points and no empty result to return")
        return empty
    return outputs[0] if single else outputs
