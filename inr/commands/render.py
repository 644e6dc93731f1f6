"""``inr render``: rebuild a model from its checkpoint alone and write the signal it represents."""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from pathlib import Path

import torch

from inr.commands.export import load_member_model
from inr.core.errors import InputError, InrError, MissingFileError
from inr.training.checkpoints import read_checkpoint
from inr.training.module import INRModule


def load_model(checkpoint: str | Path, device: str = "cpu") -> INRModule:
    """Rebuild an INRModule from a checkpoint written by ``inr fit`` (weights_only load, no config needed)."""
    path = Path(checkpoint)
    if not path.is_file():
        raise MissingFileError(f"checkpoint not found: {path}")
    checkpoint_data = read_checkpoint(path)
    if "signal" not in checkpoint_data.get("hyper_parameters", {}):
        raise InputError(f"{path} was not written by inr fit: its hyper_parameters hold no 'signal' description")
    model = INRModule.load_from_checkpoint(path, map_location=device, weights_only=True)
    return model.eval()


def render_checkpoint(checkpoint: str | Path, out: str, resolution: int | None = None, device: str = "cpu",
                      member: int | None = None, fps: float | None = None,
                      frame_size: tuple[int, int] | None = None) -> str:
    """Write what ``checkpoint`` represents to ``out`` (an image PNG, ...); returns a one-line summary.

    A checkpoint of members (a fit of a folder) renders one of them: ``member`` is required there and refused
    elsewhere.
    """
    model = load_model(checkpoint, device)
    if model.signal.batched:
        if member is None:
            raise InputError(f"{checkpoint} holds {model.signal.members} members: choose one with --member INDEX "
                             f"(0..{model.signal.members - 1})")
        model.signal.member(member)  # a clear error for an index out of range
        model = load_member_model(checkpoint, member, device)
    elif member is not None:
        raise InputError(f"--member {member}: {checkpoint} holds a single signal, not members")
    return render_model(model, out, resolution, fps, frame_size, str(checkpoint))


def render_model(model: INRModule, out: str, resolution: int | None = None, fps: float | None = None,
                 frame_size: tuple[int, int] | None = None, name: str = "the model") -> str:
    """Write the signal a single-signal ``model`` represents to ``out`` with its DataModule's renderer."""
    spec = model.signal
    module_name, class_name = spec.datamodule.rsplit(".", 1)
    datamodule_class = getattr(importlib.import_module(module_name), class_name)

    def predict(coords: torch.Tensor) -> torch.Tensor:
        return model.predict_values(coords, progress=spec.kind != "video")  # a video shows progress per frame

    if fps is not None or frame_size is not None:
        if spec.kind != "video":
            option = f"--fps {fps:g}" if fps is not None else "--frame-size"
            raise InputError(f"{option}: {name} represents {spec.kind!r}, and only a video has frames")
        return datamodule_class.render_to_file(predict, spec, out, resolution, fps=fps, frame_size=frame_size)
    return datamodule_class.render_to_file(predict, spec, out, resolution)


def _frame_size(text: str) -> tuple[int, int]:
    """``"640x272"`` -> (640, 272)."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 640x272, got {text!r}")
    return int(match[1]), int(match[2])


def main(argv: list[str] | None = None) -> None:
    """Parse ``inr render`` arguments and render."""
    parser = argparse.ArgumentParser(
        prog="inr render", description="Evaluate a checkpoint on a grid of any resolution and write the signal."
    )
    parser.add_argument("checkpoint", help="a .ckpt written by inr fit (e.g. runs/**/checkpoints/last.ckpt)")
    parser.add_argument("--out", required=True, help="output file: PNG... for images, WAV... for audio, PLY... for "
                        "shapes, MP4/WebM/GIF/AVI or frame_%%04d.png for video")
    parser.add_argument("--resolution", type=int, default=None,
                        help="image, video: longer side in pixels (default: the training size); audio: sample rate "
                             "in Hz "
                             "(default: the clip's, same duration); SDF: grid points per axis of the mesh extraction "
                             "(default 256)")
    parser.add_argument("--fps", type=float, default=None,
                        help="video: output frame rate (default the clip's; more frames than the clip evaluates the "
                             "instants in between, same duration)")
    parser.add_argument("--frame-size", type=_frame_size, default=None, metavar="WIDTHxHEIGHT",
                        help="video: the frames' size in pixels, e.g. 1280x544 (any aspect ratio)")
    parser.add_argument("--member", type=int, default=None,
                        help="the member to render, for a checkpoint of a fit of several signals (0-based)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="torch device")
    options = parser.parse_args(argv)
    try:
        print(render_checkpoint(options.checkpoint, options.out, options.resolution, options.device, options.member,
                                options.fps, options.frame_size))
    except InrError as error:
        print(f"inr render: error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
