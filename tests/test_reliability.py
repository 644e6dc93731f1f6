"""Crash safety, fault injection (SIGKILL mid-run, then resume) and clear errors on mismatched resumes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import ROOT, TINY_MODEL, child_env, run_fit
from wandb_reader import find_offline_runs, metric_values

from inr.cli import find_last_checkpoint, main
from inr.io import checkpoint_io
from inr.io.checkpoint_io import AtomicCheckpointIO, atomic_torch_save


def test_crash_while_writing_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    target = tmp_path / "last.ckpt"
    atomic_torch_save({"step": 1}, target)

    def dies_halfway(obj, file):
        file.write(b"half a checkpoint")
        raise KeyboardInterrupt("killed while saving")

    monkeypatch.setattr(checkpoint_io.torch, "save", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        atomic_torch_save({"step": 2}, target)
    monkeypatch.undo()
    assert torch.load(target, weights_only=True) == {"step": 1}
    assert [path.name for path in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary left behind


@pytest.mark.parametrize("durable", [False, True])
def test_atomic_output_replaces_the_file_only_when_the_block_succeeds(tmp_path, durable):
    from inr.core.atomic import atomic_output

    target = tmp_path / "out" / "render.wav"
    with atomic_output(target, durable=durable) as temporary:
        assert temporary.parent == target.parent and temporary.suffix == ".wav"  # writers pick formats by suffix
        temporary.write_text("first")
    with pytest.raises(RuntimeError), atomic_output(target, durable=durable) as temporary:
        temporary.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "first" and [path.name for path in target.parent.iterdir()] == ["render.wav"]


STEPS = 300  # long enough that the kill lands mid-run however fast the machine is


def _fit_command(root: Path, image: Path, steps: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "inr.cli", "fit", "--config", "configs/image_siren.yaml", "--data.path", str(image),
            "--data.size", "null", "--data.batch_size", "200", "--trainer.max_steps", str(steps),
            "--trainer.default_root_dir", str(root), "--trainer.val_check_interval", "50",
            "--trainer.log_every_n_steps", "1", "--checkpoint.every_n_train_steps", "4",
            "--trainer.enable_progress_bar", "false", "--trainer.deterministic", "true", *TINY_MODEL, *extra]


def _checkpoint_step(path: Path) -> int:
    try:
        return torch.load(path, weights_only=True)["global_step"]
    except Exception:
        return -1


def kill_after_checkpoint(command: list[str], root: Path, step: int, steps: int) -> int:
    """Start ``command``, SIGKILL it once a checkpoint of ``step`` or later exists under ``root``; its last step."""
    victim = subprocess.Popen(command, env=child_env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline:
        last = find_last_checkpoint(root)
        if last is not None and _checkpoint_step(last) >= step:
            break
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)  # somewhere after `step`, usually between two checkpoints
    victim.wait()
    killed_at = _checkpoint_step(find_last_checkpoint(root))
    assert step <= killed_at < steps, "the run must be killed mid-way"
    return killed_at


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_equals_uninterrupted_run(gray_png, tmp_path):
    straight = subprocess.run(_fit_command(tmp_path / "straight", gray_png, STEPS), capture_output=True, text=True,
                              env=child_env(), cwd=ROOT, timeout=300)
    assert straight.returncode == 0, straight.stderr[-2000:]

    kill_after_checkpoint(_fit_command(tmp_path / "crashed", gray_png, STEPS), tmp_path / "crashed", 12, STEPS)

    resumed = subprocess.run(_fit_command(tmp_path / "crashed", gray_png, STEPS, "--ckpt_path", "last"),
                             capture_output=True, text=True, env=child_env(), cwd=ROOT, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    expected = torch.load(find_last_checkpoint(tmp_path / "straight"), weights_only=True)
    actual = torch.load(find_last_checkpoint(tmp_path / "crashed"), weights_only=True)
    assert actual["global_step"] == expected["global_step"] == STEPS
    for key, value in expected["state_dict"].items():
        assert torch.equal(value, actual["state_dict"][key]), key

    steps = [step for run in find_offline_runs(tmp_path / "crashed") for step, _ in metric_values(run, "train/loss")]
    assert steps == sorted(set(steps)) and steps[-1] == STEPS  # W&B history: no duplicated or out-of-order steps


def test_trainer_writes_checkpoints_atomically_and_nan_loss_stops_with_a_clear_message(gray_png, tmp_path, capsys):
    cli = run_fit(["--config", "configs/image_siren.yaml", "--data.path", str(gray_png), "--trainer.max_steps", "1",
                   "--trainer.default_root_dir", str(tmp_path / "ok"), "--trainer.enable_progress_bar", "false",
                   *TINY_MODEL])
    assert isinstance(cli.trainer.strategy.checkpoint_io, AtomicCheckpointIO)
    with pytest.raises(SystemExit):
        main(["fit", "--config", "configs/image_relu.yaml", "--data.path", str(gray_png), "--trainer.max_steps", "5",
              "--model.optimizer.lr", "1e30", "--checkpoint.every_n_train_steps", "1",
              "--trainer.default_root_dir", str(tmp_path / "nan"), "--trainer.enable_progress_bar", "false",
              *TINY_MODEL])
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert "train/loss is" in message and "no checkpoint holds weights updated from it" in message
    last = find_last_checkpoint(tmp_path / "nan")
    good = torch.load(last, weights_only=True)
    assert all(torch.isfinite(value).all() for value in good["state_dict"].values())


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    import imageio.v3 as iio
    from conftest import cameraman_crop

    root = tmp_path_factory.mktemp("short")
    image = root / "gray.png"
    iio.imwrite(image, cameraman_crop(16))
    run_fit(["--config", "configs/image_siren.yaml", "--data.path", str(image), "--data.size", "null",
             "--trainer.max_steps", "2",
             "--trainer.default_root_dir", str(root), "--trainer.enable_progress_bar", "false", *TINY_MODEL])
    return root, image


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--model.optimizer", "torch.optim.SGD", "--model.optimizer.lr", "0.1"],
         "model.optimizer.class_path: checkpoint 'torch.optim.Adam', now 'torch.optim.SGD'"),
        (["--model.network.init_args.hidden", "48"], "model.network.init_args.hidden: checkpoint 32, now 48"),
        (["--trainer.max_steps", "1"], "it is already at step 2 and --trainer.max_steps is 1"),
        (["--data.size", "8"], "cannot resume on different data (shape: checkpoint [16, 16], now [8, 8])"),
    ],
)
def test_mismatched_resume_lists_the_differing_options(short_run, extra, message, capsys):
    root, image = short_run
    args = ["fit", "--config", "configs/image_siren.yaml", "--data.path", str(image), "--data.size", "null",
            "--trainer.max_steps", "4",
            "--trainer.default_root_dir", str(root), "--ckpt_path", "last", *TINY_MODEL, *extra]
    with pytest.raises(SystemExit):
        main(args)
    assert message in capsys.readouterr().err.strip().splitlines()[-1]


def test_resuming_a_complete_run_says_so_and_exits_zero(short_run, capsys):
    root, image = short_run
    before = find_last_checkpoint(root).stat().st_mtime_ns
    main(["fit", "--config", "configs/image_siren.yaml", "--data.path", str(image), "--data.size", "null",
          "--trainer.max_steps", "2", "--trainer.default_root_dir", str(root), "--ckpt_path", "last", *TINY_MODEL])
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert last_line.startswith("inr: ") and last_line.endswith(
        "last.ckpt is at step 2 = --trainer.max_steps: the run is complete, nothing to do (set --trainer.max_steps "
        "above 2 to train further)")
    assert find_last_checkpoint(root).stat().st_mtime_ns == before  # nothing was written
