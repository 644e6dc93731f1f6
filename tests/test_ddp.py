"""Real multi-process DDP (gloo on CPU) through the CLI: fit on 2 ranks, validate on 1, resume on 1."""

from __future__ import annotations

import subprocess
import sys

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
