"""The command-line contract: help, every shipped config runs, bad input gives one clear line."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, SURFACE_METRIC_24, TINY_MODEL, child_env, run_fit

CONFIGS = sorted([*(ROOT / "configs").glob("*.yaml"),
                  *(path for folder in ("zoo", "many", "ct", "mri", "occupancy")
                    for path in (ROOT / "configs" / folder).glob("*.yaml"))])


def inr(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "inr.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=child_env(), timeout=300)


def _help(capsys, *args: str) -> str:
    """What ``inr ARGS`` prints, run in this process (help exits with status 0)."""
    from inr.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    assert exit_.value.code in (0, None)
    return capsys.readouterr().out


def test_help_lists_subcommands_and_documented_options(capsys):
    top = inr("--help")  # the installed entry point, in a process of its own
    assert top.returncode == 0
    assert "{fit,validate}" in top.stdout and "inr render" in top.stdout  # no test/predict: no step for them
    assert "inr meta {fit,validate,export,latents}" in top.stdout
    fit = _help(capsys, "fit", "--help")
    options = ("--data.help", "--trainer.max_steps", "--ckpt_path", "--model.encoder",
               "--checkpoint.every_n_train_steps", "--model.init_from")
    for option in options:
        assert option in fit, option
    assert "most points evaluated at once" in fit  # docstrings reach the help
    data = _help(capsys, "fit", "--data.help", "datamodules.image.ImageDataModule")
    assert "--data.path" in data and "resize" in data
    encoder = _help(capsys, "fit", "--model.encoder.help", "inr.nn.encoders.GaussianFourier")
    assert "--model.encoder.sigma SIGMA" in encoder
    render = _help(capsys, "render", "--help")
    assert "audio: sample rate in Hz" in " ".join(render.split())
    meta = _help(capsys, "meta", "fit", "--model.help", "inr.meta.functa.Functa")
    assert "--model.meta_sgd_clip" in meta or "meta_sgd_clip" in meta


def _tiny_data_args(data_class: str, gray_png: Path, tmp_path: Path) -> tuple[list[str], str]:
    """Data options for a 2-step run of a config of this DataModule, and the metric it must report."""
    if data_class.endswith(("ImageDataModule", "BlendDataModule", "ImageFolderDataModule")):
        return ["--data.path", str(gray_png), "--data.size", "32"], "psnr"
    if data_class.endswith("VideoDataModule"):  # the built-in synthetic clip, 8 frames
        return ["--data.path", "null", "--data.size", "null", "--data.frames", "8", "--data.batch_size", "512"], "psnr"
    if data_class.endswith("AudioDataModule"):
        return ["--data.crop_seconds", "0.02"], "psnr"  # the synthetic test signal
    if data_class.endswith("PointCloudDataModule"):
        return ["--data.batch_size", "256", "--data.surface_points", "5000", *SURFACE_METRIC_24,
                "--data.val_points", "2000"], "chamfer"
    if data_class.endswith("CTDataModule"):
        return ["--data.size", "16", "--data.views", "4", "--data.baseline_steps", "2"], "psnr"
    if data_class.endswith("MRIDataModule"):
        return ["--data.size", "8"], "psnr"
    if data_class.endswith("OccupancyDataModule"):
        return ["--data.points", "400", "--data.val_points", "200", "--data.batch_size", "128"], "iou"
    raise AssertionError(f"no tiny data options for {data_class}: add them here")


@pytest.mark.parametrize("config", CONFIGS, ids=lambda path: str(path.relative_to(ROOT / "configs")))
def test_every_config_parses_and_trains_two_steps(config, gray_png, tmp_path):
    data_class = yaml.safe_load(config.read_text())["data"]["class_path"]
    data_args, metric = _tiny_data_args(data_class, gray_png, tmp_path)
    cli = run_fit(["--config", str(config), *data_args, "--trainer.max_steps", "2",
                   "--trainer.val_check_interval", "2", "--trainer.default_root_dir", str(tmp_path),
                   "--trainer.enable_progress_bar", "false", *TINY_MODEL])
    assert cli.trainer.global_step == 2
    value = cli.trainer.callback_metrics[f"val/{metric}"].item()
    if metric == "psnr":
        assert 0 < value < 100
    elif metric == "iou":
        assert 0 <= value <= 1
    else:  # chamfer: NaN exactly when the network has no zero level set in the cube yet
        from inr.core.mesh import extract_mesh

        faces = len(extract_mesh(cli.model.predict_values, 24).faces)
        assert (math.isnan(value) and faces == 0) or (0 < value < 2 and faces > 0), (value, faces)
    assert (tmp_path / "config.yaml").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data.path", "{tmp}/missing.png"], "image file not found: {tmp}/missing.png"),
        (["--data.path", "{tmp}/text.png"], "cannot read image file {tmp}/text.png"),
        (["--data.batch_size", "-3"], "data batch_size must be a positive number of points"),
        (["--config", "configs/image_ffn_gaussian.yaml", "--model.encoder.init_args.sigma", "0"],
         "GaussianFourier sigma must be > 0, got 0.0"),
        (["--config", "configs/image_relu_pe.yaml", "--model.encoder.init_args.sigma", "-1"],
         "PositionalEncoding sigma must be > 0"),
        (["--model.encoder", "inr.nn.encoders.NoSuchEncoder"], "inr.nn.encoders' has no attribute 'NoSuchEncoder'"),
        (["--model.chunk_size", "0"], "model chunk_size must be >= 1 point"),
    ],
)
def test_bad_input_gives_one_clear_error(args, message, tmp_path, capsys):
    from inr.cli import main

    (tmp_path / "text.png").write_text("not an image")
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", *args, "--trainer.max_steps", "1", "--trainer.default_root_dir", str(tmp_path)])
    assert exit_info.value.code == 2
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert message.replace("{tmp}", str(tmp_path)) in last_line
    assert "Error:" not in last_line and 'File "' not in last_line  # our message, not the end of a traceback
