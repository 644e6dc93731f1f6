"""Error maps a person can read: |error| in the magma colour map, scaled to a round maximum stated in the caption.

At 36 dB the mean |error| of an image is about 1 % of its range: on a [0, 1] grey scale the map is black. Here the
scale's top is a round number (1, 2 or 5 times a power of ten) at or above the 99th percentile of |error|, as a
fraction of the signal's value range; values above it take the top colour. The caption names the scale and the PSNR.
"""

from __future__ import annotations

import math

import numpy as np

#: the colour map of every error map (perceptually uniform, black at zero error).
COLOUR_MAP = "magma"
#: the percentile of |error| the scale's top covers.
SCALE_PERCENTILE = 99.0


def round_scale(errors: np.ndarray) -> float:
    """The smallest of 1, 2, 5 x 10^k at or above the 99th percentile of ``errors`` (fractions of the range).

    All-zero errors give 1e-3, so a perfect fit still draws on a stated scale.
    """
    top = float(np.percentile(np.abs(errors), SCALE_PERCENTILE)) if errors.size else 0.0
    top = max(top, 1e-3)
    exponent = math.floor(math.log10(top))
    for mantissa in (1, 2, 5, 10):
        scale = mantissa * 10.0**exponent
        if scale >= top * (1 - 1e-9):
            return float(f"{scale:.3g}")
    return 10.0 ** (exponent + 1)


def magma(fractions: np.ndarray) -> np.ndarray:
    """Colours uint8 [..., 3] of ``fractions`` [...] in [0, 1] (clipped) on the magma colour map."""
    from matplotlib import colormaps

    colours = colormaps[COLOUR_MAP](np.clip(fractions, 0.0, 1.0))[..., :3]
    return (colours * 255).round().astype(np.uint8)


def error_map(errors: np.ndarray, scale: float) -> np.ndarray:
    """|error| [...] (fractions of the value range) as colours uint8 [..., 3]: black 0, light yellow ``scale``."""
    return magma(np.abs(errors) / scale)


def psnr_db(mean_squared_error: float) -> float:
    """PSNR in dB of a mean squared error given as a fraction of the squared value range (inf when exact)."""
    return math.inf if mean_squared_error <= 0 else -10.0 * math.log10(mean_squared_error)


def error_caption(scale: float, psnr: float | None = None) -> str:
    """``|error| (magma: black 0, yellow >= 0.02 of the range), PSNR 36.30 dB``."""
    text = f"|error| (magma: black 0, yellow >= {scale:g} of the range)"
    return text if psnr is None else f"{text}, PSNR {psnr:.2f} dB"
