"""Real multi-process DDP (gloo on CPU) through the CLI: fit on 2 ranks, validate on 1, resume on 1."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch
from conftest import ROOT, TINY_MODEL, child_env
from wandb_reader import find_offline_runs, metric_values, wait_until_finished

from inr.cli import build_cli, find_last_checkpoint


def _inr(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "inr.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env=child_env(), timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.slow
@pytest.mark.parametrize("batch_size", ["128", "null"], ids=["random-batches", "full-batch-shards"])
def test_two_process_fit_validates_and_resumes_in_one_process(batch_size, gray_png, tmp_path):
    common = ["--config", "configs/image_siren.yaml", "--data.path", str(gray_png), "--data.size", "null",
              "--data.batch_size", batch_size, "--trainer.default_root_dir", str(tmp_path),
              "--trainer.enable_progress_bar", "false", "--trainer.accelerator", "cpu", *TINY_MODEL]
    _inr("fit", *common, "--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.max_steps", "4",
         "--trainer.val_check_interval", "4")
    wait_until_finished(tmp_path)
    (run,) = find_offline_runs(tmp_path)  # only rank zero logs
    [(step, ddp_psnr)] = metric_values(run, "val/psnr")
    assert step == 4
    checkpoint = find_last_checkpoint(tmp_path)
    assert torch.load(checkpoint, weights_only=True)["global_step"] == 4

    validated = build_cli(["validate", *common, "--trainer.devices", "1", "--ckpt_path", str(checkpoint),
                           "--trainer.logger", "false"])
    assert validated.trainer.callback_metrics["val/psnr"].item() == pytest.approx(ddp_psnr, abs=1e-4)

    _inr("fit", *common, "--trainer.devices", "1", "--trainer.max_steps", "6", "--ckpt_path", "last",
         "--trainer.val_check_interval", "2")
    assert torch.load(find_last_checkpoint(tmp_path), weights_only=True)["global_step"] == 6


def _failing_fit(tmp_path, gray_png, mode: str, *extra: str) -> tuple[subprocess.CompletedProcess, float]:
    """A 2-process fit whose loss fails on rank 1 at its 3rd call; returns the finished process and its seconds."""
    env = {**child_env(), "PYTHONPATH": str(ROOT / "tests")}
    args = ["fit", "--config", "configs/image_siren.yaml", "--data.path", str(gray_png), "--data.size", "null",
            "--data.batch_size", "128", "--trainer.default_root_dir", str(tmp_path), "--trainer.max_steps", "20",
            "--trainer.enable_progress_bar", "false", "--trainer.accelerator", "cpu", "--trainer.strategy", "ddp",
            "--trainer.devices", "2", "--model.losses+=faults.FailOnRank", "--model.losses.mode", mode,
            "--trainer.logger", "false", *TINY_MODEL, *extra]
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "inr.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=300)
    return done, time.monotonic() - start


def _error_lines(stderr: str) -> list[str]:
    """inr's one-line error messages in a job's stderr (Lightning may print its own lines after them)."""
    return [line for line in stderr.splitlines() if line.startswith("inr: error:")]


@pytest.mark.slow
def test_exception_on_one_rank_ends_the_job_naming_the_rank(gray_png, tmp_path):
    done, seconds = _failing_fit(tmp_path, gray_png, "raise", "--checkpoint.save_on_exception", "true")
    assert done.returncode != 0
    # The failing rank prints it; rank 0 prints it too unless Lightning's child observer has killed it first.
    errors = _error_lines(done.stderr)
    assert errors and set(errors) == {"inr: error: rank 1 failed: RuntimeError: injected failure on rank 1 at call 3"}
    assert seconds < 120  # no rank left waiting for the 600 s default timeout (or Lightning's 30 min)


@pytest.mark.slow
def test_hung_rank_ends_the_job_after_the_process_group_timeout(gray_png, tmp_path):
    # capture_output waits for every process holding the pipes: a rank left behind would fail with TimeoutExpired.
    # The timeout also bounds the start-up rendezvous: 20 s leaves room for a slow rank start on a loaded machine.
    done, seconds = _failing_fit(tmp_path, gray_png, "hang", "--ddp_timeout", "20")
    assert done.returncode != 0
    (last_line,) = _error_lines(done.stderr)
    assert last_line.startswith("inr: error: rank 0 lost contact with the other ranks"), done.stderr
    assert "Timed out waiting 20000ms" in last_line and "process-group timeout 20 s" in last_line
    assert seconds < 120


def test_ddp_timeout_must_be_positive(gray_png, tmp_path, capsys):
    from inr.cli import main

    with pytest.raises(SystemExit) as raised:
        main(["fit", "--config", "configs/image_siren.yaml", "--data.path", str(gray_png), "--ddp_timeout", "0",
              "--trainer.default_root_dir", str(tmp_path), "--trainer.logger", "false"])
    assert raised.value.code == 2
    assert "inr: error: --ddp_timeout must be a positive number of seconds, got 0.0" in capsys.readouterr().err


def _modality_args(modality: str, tmp_path) -> tuple[list[str], str]:
    """Options of a tiny 2-process fit of ``modality`` and the validation metric to compare."""
    import numpy as np
    import soundfile as sf

    if modality == "audio":
        path = tmp_path / "tone.wav"
        t = np.arange(800) / 16000
        sf.write(path, 0.5 * np.sin(2 * np.pi * (300 + 4000 * t) * t), 16000, subtype="PCM_16")
        audio = ["--config", "configs/audio_siren.yaml", "--data.path", str(path), "--data.batch_size", "128"]
        return audio, "val/psnr"
    return ["--config", "configs/sdf_siren.yaml", "--data.batch_size", "256", "--data.surface_points", "5000",
            "--data.val_resolution", "24", "--data.val_points", "2000"], "val/chamfer"


@pytest.mark.slow
@pytest.mark.parametrize("modality", ["audio", "sdf"])
def test_two_process_fit_of_other_modalities_validates_like_one_process(modality, tmp_path):
    data_args, metric = _modality_args(modality, tmp_path)
    common = [*data_args, "--trainer.default_root_dir", str(tmp_path / "runs"), "--trainer.enable_progress_bar",
              "false", "--trainer.accelerator", "cpu", *TINY_MODEL]
    _inr("fit", *common, "--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.max_steps", "4",
         "--trainer.val_check_interval", "4")
    wait_until_finished(tmp_path / "runs")
    (run,) = find_offline_runs(tmp_path / "runs")
    [(step, ddp_value)] = metric_values(run, metric)
    assert step == 4
    checkpoint = find_last_checkpoint(tmp_path / "runs")
    validated = build_cli(["validate", *common, "--trainer.devices", "1", "--ckpt_path", str(checkpoint),
                           "--trainer.logger", "false"])
    assert validated.trainer.callback_metrics[metric].item() == pytest.approx(ddp_value, rel=1e-4, abs=1e-5)
