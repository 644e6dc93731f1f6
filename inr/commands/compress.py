"""``inr compress``: a fitted representation as a small file (quantised, range-coded weights; docs/compression.md)."""

from __future__ import annotations

import argparse
import math
import sys

from inr.core.errors import InrError
from inr.training.compression import Compression, checkpoint_model, compress_checkpoint


def bits_per_point(size_bytes: int, signal: dict) -> float:
    """The file's bits per point of the signal's grid (bpp for an image, bits per sample for audio)."""
    return size_bytes * 8 / math.prod(signal["shape"])


def main(argv: list[str] | None = None) -> None:
    """Parse ``inr compress`` arguments and compress."""
    parser = argparse.ArgumentParser(prog="inr compress", description=__doc__.split(": ", 1)[1].split(" (")[0])
    parser.add_argument("checkpoint", help="a .ckpt of one signal written by inr fit")
    parser.add_argument("--out", required=True, help="the compressed file to write (e.g. image.inrz)")
    parser.add_argument("--bits", type=int, default=8, help="quantisation bits per weight (2..16; default 8)")
    parser.add_argument("--per-channel", action="store_true",
                        help="one quantisation range per output channel (row of a weight) instead of per tensor")
    parser.add_argument("--mode", choices=("quantised", "float16", "float32"), default="quantised",
                        help="quantised and range-coded (default), float16 (COIN) or float32 (lossless)")
    options = parser.parse_args(argv)
    try:
        how = Compression(options.mode, options.bits, options.per_channel)
        size, _ = compress_checkpoint(options.checkpoint, options.out, how)
        signal = checkpoint_model(options.checkpoint)[0]["signal"]
        unit = "bpp" if signal["kind"] == "image" else "bits per point"
        print(f"wrote {options.out}: {size} bytes, {bits_per_point(size, signal):.4f} {unit} "
              f"({' x '.join(map(str, signal['shape']))})")
    except InrError as error:
        print(f"inr compress: error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
