"""``inr export``: the members of a batched checkpoint as one "dataset of INRs" file, or as single checkpoints.

The file's format: :mod:`inr.training.member_checkpoints`.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import torch

from inr.core.atomic import atomic_output
from inr.core.errors import InputError, InrError, MissingFileError
from inr.training.checkpoints import read_checkpoint
from inr.training.member_checkpoints import batched_spec, member_checkpoint, members_dataset


def load_member_model(checkpoint: str | Path, index: int, device: str = "cpu"):
    """Member ``index`` of a batched checkpoint as an INRModule of one signal (eval mode)."""
    from inr.training.module import INRModule

    single = member_checkpoint(read_checkpoint(checkpoint), index, name=str(checkpoint))
    buffer = io.BytesIO()
    torch.save(single, buffer)
    buffer.seek(0)
    return INRModule.load_from_checkpoint(buffer, map_location=device, weights_only=True).eval()


def export(checkpoint: str | Path, out: str | None, checkpoints: str | None) -> list[str]:
    """Write the dataset file ``out`` and/or one checkpoint per member under ``checkpoints``; lines saying what."""
    path = Path(checkpoint)
    if not path.is_file():
        raise MissingFileError(f"checkpoint not found: {path}")
    if out is None and checkpoints is None:
        raise InputError("inr export needs --out FILE (the dataset of INRs) and/or --checkpoints FOLDER")
    data = read_checkpoint(path)
    spec = batched_spec(data, str(path))
    lines = []
    if out is not None:
        with atomic_output(out, durable=True) as temporary:
            torch.save(members_dataset(data, str(path)), temporary)
        lines.append(f"wrote {out}: {spec.members} members' parameters")
    if checkpoints is not None:
        folder = Path(checkpoints)
        width = len(str(spec.members - 1))
        for index in range(spec.members):
            with atomic_output(folder / f"member_{index:0{width}d}.ckpt", durable=True) as temporary:
                torch.save(member_checkpoint(data, index, str(path)), temporary)
        lines.append(f"wrote {spec.members} single-signal checkpoints to {folder}/member_*.ckpt")
    return lines


def main(argv: list[str] | None = None) -> None:
    """Parse ``inr export`` arguments and export."""
    parser = argparse.ArgumentParser(prog="inr export", description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="a batched .ckpt written by inr fit on a folder of signals")
    parser.add_argument("--out", default=None, help="the dataset file: every member's parameters, stacked (.pt)")
    parser.add_argument("--checkpoints", default=None, help="folder for one ordinary checkpoint per member")
    options = parser.parse_args(argv)
    try:
        for line in export(options.checkpoint, options.out, options.checkpoints):
            print(line)
    except InrError as error:
        print(f"inr export: error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
