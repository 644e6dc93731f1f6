"""Entropy coding of quantised symbols: a range coder (``constriction``) under a fitted, quantised Laplace or Gaussian.

The model of one stream is two float32 numbers (mean, scale) and its family, fitted to the symbols and stored beside
the payload: a histogram of 256 levels would cost more bytes than a small network's whole payload. Both families are
tried and the shorter code is kept. Encoder and decoder use the stored float32 parameters, so they agree bitwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: the model families, by the index stored in a file.
FAMILIES = ("laplace", "gaussian")


@dataclass(frozen=True)
class CodedStream:
    """``count`` symbols in [0, levels) range-coded to ``payload`` under ``family(mean, scale)``."""

    family: str
    mean: float
    scale: float
    count: int
    payload: bytes


def _model(family: str, mean: float, scale: float, levels: int):
    import constriction

    models = constriction.stream.model
    model = models.QuantizedLaplace if family == "laplace" else models.QuantizedGaussian
    return model(0, levels - 1, mean, scale)


def _code(symbols: np.ndarray, family: str, mean: float, scale: float, levels: int) -> bytes:
    import constriction

    encoder = constriction.stream.queue.RangeEncoder()
    encoder.encode(symbols.astype(np.int32), _model(family, mean, scale, levels))
    return encoder.get_compressed().astype("<u4").tobytes()


def encode_symbols(symbols: np.ndarray, levels: int) -> CodedStream:
    """Range-code ``symbols`` (integers in [0, levels)) under the better fitting of the two families."""
    values = np.asarray(symbols, dtype=np.float64).reshape(-1)
    mean = float(np.float32(values.mean())) if values.size else 0.0
    spreads = ({"laplace": np.abs(values - mean).mean(), "gaussian": values.std()} if values.size
               else dict.fromkeys(FAMILIES, 1.0))
    candidates = []
    for family, spread in spreads.items():
        scale = float(np.float32(max(spread, 0.05)))  # a constant stream still needs a positive scale
        candidates.append(CodedStream(family, mean, scale, values.size,
                                      _code(values.astype(np.int64), family, mean, scale, levels)))
    return min(candidates, key=lambda stream: len(stream.payload))


def decode_symbols(stream: CodedStream, levels: int) -> np.ndarray:
    """The ``stream.count`` symbols [count] int64 that :func:`encode_symbols` coded."""
    import constriction

    if stream.count == 0:
        return np.zeros(0, dtype=np.int64)
    words = np.frombuffer(stream.payload, dtype="<u4").astype(np.uint32)
    decoder = constriction.stream.queue.RangeDecoder(words)
    return decoder.decode(_model(stream.family, stream.mean, stream.scale, levels), stream.count).astype(np.int64)
