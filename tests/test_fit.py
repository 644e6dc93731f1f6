"""End-to-end fits through the CLI: PSNR reached, render, W&B read back, exact resume in a new process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import pytest
import torch
from conftest import TINY_MODEL, child_env, run_fit
from wandb_reader import find_offline_runs, metric_values, read_config, read_history, run_id, wait_until_finished

from inr.cli import find_last_checkpoint
from inr.commands.render import render_checkpoint

SMALL_SIREN = ["--model.network.init_args.hidden", "64", "--model.network.init_args.layers", "2"]
FAST_ADAM = ["--model.optimizer", "torch.optim.Adam", "--model.optimizer.lr", "1e-3"]


def _fit(config: str, image: Path, root: Path, steps: int, extra: list[str] = ()):
    return run_fit([
        "--config", config, "--data.path", str(image), "--data.size", "null", "--trainer.max_steps", str(steps),
        "--trainer.default_root_dir", str(root), "--trainer.val_check_interval", str(steps),
        "--trainer.enable_progress_bar", "false", *extra,
    ])


@pytest.fixture(scope="module")
def siren_run(tmp_path_factory):
    """One 32 x 32 SIREN fit shared by the tests below (300 steps, ~15 s)."""
    import imageio.v3 as iio
    from conftest import cameraman_crop

    root = tmp_path_factory.mktemp("siren")
    image = root / "gray32.png"
    iio.imwrite(image, cameraman_crop(32))
    cli = _fit("configs/image_siren.yaml", image, root / "runs", 300, [*SMALL_SIREN, *FAST_ADAM])
    return cli, root / "runs", image


def test_siren_fit_reaches_psnr_threshold(siren_run):
    cli, _, _ = siren_run
    assert cli.trainer.global_step == 300
    assert cli.trainer.callback_metrics["val/psnr"].item() > 35.0


def test_relu_without_encoding_stays_far_below_siren(siren_run, tmp_path):
    siren_psnr = siren_run[0].trainer.callback_metrics["val/psnr"].item()
    cli = _fit("configs/image_relu.yaml", siren_run[2], tmp_path, 300, [*SMALL_SIREN, *FAST_ADAM])
    relu_psnr = cli.trainer.callback_metrics["val/psnr"].item()
    assert relu_psnr < siren_psnr - 10, (relu_psnr, siren_psnr)


def test_offline_wandb_run_holds_psnr_loss_images_and_config(siren_run):
    _, root, _ = siren_run
    (run,) = find_offline_runs(root)
    psnr = metric_values(run, "val/psnr")
    assert [step for step, _ in psnr] == [300]
    assert psnr[0][1] == pytest.approx(siren_run[0].trainer.callback_metrics["val/psnr"].item(), abs=1e-4)
    losses = metric_values(run, "train/loss")
    assert len(losses) == 30 and losses[-1][1] < losses[0][1]
    assert metric_values(run, "train/loss/value")
    images = [row for row in read_history(run) if "val/reconstruction/_type" in row]
    assert images and images[0]["val/reconstruction/count"] == 2
    picture = run / "files" / images[0]["val/reconstruction/filenames"][0]
    pixels = iio.imread(picture)
    assert pixels.shape[:2] == (32, 32) and pixels.std() > 10  # not the black image of a float-in-[0,1] mistake
    config = read_config(run)
    assert config["network"]["class_path"] == "inr.nn.networks.Siren"
    assert config["signal"]["shape"] == [32, 32]


def test_checkpoint_loads_weights_only_and_renders_at_twice_the_resolution(siren_run, tmp_path):
    _, root, _ = siren_run
    last = find_last_checkpoint(root)
    assert last is not None and last.name == "last.ckpt"
    checkpoint = torch.load(last, weights_only=True)
    assert checkpoint["global_step"] == 300 and "optimizer_states" in checkpoint
    out = tmp_path / "render.png"
    render_checkpoint(last, str(out), resolution=64)
    rendered = iio.imread(out)
    assert rendered.shape == (64, 64)
    native = iio.imread(render_checkpoint(last, str(tmp_path / "native.png")) and tmp_path / "native.png")
    original = iio.imread(siren_run[2]).astype(float)
    assert native.shape == (32, 32)
    assert abs(native.astype(float) - original).mean() < 3  # the render is the fitted image


def test_render_command_writes_png_and_reports_errors(siren_run, tmp_path):
    last = find_last_checkpoint(siren_run[1])
    out = tmp_path / "cli.png"
    done = subprocess.run([sys.executable, "-m", "inr.cli", "render", str(last), "--out", str(out),
                           "--resolution", "48"], capture_output=True, text=True, env=child_env())
    assert done.returncode == 0, done.stderr
    assert iio.imread(out).shape == (48, 48)
    missing = subprocess.run([sys.executable, "-m", "inr.cli", "render", str(tmp_path / "nope.ckpt"), "--out",
                              str(out)], capture_output=True, text=True)
    assert missing.returncode == 2 and "checkpoint not found" in missing.stderr
    assert "Traceback" not in missing.stderr


def _cli_fit(root: Path, image: Path, steps: int, *extra: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "inr.cli", "fit", "--config", "configs/image_ffn_gaussian.yaml",
               "--data.path", str(image), "--data.size", "null", "--data.batch_size", "256",
               "--trainer.max_steps", str(steps), "--trainer.default_root_dir", str(root),
               "--trainer.val_check_interval", "5", "--checkpoint.every_n_train_steps", "5",
               "--trainer.enable_progress_bar", "false", *TINY_MODEL, *extra]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=child_env())
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.slow
def test_resume_in_a_new_process_matches_an_uninterrupted_run(gray_png, tmp_path):
    _cli_fit(tmp_path / "straight", gray_png, 20)
    _cli_fit(tmp_path / "resumed", gray_png, 10)
    first_run = find_last_checkpoint(tmp_path / "resumed")
    resumed = _cli_fit(tmp_path / "resumed", gray_png, 20, "--ckpt_path", "last")
    assert "resuming from" in resumed.stderr
    straight = torch.load(find_last_checkpoint(tmp_path / "straight"), weights_only=True)
    after = torch.load(find_last_checkpoint(tmp_path / "resumed"), weights_only=True)
    assert find_last_checkpoint(tmp_path / "resumed") == first_run  # same run folder, same W&B run id
    assert after["global_step"] == straight["global_step"] == 20
    for key, value in straight["state_dict"].items():
        assert torch.equal(value, after["state_dict"][key]), key
    wait_until_finished(tmp_path / "resumed")
    runs = find_offline_runs(tmp_path / "resumed")
    assert len(runs) == 2 and run_id(runs[0]) == run_id(runs[1]) == first_run.parent.parent.name
    assert [step for step, _ in metric_values(runs[1], "val/psnr")] == [15, 20]


def test_best_checkpoint_is_ranked_and_named_by_the_validation_of_its_own_weights(gray_png, tmp_path):
    # Lightning ranks a scheduled checkpoint at train-batch end, before that step's validation, which would keep
    # step-k weights under step k - 2's PSNR: with PSNR rising, such a name is off by one interval.
    run_fit(["--data.path", str(gray_png), "--trainer.max_steps", "8", "--trainer.val_check_interval", "2",
             "--checkpoint.every_n_train_steps", "2", "--trainer.default_root_dir", str(tmp_path),
             "--trainer.enable_progress_bar", "false", *TINY_MODEL, *FAST_ADAM])
    (run,) = find_offline_runs(tmp_path)
    psnr = dict(metric_values(run, "val/psnr"))
    assert sorted(psnr) == [2, 4, 6, 8]
    best_step = max(psnr, key=psnr.get)
    (best,) = list(tmp_path.glob("**/checkpoints/best-*.ckpt"))
    assert best.name == f"best-step{best_step}-psnr{psnr[best_step]:.2f}.ckpt", (best.name, psnr)
    assert torch.load(best, weights_only=True)["global_step"] == best_step
