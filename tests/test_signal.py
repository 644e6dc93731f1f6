"""inr.core.signal.SignalSpec: typed, stored as primitives; checkpoints written before it still render and resume."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY_MODEL, run_fit

from inr.core.signal import SignalSpec


def test_round_trip_through_primitives():
    spec = SignalSpec(2, 3, kind="image", datamodule="datamodules.image.ImageDataModule", shape=(12, 16),
                      source="photo.png", meta={"bit_depth": 16})
    stored = spec.to_dict()
    assert stored == {"kind": "image", "datamodule": "datamodules.image.ImageDataModule", "in_dim": 2, "out_dim": 3,
                      "value_range": [-1.0, 1.0], "shape": [12, 16], "source": "photo.png", "bit_depth": 16}
    assert SignalSpec.from_dict(stored) == spec and spec.points == 12 * 16


def test_checkpoint_layouts_without_shape_are_read():
    image = {"kind": "image", "datamodule": "d.I", "in_dim": 2, "out_dim": 1, "value_range": [-1.0, 1.0],
             "height": 4, "width": 5, "bit_depth": 8, "source": "x.png"}
    audio = {"kind": "audio", "datamodule": "d.A", "in_dim": 1, "out_dim": 2, "value_range": [-1.0, 1.0],
             "sample_rate": 8000, "num_samples": 160, "channels": 2, "subtype": "PCM_16", "start_seconds": 0.0,
             "source": "x.wav"}
    assert SignalSpec.from_dict(image).shape == (4, 5) and SignalSpec.from_dict(image).meta == {"bit_depth": 8}
    spec = SignalSpec.from_dict(audio)
    assert spec.shape == (160,) and spec.meta == {"sample_rate": 8000, "subtype": "PCM_16", "start_seconds": 0.0}


@pytest.mark.parametrize("fields, message", [
    ({"in_dim": 0, "out_dim": 1}, "signal in_dim must be >= 1, got 0"),
    ({"in_dim": 2, "out_dim": 1, "value_range": (1.0, 1.0)}, r"value_range must be \(low, high\) with low < high"),
])
def test_bad_specs_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        SignalSpec(**fields)
    with pytest.raises(ValueError, match=r"signal description lacks \['out_dim'\]"):
        SignalSpec.from_dict({"in_dim": 2})


def test_a_checkpoint_in_the_layout_without_shape_renders_and_resumes(gray_png, tmp_path):
    import imageio.v3 as iio

    from inr.cli import find_last_checkpoint
    from inr.commands.render import render_checkpoint

    args = ["--config", "configs/image_siren.yaml", "--data.path", str(gray_png), "--data.size", "null",
            "--trainer.default_root_dir", str(tmp_path), "--trainer.enable_progress_bar", "false",
            "--trainer.logger", "false", *TINY_MODEL]
    run_fit([*args, "--trainer.max_steps", "2"])
    path = find_last_checkpoint(tmp_path)
    checkpoint = torch.load(path, weights_only=True)
    signal = checkpoint["hyper_parameters"]["signal"]
    height, width = signal.pop("shape")
    checkpoint["hyper_parameters"]["signal"] = {**signal, "height": height, "width": width}  # the older layout
    torch.save(checkpoint, path)
    assert "wrote" in render_checkpoint(path, str(tmp_path / "old.png"))
    assert iio.imread(tmp_path / "old.png").shape == (32, 32)
    resumed = run_fit([*args, "--trainer.max_steps", "3", "--ckpt_path", str(path)])
    assert resumed.trainer.global_step == 3
