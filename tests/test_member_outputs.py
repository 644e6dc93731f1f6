"""What a fit of several signals leaves: per-member W&B values and table, checkpoints, exports, renders, resume."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from conftest import ROOT, TINY_MODEL, child_env, run_fit
from test_members import _clips, _images
from wandb_reader import find_offline_runs, metric_values, read_history

from inr.commands.render import render_checkpoint
from inr.core.errors import InputError, MissingFileError
from inr.training.member_checkpoints import member_checkpoint, read_members

STEPS = 30


@pytest.fixture(scope="module")
def members_run(tmp_path_factory):
    """4 images of 12 x 12 fitted at once for 30 steps, W&B offline; (cli, root, image files)."""
    root = tmp_path_factory.mktemp("members")
    files = _images(root / "images", 4)
    cli = run_fit(["--config", "configs/image_siren.yaml", "--data", "datamodules.image_folder.ImageFolderDataModule",
                   "--data.path", str(root / "images"), "--data.size", "null", "--trainer.max_steps", str(STEPS),
                   "--trainer.val_check_interval", "15", "--trainer.default_root_dir", str(root / "run"),
                   "--trainer.enable_progress_bar", "false", "--model.optimizer.init_args.lr", "1e-3", *TINY_MODEL])
    (last,) = (root / "run").glob("**/checkpoints/last.ckpt")
    return cli, root, files, last


def test_wandb_holds_the_spread_over_members_and_one_table_row_per_image(members_run):
    cli, root, files, last = members_run
    (run,) = find_offline_runs(root / "run")
    rows = cli.model.member_metrics
    psnr = [float(row["psnr"]) for row in rows]
    for key, expected in (("val/psnr", np.mean(psnr)), ("val/psnr_std", np.std(psnr)), ("val/psnr_min", min(psnr)),
                          ("val/psnr_max", max(psnr)), ("val/ssim", np.mean([float(r["ssim"]) for r in rows]))):
        values = metric_values(run, key)
        assert [step for step, _ in values] == [15, 30], key
        assert values[-1][1] == pytest.approx(expected, abs=1e-4), key
    tables = [row for row in read_history(run) if row.get("val/members/_type") == "table-file"]
    assert len(tables) == 2
    table = json.loads((run / "files" / tables[-1]["val/members/path"]).read_text())
    assert table["columns"] == ["member", "source", "psnr", "ssim"]
    assert [row[0] for row in table["data"]] == [0, 1, 2, 3]
    assert [row[1] for row in table["data"]] == [str(file) for file in files]
    assert [row[2] for row in table["data"]] == pytest.approx(psnr, abs=1e-4)
    pictures = [key for row in read_history(run) for key in row if key.endswith("/_type") and "reconstruction" in key]
    assert {key.split("/")[2] for key in pictures} == {"0", "1", "2", "3"}  # val/reconstruction/<member>/_type


def test_render_of_a_member_equals_its_predicted_values(members_run, tmp_path):
    cli, root, _, last = members_run
    model = cli.model.eval()
    from datamodules.image import pixel_grid, values_to_pixels

    predicted = model.predict_values(pixel_grid(12, 12))  # [K, N, 3]
    for member in (0, 3):
        out = tmp_path / f"member{member}.png"
        render_checkpoint(last, str(out), member=member)
        expected = values_to_pixels(predicted[member], 12, 12)
        assert np.array_equal(iio.imread(out), expected)
    with pytest.raises(InputError, match="holds 4 members: choose one with --member INDEX"):
        render_checkpoint(last, str(tmp_path / "x.png"))
    with pytest.raises(InputError, match="member 4 does not exist"):
        render_checkpoint(last, str(tmp_path / "x.png"), member=4)
    assert not (tmp_path / "x.png").exists()


def test_export_writes_the_stacked_parameters_and_single_checkpoints_every_command_takes(members_run, tmp_path):
    cli, root, files, last = members_run
    result = subprocess.run([sys.executable, "-m", "inr.cli", "export", str(last), "--out", str(tmp_path / "m.pt"),
                             "--checkpoints", str(tmp_path / "single")], capture_output=True, text=True, cwd=ROOT,
                            env=child_env())
    assert result.returncode == 0, result.stderr
    data = read_members(tmp_path / "m.pt")
    assert data["sources"] == [str(file) for file in files] and data["signal"]["members"] == 4
    state = cli.model.state_dict()
    assert data["parameters"].keys() == {key.replace(".module.", ".", 1) for key in state if ".module." in key}
    for name, value in data["parameters"].items():
        assert torch.equal(value, state[name.replace(".", ".module.", 1)])
    singles = sorted((tmp_path / "single").glob("member_*.ckpt"))
    assert [path.name for path in singles] == [f"member_{k}.ckpt" for k in range(4)]
    from datamodules.image import pixel_grid

    predicted = cli.model.eval().predict_values(pixel_grid(12, 12))
    for index, path in enumerate(singles):
        from inr.commands.render import load_model

        single = load_model(path)
        assert not single.signal.batched and single.signal.source == str(files[index])
        torch.testing.assert_close(single.predict_values(pixel_grid(12, 12)), predicted[index], rtol=0, atol=1e-6)
    # the render command takes a member's checkpoint as any other
    render = subprocess.run([sys.executable, "-m", "inr.cli", "render", str(singles[2]), "--out",
                             str(tmp_path / "two.png")], capture_output=True, text=True, cwd=ROOT, env=child_env())
    assert render.returncode == 0, render.stderr
    assert iio.imread(tmp_path / "two.png").shape == (12, 12, 3)


def test_export_refuses_single_signal_checkpoints_and_missing_options(members_run, tmp_path, gray_png):
    cli, root, _, last = members_run
    from inr.commands.export import export

    with pytest.raises(InputError, match="needs --out FILE"):
        export(last, None, None)
    with pytest.raises(MissingFileError, match="checkpoint not found"):
        export(tmp_path / "none.ckpt", str(tmp_path / "m.pt"), None)
    single = member_checkpoint(torch.load(last, weights_only=True), 1)
    torch.save(single, tmp_path / "single.ckpt")
    with pytest.raises(InputError, match="holds a single signal, not members"):
        export(tmp_path / "single.ckpt", str(tmp_path / "m.pt"), None)
    with pytest.raises(InputError, match="--member 0: .* holds a single signal"):
        render_checkpoint(tmp_path / "single.ckpt", str(tmp_path / "x.png"), member=0)
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="is not an inr members file"):
        read_members(tmp_path / "other.pt")


def _fit_command(root: Path, images: Path, steps: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "inr.cli", "fit", "--config", "configs/image_siren.yaml", "--data",
            "datamodules.image_folder.ImageFolderDataModule", "--data.path", str(images), "--data.size", "null",
            "--data.batch_size", "64", "--trainer.max_steps", str(steps), "--trainer.val_check_interval", "100",
            "--checkpoint.every_n_train_steps", "4", "--trainer.default_root_dir", str(root),
            "--trainer.logger", "false", "--trainer.enable_progress_bar", "false", *TINY_MODEL, *extra]


@pytest.mark.slow
def test_a_batched_run_killed_mid_way_resumes_bitwise_to_the_uninterrupted_run(tmp_path):
    from test_reliability import kill_after_checkpoint

    from inr.cli import find_last_checkpoint

    steps = 300  # long enough that the kill lands mid-run
    _images(tmp_path / "images", 3)
    straight = subprocess.run(_fit_command(tmp_path / "straight", tmp_path / "images", steps), capture_output=True,
                              text=True, cwd=ROOT, env=child_env(), timeout=300)
    assert straight.returncode == 0, straight.stderr[-2000:]
    kill_after_checkpoint(_fit_command(tmp_path / "crashed", tmp_path / "images", steps), tmp_path / "crashed", 12,
                          steps)
    resumed = subprocess.run(_fit_command(tmp_path / "crashed", tmp_path / "images", steps, "--ckpt_path", "last"),
                             capture_output=True, text=True, cwd=ROOT, env=child_env(), timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    expected = torch.load(find_last_checkpoint(tmp_path / "straight"), weights_only=True)
    actual = torch.load(find_last_checkpoint(tmp_path / "crashed"), weights_only=True)
    assert actual["global_step"] == expected["global_step"] == steps
    assert expected["state_dict"].keys() == actual["state_dict"].keys()
    for key, value in expected["state_dict"].items():
        assert torch.equal(value, actual["state_dict"][key]), key


def test_dataset_inputs_are_refused_with_the_file_and_the_reason(tmp_path):
    from datamodules.audio_folder import AudioFolderDataModule
    from datamodules.image_folder import ImageFolderDataModule

    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no image files in the folder .*empty \(looking for .png"):
        ImageFolderDataModule(str(tmp_path / "empty"))
    with pytest.raises(MissingFileError, match="no such folder or file"):
        ImageFolderDataModule(str(tmp_path / "nowhere"))
    with pytest.raises(InputError, match=r"no image files in the pattern .*\*\.jpg"):
        ImageFolderDataModule(str(tmp_path / "empty" / "*.jpg"))
    with pytest.raises(MissingFileError, match="lists .*missing.png, which is not a file"):
        ImageFolderDataModule([str(tmp_path / "missing.png")])
    files = _images(tmp_path / "mixed", 2, size=12)
    iio.imwrite(tmp_path / "mixed" / "02.png", np.zeros((10, 12, 3), dtype=np.uint8))
    with pytest.raises(InputError, match=r"02.png has shape \[10, 12\] with 3 channel\(s\), but .*00.png has "
                                         r"\[12, 12\] with 3"):
        ImageFolderDataModule(str(tmp_path / "mixed"))
    resized = ImageFolderDataModule(str(tmp_path / "mixed"), resize=True)
    assert resized.signal_spec.shape == (12, 12) and resized.signal_spec.members == 3
    assert ImageFolderDataModule(str(tmp_path / "mixed"), limit=2).signal_spec.members == 2
    assert ImageFolderDataModule(str(tmp_path / "mixed" / "0[01].png")).signal_spec.member_sources == tuple(
        str(file) for file in files)
    with pytest.raises(InputError, match="data limit must be >= 1"):
        ImageFolderDataModule(str(tmp_path / "mixed"), limit=0)
    iio.imwrite(tmp_path / "mixed" / "03.png", np.zeros((12, 12), dtype=np.uint8))
    with pytest.raises(InputError, match="03.png has 1 channel.*resize does not change channels"):
        ImageFolderDataModule(str(tmp_path / "mixed"), resize=True)
    _clips(tmp_path / "clips", 1, rate=8000)
    clip = _clips(tmp_path / "other", 1, rate=16000)[0]
    clip.rename(tmp_path / "clips" / "z.wav")
    with pytest.raises(InputError, match="z.wav has sample_rate 16000, but .*clip0.wav has 8000"):
        AudioFolderDataModule(str(tmp_path / "clips"))
