"""Every zoo preset's encoder + network (and optimizer) through the derivative configs (Poisson from gradients and
from Laplacians, the SDF fit): it trains (the loss falls, stays finite) or is refused at construction with a line
that says why."""

from __future__ import annotations

import json
import math
import warnings

import pytest
import yaml
from conftest import ROOT, SURFACE_METRIC_24
from lightning.pytorch.callbacks import Callback

from inr.cli import build_cli, input_error

PRESETS = sorted((ROOT / "configs" / "zoo").glob("*.yaml"))
DERIVATIVE_CONFIGS = ("poisson_gradient", "poisson_laplacian", "sdf_siren")
#: (preset, config) -> the start of the refusal; every other pair must train.
REFUSED = {
    **{("finer", config): "the losses" for config in DERIVATIVE_CONFIGS},  # scale without gradient by default
    ("hash_grid", "poisson_laplacian"): "LaplacianLoss cannot train",  # d-linear lookups and ReLU: zero Laplacian
}
#: small versions of the presets' modules, so each fit takes a second or two.
SMALL = {"hidden": 32, "layers": 1}
SMALL_ENCODER = {"log2_table_size": 12, "levels": 4, "max_resolution": 64}


class LossRecorder(Callback):
    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.losses.append(float(outputs["loss"] if isinstance(outputs, dict) else outputs))


def _component(spec, small: dict) -> str:
    """A preset's class_path/init_args made small, as a JSON option value."""
    if isinstance(spec, str):
        return json.dumps({"class_path": spec})
    arguments = {**spec.get("init_args", {})}
    arguments.update({key: value for key, value in small.items() if key in arguments})
    return json.dumps({"class_path": spec["class_path"], "init_args": arguments})


def _data_args(config: str, gray_png) -> list[str]:
    if config.startswith("poisson"):
        return ["--data.path", str(gray_png), "--data.size", "24"]
    return ["--data.batch_size", "512", "--data.surface_points", "3000", "--data.val_points", "1000",
            *SURFACE_METRIC_24]


@pytest.mark.parametrize("config", DERIVATIVE_CONFIGS)
@pytest.mark.parametrize("preset", PRESETS, ids=lambda path: path.stem)
def test_preset_trains_on_derivatives_or_is_refused(preset, config, gray_png, tmp_path):
    model = yaml.safe_load(preset.read_text())["model"]
    args = ["--config", str(ROOT / "configs" / f"{config}.yaml"), *_data_args(config, gray_png),
            "--model.encoder", _component(model["encoder"], SMALL_ENCODER),
            "--model.network", _component(model["network"], SMALL),
            "--model.optimizer", json.dumps(model["optimizer"]),  # the preset's learning rate
            "--trainer.max_steps", "12", "--trainer.val_check_interval", "12", "--trainer.log_every_n_steps", "1",
            "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
            "--trainer.default_root_dir", str(tmp_path), "--checkpoint.save_top_k", "0",
            "--checkpoint.save_last", "false"]
    refusal = REFUSED.get((preset.stem, config))
    if refusal is not None:
        with pytest.raises(BaseException) as raised:
            build_cli(["fit", *args], exit_on_error=False)
        error = input_error(raised.value)
        assert error is not None and str(error).startswith(refusal), raised.value
        return
    cli = build_cli(args, run=False)
    recorder = LossRecorder()
    cli.trainer.callbacks.append(recorder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. LaplacianLoss on ReLU + a smooth encoder: a warning, not a refusal
        cli.trainer.fit(cli.model, cli.datamodule)
    losses = recorder.losses
    assert len(losses) == 12 and all(math.isfinite(loss) for loss in losses), losses
    assert sum(losses[-3:]) / 3 < losses[0], losses
