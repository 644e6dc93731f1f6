"""What a user sees: the validation table, the main metric and the closing line, readable error maps, ``inr list``."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import ROOT, TINY_MODEL, cameraman_crop, run_fit
from wandb_reader import find_offline_runs, metric_values

from inr.core.error_maps import round_scale
from inr.core.evaluation import Evaluation


def _printed_rows(text: str) -> dict[str, list[float]]:
    """The rows of a printed validation table: ``{"val/psnr": [value] or [mean, std, min, max]}``."""
    return {line.split()[0]: [float(cell) for cell in line.split()[1:]]
            for line in text.splitlines() if line.startswith("val/")}


def _fit_args(data: list[str], root: Path, *extra: str) -> list[str]:
    return ["--config", "configs/image_siren.yaml", *data, "--trainer.max_steps", "10",
            "--trainer.val_check_interval", "5", "--trainer.default_root_dir", str(root),
            "--trainer.enable_progress_bar", "false", *TINY_MODEL, *extra]


def test_validate_prints_every_metric_the_fit_logged_and_the_fit_closes_with_its_best(gray_png, tmp_path, capsys):
    from inr.cli import build_cli

    data = ["--data.path", str(gray_png), "--data.size", "null"]
    cli = run_fit(_fit_args(data, tmp_path, "--checkpoint.monitor", "val/ssim",
                            "--checkpoint.every_n_train_steps", "5"))
    closing = capsys.readouterr().err
    (run,) = find_offline_runs(tmp_path)
    ssim = metric_values(run, "val/ssim")
    best = max(value for _, value in ssim)
    assert re.search(rf"inr: best val/ssim {best:.4f} \(.*best-step\d+", closing)  # the monitored metric, its file
    assert f"inr: checkpoints in {cli.trainer.checkpoint_callback.dirpath}" in closing
    assert "inr: W&B offline run in" in closing
    assert "val/ssim" in cli.trainer.progress_bar_metrics  # the bar shows the monitored metric
    assert "val/psnr" not in cli.trainer.progress_bar_metrics

    last = cli.trainer.checkpoint_callback.dirpath + "/last.ckpt"
    build_cli(["validate", *_fit_args(data, tmp_path / "validate", "--ckpt_path", last, "--trainer.logger", "false")])
    out = capsys.readouterr().out
    assert f"validation of {last} (step 10)" in out
    rows = _printed_rows(out)
    assert set(rows) == {"val/psnr", "val/ssim"}
    for key in rows:
        step, logged = metric_values(run, key)[-1]
        assert step == 10 and rows[key] == [pytest.approx(logged, abs=6e-5)]  # printed to 4 decimals


def test_validate_of_many_signals_prints_mean_std_min_and_max(tmp_path, capsys):
    import imageio.v3 as iio

    from inr.cli import build_cli

    folder = tmp_path / "images"
    folder.mkdir()
    for index, size in enumerate((48, 40, 32)):
        iio.imwrite(folder / f"{index}.png", cameraman_crop(size)[:16, :16])
    data = ["--data", "ImageFolderDataModule", "--data.path", str(folder), "--data.size", "null"]
    run_fit(_fit_args(data, tmp_path, "--trainer.logger", "false"))
    capsys.readouterr()
    last = next(tmp_path.glob("**/last.ckpt"))
    cli = build_cli(["validate", *_fit_args(data, tmp_path / "validate", "--ckpt_path", str(last),
                                            "--trainer.logger", "false")])
    out = capsys.readouterr().out
    assert re.search(r"^metric\s+mean\s+std\s+min\s+max$", out, re.M)
    rows = _printed_rows(out)
    assert set(rows) == {"val/psnr", "val/ssim"}
    members = cli.model.member_metrics
    for key, (mean, std, low, high) in rows.items():
        values = torch.stack([row[key.removeprefix("val/")] for row in members]).double()
        assert mean == pytest.approx(values.mean().item(), abs=6e-5)
        assert std == pytest.approx(values.std(unbiased=False).item(), abs=6e-5)
        assert (low, high) == (pytest.approx(values.min().item(), abs=6e-5), pytest.approx(values.max().item(),
                                                                                            abs=6e-5))
        assert low < high  # three different images


def _caption_scale(caption: str) -> float:
    match = re.search(r"yellow >= ([0-9.e+-]+) of the range", caption)
    assert match, caption
    return float(match.group(1))


def _magma(fractions: np.ndarray) -> np.ndarray:
    from matplotlib import colormaps

    return colormaps["magma"](np.clip(fractions, 0, 1))[..., :3] * 255


def test_the_image_error_map_colours_follow_its_caption_scale_and_psnr(gray_png):
    from datamodules.image import ImageDataModule
    from inr.metrics import PSNR

    data = ImageDataModule(str(gray_png), size=None)
    batch = data.validation_batch(torch.device("cpu"))
    target = batch["values"]
    low, high = data.signal_spec.value_range
    ramp = torch.linspace(0, 0.03, target.shape[0]).unsqueeze(-1) * (high - low)  # |error| 0 .. 3 % of the range
    prediction = (target + torch.where(target > 0, -ramp, ramp)).clamp(low, high)
    evaluation = Evaluation(spec=data.signal_spec, batch=batch, prediction=prediction, predict=lambda c: c)
    (picture,) = [item for item in data.media(evaluation, {}) if item.key == "val/reconstruction"]
    caption, colours = picture.captions[1], picture.images[1]
    errors = ((prediction - target).abs() / (high - low)).reshape(32, 32).numpy()
    scale = _caption_scale(caption)
    assert scale == 0.05  # the round number at or above the 99th percentile (3 %)
    assert colours.shape == (32, 32, 3) and colours.dtype == np.uint8
    assert np.abs(colours - _magma(errors / scale)).max() <= 1.0
    assert colours.reshape(-1, 3).std(axis=0).max() > 20  # not a near-black picture
    metric = PSNR()
    metric.update(evaluation)
    assert f"PSNR {metric.compute()['psnr'].item():.2f} dB" in caption


def test_round_scales_cover_the_99th_percentile_with_a_round_number():
    for top in (0.0013, 0.02, 0.031, 0.2, 0.7, 1.0):
        errors = np.full(1000, top)
        scale = round_scale(errors)
        mantissa = scale / 10 ** math.floor(math.log10(scale) + 1e-9)
        assert top <= scale < 2.5 * top + 1e-12 and round(mantissa, 6) in (1, 2, 5)
    assert round_scale(np.zeros(10)) == 1e-3


def test_audio_and_video_errors_state_their_scale_and_psnr():
    from datamodules.audio import AudioDataModule
    from datamodules.video import VideoDataModule, values_to_frames
    from inr.metrics import PSNR, FramePSNR

    audio = AudioDataModule(crop_seconds=0.05)
    batch = audio.validation_batch(torch.device("cpu"))
    noise = 0.003 * torch.sin(torch.arange(batch["values"].numel()).reshape(batch["values"].shape) * 0.7)
    evaluation = Evaluation(spec=audio.signal_spec, batch=batch, prediction=batch["values"] + noise,
                            predict=lambda c: c)
    (waveform,) = [item for item in audio.media(evaluation, {}) if item.key == "val/waveform"]
    metric = PSNR()
    metric.update(evaluation)
    assert f"PSNR {metric.compute()['psnr'].item():.2f} dB" in waveform.captions[0]
    assert "error x100 (red: its panel spans +-0.01)" in waveform.captions[0]  # peak 0.003: x100 fills > 1/10

    video = VideoDataModule(frames=4, size=16, val_frames=2)
    batch = video.validation_batch(torch.device("cpu"))
    prediction = (batch["values"] + 0.02).clamp(*video.signal_spec.value_range)
    evaluation = Evaluation(spec=video.signal_spec, batch=batch, prediction=prediction, predict=lambda c: c)
    metric = FramePSNR()
    metric.update(evaluation)
    (strip,) = [item for item in video.media(evaluation, {}) if item.key == "val/error_strip"]
    per_frame = ", ".join(f"{float(value):.2f}" for value in evaluation.extras["psnr_per_frame"])
    assert f"PSNR per frame {per_frame} dB" in strip.captions[0]
    scale = _caption_scale(strip.captions[0])
    frames = values_to_frames(prediction, (2, video.height, video.width, video.channels)).astype(np.float64)
    truth = video.clip[video.val_frames].astype(np.float64)
    errors = np.concatenate(list(np.abs(frames - truth).mean(axis=-1) / 255), axis=1)
    assert np.abs(strip.images[0] - _magma(errors / scale)).max() <= 1.0


def _config_class_names(node) -> set[str]:
    """Every class a config names: ``class_path`` values and short names given as a component directly."""
    names: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "class_path" or (key in ("encoder", "network") and isinstance(value, str)):
                names.add(value)
            names |= _config_class_names(value)
    elif isinstance(node, list):
        for value in node:
            names |= _config_class_names(value)
    return names


def test_inr_list_names_every_class_the_configs_use_and_every_config(capsys):
    from inr.commands.catalog import main

    main([])
    out = capsys.readouterr().out
    listed = {line.split()[0] for line in out.splitlines() if line.startswith("  ")}
    configs = sorted((ROOT / "configs").glob("**/*.yaml"))
    used = set().union(*(_config_class_names(yaml.safe_load(path.read_text())) for path in configs))
    assert len(used) > 30
    for name in used:
        if name.startswith("torch."):
            assert "torch.optim.*," in listed
        elif name.startswith("inr.io."):
            assert name in listed
        else:
            assert name.rsplit(".", 1)[-1] in listed, name
    for path in configs:
        assert str(path.relative_to(ROOT)) in listed
    assert not {"MembersDataModule", "CoordinateMLP", "FourierFeatures"} & listed  # bases are no choice

    from inr.cli import build_cli

    with pytest.raises(SystemExit):
        build_cli(["fit", "--help"])
    assert "inr list shows them all, and the shipped configs" in " ".join(capsys.readouterr().out.split())

    main(["networks"])
    networks = capsys.readouterr().out
    assert networks.startswith("networks (--model.network NAME") and "  Siren  " in networks
    assert "ImageDataModule" not in networks
    with pytest.raises(SystemExit):
        main(["widgets"])
    assert "no section 'widgets'" in capsys.readouterr().err
