"""Real multi-process DDP (gloo on CPU) through the CLI: fit on 2 ranks, validate on 1, resume on 1."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import torch
from conftest import EQUIVALENT_ATOL, FLOAT64, ROOT, SURFACE_METRIC_24, TINY_MODEL, child_env, run_fit, run_inr
from wandb_reader import find_offline_runs, metric_values, read_history, wait_until_finished

from inr.cli import build_cli, find_last_checkpoint


def _inr(*args: str) -> subprocess.CompletedProcess:
    return run_inr(*args, timeout=400)


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
def test_hung_rank_ends_the_job_after_ddp_timeout_naming_the_rank(gray_png, tmp_path):
    # capture_output waits for every process holding the pipes: a rank left behind would fail with TimeoutExpired.
    # inr's watchdog stops the job (gloo's own timeout, a minute later, would also end it; NCCL's would abort the
    # process without a word and leave the hung rank running).
    done, seconds = _failing_fit(tmp_path, gray_png, "hang", "--ddp_timeout", "20")
    assert done.returncode != 0
    assert set(_error_lines(done.stderr)) == {
        "inr: error: rank 1 stopped making progress in training step 2 while the other ranks waited for its "
        "gradients (no progress for 20 s, --ddp_timeout); the job is stopped"}, done.stderr[-3000:]
    assert 20 < seconds < 60


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
    if modality == "video":
        return ["--config", "configs/video_siren.yaml", "--data.path", "null", "--data.size", "null",
                "--data.frames", "8", "--data.batch_size", "256"], "val/psnr"
    return ["--config", "configs/sdf_siren.yaml", "--data.batch_size", "256", "--data.surface_points", "5000",
            *SURFACE_METRIC_24, "--data.val_points", "2000"], "val/chamfer"


@pytest.mark.slow
@pytest.mark.parametrize("modality", ["audio", "sdf", "video"])
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


def _cameraman_png(path, height: int, width: int):
    """A [height, width] 8-bit gray crop of cameraman written to ``path``."""
    import imageio.v3 as iio
    from conftest import cameraman_crop

    iio.imwrite(path, cameraman_crop(max(height, width))[:height, :width])
    return path


def _state(checkpoint) -> dict[str, torch.Tensor]:
    return torch.load(checkpoint, weights_only=True)["state_dict"]


@pytest.mark.slow
@pytest.mark.parametrize("config", ["poisson_gradient", "poisson_laplacian", "poisson_blend"])
def test_derivative_only_losses_fit_on_two_processes_like_on_one(config, tmp_path):
    # 33 = 2 * 16 + 1 pixels, full batch, chunks of 16: rank 0 holds 17 points (2 chunks), rank 1 16 (1 chunk).
    # Derivative-only losses leave the last bias without a gradient, which stops DDP's reducer; the reducer also
    # all-reduces once per chunk (here rank 0 twice, rank 1 once: collectives out of step). inr reduces once.
    image = _cameraman_png(tmp_path / "image.png", 3, 11)
    common = ["--config", f"configs/{config}.yaml", "--data.path", str(image), "--data.size", "null",
              "--model.chunk_size", "16", "--trainer.max_steps", "4", "--trainer.val_check_interval", "4",
              "--trainer.accelerator", "cpu", "--trainer.enable_progress_bar", "false", "--trainer.logger", "false",
              *TINY_MODEL, *FLOAT64]
    env = {**child_env(), "PYTHONPATH": str(ROOT / "tests")}
    done = subprocess.run([sys.executable, "-m", "inr.cli", "fit", *common, "--trainer.strategy", "ddp",
                           "--trainer.devices", "2", "--ddp_timeout", "60", "--trainer.default_root_dir",
                           str(tmp_path / "two"), "--trainer.callbacks+=collectives.CollectiveCounter",
                           "--trainer.callbacks.folder", str(tmp_path / "counts")],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    for rank, points in ((0, 17), (1, 16)):
        steps = json.loads((tmp_path / "counts" / f"collectives-rank{rank}.json").read_text())
        assert [entry["step"] for entry in steps] == [1, 2, 3, 4]
        for entry in steps:
            assert entry["points"] == points
            # inr's one gradient all-reduce; Lightning (2.6) broadcasts rank 0's SIGTERM flag every step.
            assert entry["python"] == {"all_reduce": 1, "broadcast": 1}, (rank, entry)
            assert entry["reducer_buckets"] == 0, (rank, entry)

    one = build_cli([*common, "--trainer.devices", "1", "--trainer.default_root_dir", str(tmp_path / "one")],
                    run=False)
    initial = {key: value.clone() for key, value in one.model.state_dict().items()}
    one.trainer.fit(one.model, one.datamodule)
    two, single = _state(find_last_checkpoint(tmp_path / "two")), _state(find_last_checkpoint(tmp_path / "one"))
    assert single.keys() == two.keys()
    for key in single:
        assert torch.allclose(two[key], single[key], rtol=0, atol=EQUIVALENT_ATOL), key
    assert not torch.equal(single["network.net.0.linear.weight"], initial["network.net.0.linear.weight"])
    assert torch.equal(single["network.net.2.bias"], initial["network.net.2.bias"])  # no gradient reaches it


def test_full_batch_on_more_processes_than_points_is_refused(tmp_path):
    from lightning.pytorch import Trainer

    from datamodules.image import ImageDataModule

    datamodule = ImageDataModule(path=str(_cameraman_png(tmp_path / "three.png", 1, 3)), size=None, batch_size=None)
    datamodule.trainer = Trainer(accelerator="cpu", devices=4, strategy="ddp", logger=False)  # not launched
    with pytest.raises(ValueError, match=r"^full-batch training on 4 processes needs at least 4 points; the signal "
                                         r"has 3 \(use fewer --trainer.devices\)$"):
        datamodule.sample(torch.device("cpu"), step=0, rank=3)


@pytest.mark.slow
def test_complex_network_under_derivative_losses_fits_on_two_processes_like_on_one(tmp_path):
    # WIRE's complex hidden weights get lazily conjugated gradients from the double backward of a gradient loss;
    # inr's all-reduce carries them as real and imaginary parts.
    image = _cameraman_png(tmp_path / "image.png", 4, 5)
    common = ["--config", "configs/poisson_gradient.yaml", "--data.path", str(image), "--data.size", "null",
              "--model.network", '{"class_path": "inr.nn.zoo.Wire", "init_args": {"hidden": 16, "layers": 1}}',
              "--model.optimizer.init_args.lr", "5e-3", "--trainer.max_steps", "3",
              "--trainer.val_check_interval", "3", "--trainer.accelerator", "cpu", "--trainer.enable_progress_bar",
              "false", "--trainer.logger", "false", *FLOAT64]
    _inr("fit", *common, "--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.default_root_dir",
         str(tmp_path / "two"))
    one = build_cli([*common, "--trainer.devices", "1", "--trainer.default_root_dir", str(tmp_path / "one")],
                    run=False)
    initial = {key: value.clone() for key, value in one.model.state_dict().items()}
    one.trainer.fit(one.model, one.datamodule)
    two, single = _state(find_last_checkpoint(tmp_path / "two")), _state(find_last_checkpoint(tmp_path / "one"))
    hidden = "network.net.1.linear.weight"
    assert single[hidden].is_complex() and not torch.equal(single[hidden], initial[hidden])
    for key in single:
        assert torch.allclose(two[key], single[key], rtol=0, atol=EQUIVALENT_ATOL), key


def _members_fit(root, images, steps: int, devices: int, *extra: str) -> subprocess.CompletedProcess:
    return _inr("fit", "--config", "configs/image_siren.yaml", "--data",
                "datamodules.image_folder.ImageFolderDataModule", "--data.path", str(images), "--data.size", "null",
                "--data.batch_size", "64", "--trainer.default_root_dir", str(root), "--trainer.max_steps", str(steps),
                "--trainer.val_check_interval", "10", "--checkpoint.every_n_train_steps", "10",
                "--trainer.enable_progress_bar", "false", "--trainer.accelerator", "cpu", "--trainer.strategy", "ddp",
                "--trainer.devices", str(devices), "--model.optimizer.init_args.lr", "1e-3", *TINY_MODEL, *FLOAT64,
                *extra)


def _last_checkpoint(root):
    return torch.load(find_last_checkpoint(root), weights_only=True)


@pytest.mark.slow
def test_members_sharded_over_two_processes_fit_as_on_one_and_resume_on_one(tmp_path):
    from test_members import _images

    images = tmp_path / "images"
    files = _images(images, 5)
    two = _members_fit(tmp_path / "two", images, 10, 2)
    assert "rank 0 fits members 0..2 of 5" in two.stderr and "rank 1 fits members 3..4 of 5" in two.stderr
    one = _members_fit(tmp_path / "one", images, 10, 1)
    assert "fits members" not in one.stderr
    wait_until_finished(tmp_path)
    sharded, single = _last_checkpoint(tmp_path / "two"), _last_checkpoint(tmp_path / "one")
    # every member equals its 1-process trajectory: no rank saw another rank's gradients (averaging would halve them)
    for key, value in single["state_dict"].items():
        torch.testing.assert_close(sharded["state_dict"][key], value, rtol=0, atol=EQUIVALENT_ATOL, msg=key)
    (run,) = find_offline_runs(tmp_path / "two")
    (reference,) = find_offline_runs(tmp_path / "one")
    [(_, psnr)] = metric_values(run, "val/psnr")
    assert psnr == pytest.approx(metric_values(reference, "val/psnr")[0][1], abs=1e-3)
    tables = [row for row in read_history(run) if row.get("val/members/_type") == "table-file"]
    table = json.loads((run / "files" / tables[-1]["val/members/path"]).read_text())
    assert [row[:2] for row in table["data"]] == [[k, str(file)] for k, file in enumerate(files)]
    # the 2-process checkpoint resumes on 1 process and ends where 20 steps on 1 process end
    _members_fit(tmp_path / "two", images, 20, 1, "--ckpt_path", "last")
    _members_fit(tmp_path / "whole", images, 20, 1)
    resumed, whole = _last_checkpoint(tmp_path / "two"), _last_checkpoint(tmp_path / "whole")
    assert resumed["global_step"] == whole["global_step"] == 20
    for key, value in whole["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][key], value, rtol=0, atol=EQUIVALENT_ATOL, msg=key)


@pytest.mark.slow
@pytest.mark.parametrize("config", ["ct/shepp_gaussian", "mri/shepp_gaussian"])
def test_measurement_losses_fit_on_two_processes_like_on_one(config, tmp_path):
    """CT: every ray every step, 27 rays split 14 / 13 over the ranks; MRI: the whole grid on each rank."""
    data = (["--data.size", "9", "--data.views", "3", "--data.batch_size", "null", "--data.baseline_steps", "0"]
            if config.startswith("ct") else ["--data.size", "6", "--data.mask_samples", "150"])
    common = ["--config", f"configs/{config}.yaml", *data, "--trainer.max_steps", "4", "--trainer.val_check_interval",
              "4", "--trainer.accelerator", "cpu", "--trainer.enable_progress_bar", "false", "--trainer.logger",
              "false", *TINY_MODEL, *FLOAT64]
    _inr("fit", *common, "--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.default_root_dir",
         str(tmp_path / "two"))
    run_fit([*common, "--trainer.devices", "1", "--trainer.default_root_dir", str(tmp_path / "one")])
    two, single = _state(find_last_checkpoint(tmp_path / "two")), _state(find_last_checkpoint(tmp_path / "one"))
    assert single.keys() == two.keys()
    for key in single:
        assert torch.allclose(two[key], single[key], rtol=0, atol=EQUIVALENT_ATOL), key


@pytest.mark.slow
@pytest.mark.parametrize("config", ["ct/shepp_gaussian", "mri/shepp_gaussian"])
def test_phantoms_through_a_measurement_sharded_over_two_processes_fit_as_on_one(config, tmp_path):
    """Three phantoms, one network each: rank 0 fits members 0..1, rank 1 member 2, each as one process fits it."""
    folder = "CTFolderDataModule" if config.startswith("ct") else "MRIFolderDataModule"
    data = (["--data.size", "9", "--data.views", "3", "--data.batch_size", "5", "--data.baseline_steps", "0"]
            if config.startswith("ct") else ["--data.size", "6", "--data.mask_samples", "150"])
    common = ["--config", f"configs/{config}.yaml", "--data", folder, "--data.phantom_seeds", "[3, 4, 5]", *data,
              "--trainer.max_steps", "4", "--trainer.val_check_interval", "4", "--trainer.accelerator", "cpu",
              "--trainer.enable_progress_bar", "false", "--trainer.logger", "false", *TINY_MODEL, *FLOAT64]
    two = _inr("fit", *common, "--trainer.strategy", "ddp", "--trainer.devices", "2", "--trainer.default_root_dir",
               str(tmp_path / "two"))
    assert "rank 0 fits members 0..1 of 3" in two.stderr and "rank 1 fits members 2..2 of 3" in two.stderr
    run_fit([*common, "--trainer.devices", "1", "--trainer.default_root_dir", str(tmp_path / "one")])
    sharded, single = _state(find_last_checkpoint(tmp_path / "two")), _state(find_last_checkpoint(tmp_path / "one"))
    assert sharded.keys() == single.keys()
    for key in single:
        torch.testing.assert_close(sharded[key], single[key], rtol=0, atol=EQUIVALENT_ATOL, msg=key)
