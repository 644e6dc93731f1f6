"""``inr decompress``: rebuild a representation from its compressed file alone and write the signal it represents."""

from __future__ import annotations

import argparse
import sys

import torch

from inr.commands.render import render_model
from inr.core.errors import InrError
from inr.training.compression import load_compressed


def main(argv: list[str] | None = None) -> None:
    """Parse ``inr decompress`` arguments, decode and render."""
    parser = argparse.ArgumentParser(prog="inr decompress", description=__doc__.split(": ", 1)[1])
    parser.add_argument("file", help="a file written by inr compress")
    parser.add_argument("--out", required=True, help="output file, as inr render writes it (PNG for an image, ...)")
    parser.add_argument("--resolution", type=int, default=None, help="as inr render's (default: the fitted size)")
    parser.add_argument("--init", default=None, help="the learned initialisation the file was coded against "
                        "(default: the file its header names, beside it)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="torch device")
    options = parser.parse_args(argv)
    try:
        model = load_compressed(options.file, options.device, options.init)
        print(render_model(model, options.out, options.resolution, name=options.file))
    except InrError as error:
        print(f"inr decompress: error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
