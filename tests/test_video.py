"""Video: reading real files the tests write (each container and codec), index -> coordinates, metrics, renders,
bad input, W&B media and exact resume."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from conftest import ROOT, TINY_MODEL, child_env, run_fit
from wandb_reader import find_offline_runs, metric_values, read_history

from datamodules.video import VideoDataModule, index_coords, synthetic_clip, values_to_frames
from inr.core import grids
from inr.core.errors import InputError, MissingFileError
from inr.io.video_files import read_video, write_video

FRAMES, HEIGHT, WIDTH = 12, 24, 32


def numbered_clip() -> np.ndarray:
    """A smooth moving pattern whose mean brightness grows with the frame number, uint8 [12, 24, 32, 3]."""
    t, y, x = np.meshgrid(np.arange(FRAMES), np.arange(HEIGHT), np.arange(WIDTH), indexing="ij")
    base = 40 + 15 * t + 20 * np.sin(2 * np.pi * (x + 2 * t) / WIDTH) + 10 * np.cos(2 * np.pi * y / HEIGHT)
    clip = np.stack([base, base * 0.8 + 20, 255 - base], axis=-1)
    return np.clip(np.round(clip), 0, 255).astype(np.uint8)


def write_clip(path: Path, clip: np.ndarray, fps: int = 10) -> Path:
    """Encode ``clip`` with PyAV by the suffix of ``path`` (H.264 MP4/MKV, VP9 WebM, MPEG-4 AVI, GIF)."""
    import av

    codec, pixel_format = {".mp4": ("libx264", "yuv420p"), ".mkv": ("libx264", "yuv420p"),
                           ".webm": ("libvpx-vp9", "yuv420p"), ".avi": ("mpeg4", "yuv420p"),
                           ".gif": ("gif", "rgb8")}[path.suffix]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps))
        stream.height, stream.width = clip.shape[1:3]
        stream.pix_fmt = pixel_format
        if codec == "libx264":
            stream.options = {"crf": "10"}
        elif codec == "mpeg4":
            stream.bit_rate = 4_000_000
        for frame in clip:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".webm", ".avi", ".gif"])
def test_each_container_decodes_to_the_written_frames(suffix, tmp_path):
    clip = numbered_clip()
    decoded, fps = read_video(write_clip(tmp_path / f"clip{suffix}", clip))
    assert decoded.shape == clip.shape and decoded.dtype == np.uint8
    error = np.abs(decoded.astype(float) - clip.astype(float)).mean()
    assert error < (20 if suffix == ".gif" else 6), error  # lossy (GIF: a fixed 3-3-2 bit palette), frames in order
    assert np.all(np.diff(decoded.mean(axis=(1, 2, 3))) > 0)  # frame order kept
    assert fps == pytest.approx(10, rel=0.02)


def test_a_folder_of_numbered_frames_reads_in_numeric_order(tmp_path):
    clip = numbered_clip()
    for index, frame in enumerate(clip):
        iio.imwrite(tmp_path / f"frame_{index}.png", frame)  # frame_10 after frame_9, not after frame_1
    decoded, fps = read_video(tmp_path, folder_fps=12.0)
    assert np.array_equal(decoded, clip) and fps == 12.0
    picked, rate = read_video(tmp_path, start=2, frames=4, stride=3, folder_fps=12.0)
    assert np.array_equal(picked, clip[2::3][:4]) and rate == 4.0
    gray, _ = read_video(tmp_path, gray=True)
    luma = clip.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    assert gray.shape == (FRAMES, HEIGHT, WIDTH, 1) and np.abs(gray[..., 0] - luma).max() <= 0.5 + 1e-3
    resized, _ = read_video(tmp_path, size=16)
    assert resized.shape == (FRAMES, 12, 16, 3)


def test_index_coordinates_equal_the_materialised_grid_and_batches_hold_the_clip_values():
    shape = (5, 4, 6)
    index = torch.arange(5 * 4 * 6)
    assert torch.allclose(index_coords(index, shape), grids.grid(shape), atol=1e-6)
    assert torch.equal(index_coords(torch.arange(4 * 6), (1, 4, 6))[:, 0], torch.zeros(24))  # one frame: t = 0
    data = VideoDataModule(None, frames=6, batch_size=100, seed=3)
    batch = data.sample(torch.device("cpu"), step=7, rank=0)
    clip = torch.from_numpy(data.clip).float() * (2 / 255) - 1
    coords = batch["coords"]
    frames, height, width = data.shape
    t = torch.round((coords[:, 0] + 1) / 2 * (frames - 1)).long()
    y = torch.round((coords[:, 1] + 1) / 2 * (height - 1)).long()
    x = torch.round((coords[:, 2] + 1) / 2 * (width - 1)).long()
    assert torch.allclose(batch["values"], clip[t, y, x], atol=1e-6)
    again = data.sample(torch.device("cpu"), step=7, rank=0)
    assert torch.equal(again["coords"], coords)  # the (seed, step, rank) generator: a resumed run draws the same
    assert not torch.equal(data.sample(torch.device("cpu"), step=7, rank=1)["coords"], coords)
    validation = data.validation_batch(torch.device("cpu"))
    assert data.val_frames == [0, 2, 3, 5]
    assert validation["coords"].shape == (4 * height * width, 3)
    first = validation["values"][: height * width].reshape(height, width, -1)
    assert torch.allclose(first, clip[0], atol=1e-6)


def test_frame_metrics_are_the_mean_of_each_frames_image_metrics():
    from datamodules.image import ImageDataModule  # noqa: F401 - image conventions the frames follow
    from inr.core.evaluation import Evaluation
    from inr.metrics import FramePSNR, FrameSSIM, image_ssim

    data = VideoDataModule(None, frames=8, val_frames=[1, 6])
    batch = data.validation_batch(torch.device("cpu"))
    noisy = (batch["values"] + 0.05 * torch.randn_like(batch["values"])).clamp(-1, 1)
    evaluation = Evaluation(spec=data.signal_spec, batch=batch, prediction=noisy, predict=lambda c: c)
    psnr, ssim = FramePSNR(), FrameSSIM()
    psnr.update(evaluation)
    ssim.update(evaluation)
    pixels = data.height * data.width
    expected_psnr, expected_ssim = [], []
    for frame in range(2):
        part = slice(frame * pixels, (frame + 1) * pixels)
        mse = (noisy[part].double() - batch["values"][part].double()).square().mean()
        expected_psnr.append(float(10 * torch.log10(4 / mse)))
        expected_ssim.append(float(image_ssim(noisy[part], batch["values"][part], (data.height, data.width), 2.0)))
    assert float(psnr.compute()["psnr"]) == pytest.approx(np.mean(expected_psnr), abs=1e-4)
    assert float(ssim.compute()["ssim"]) == pytest.approx(np.mean(expected_ssim), abs=1e-5)
    assert evaluation.extras["psnr_per_frame"].tolist() == pytest.approx(expected_psnr, abs=1e-4)


@pytest.fixture(scope="module")
def video_run(tmp_path_factory):
    """A 40-step SIREN fit of the synthetic clip (12 frames), W&B offline; (cli, run folder)."""
    root = tmp_path_factory.mktemp("video")
    cli = run_fit(["--config", "configs/video_siren.yaml", "--data.path", "null", "--data.size", "null",
                   "--data.frames", "12", "--data.batch_size", "2048", "--trainer.max_steps", "40",
                   "--trainer.val_check_interval", "20", "--trainer.default_root_dir", str(root),
                   "--trainer.enable_progress_bar", "false", "--model.optimizer.init_args.lr", "1e-3", *TINY_MODEL])
    return cli, root


def test_a_video_fit_logs_frame_metrics_a_video_and_an_error_strip(video_run):
    cli, root = video_run
    (run,) = find_offline_runs(root)
    psnr = metric_values(run, "val/psnr")
    assert [step for step, _ in psnr] == [20, 40] and psnr[1][1] > psnr[0][1] + 0.5, psnr  # it learns
    assert psnr[1][1] == pytest.approx(float(cli.trainer.callback_metrics["val/psnr"]), abs=1e-4)
    history = read_history(run)
    videos = [row["val/video/videos"][0] for row in history if row.get("val/video/_type") == "videos"]
    assert len(videos) == 2 and videos[-1]["_type"] == "video-file"
    clip, _ = read_video(run / "files" / videos[-1]["path"])
    assert clip.shape[0] == 4 and clip.shape[2] >= 2 * 48  # 4 validation frames, reconstruction | truth
    assert any("val/error_strip/_type" in row for row in history)
    assert not list((run / "files" / "inr_media").glob("*.mp4"))  # the encoded copy is removed once W&B has it


def _assert_same_8bit(written: np.ndarray, expected: np.ndarray) -> None:
    """Two 8-bit renderings of the same float32 values, evaluated in other batch shapes (other summation orders).

    Their float values differ by float32 rounding (~1e-6), far below one level (1/255): a value lands on a
    neighbouring level only where it lies within that rounding of a quantisation boundary, a fraction of about
    2 * 1e-6 * 255 ~ 5e-4 of the values. Allowed: one level, in at most 1 % of the values.
    """
    assert written.shape == expected.shape and written.dtype == expected.dtype == np.uint8
    difference = np.abs(written.astype(int) - expected.astype(int))
    assert difference.max() <= 1 and np.mean(difference > 0) <= 0.01, (difference.max(), np.mean(difference > 0))


def test_render_round_trip_and_in_between_frames(video_run, tmp_path):
    from inr.commands.render import load_model, render_checkpoint

    cli, root = video_run
    (last,) = root.glob("**/checkpoints/last.ckpt")
    model = load_model(last)
    frames, height, width = model.signal.shape
    grid = grids.grid((frames, height, width))
    expected = values_to_frames(model.predict_values(grid), (frames, height, width, 3))
    render_checkpoint(last, str(tmp_path / "f_%03d.png"))
    pngs = sorted(tmp_path.glob("f_*.png"))
    assert len(pngs) == frames
    for k, path in enumerate(pngs):
        _assert_same_8bit(iio.imread(path), expected[k])
    render_checkpoint(last, str(tmp_path / "clip.mp4"))
    decoded, fps = read_video(tmp_path / "clip.mp4")
    assert decoded.shape == expected.shape and fps == pytest.approx(25)
    mse = np.mean((decoded.astype(float) - expected.astype(float)) ** 2)
    assert 10 * np.log10(255**2 / mse) > 25  # H.264 (4:2:0 chroma) of small, noisy frames of a 40-step fit
    distances = ((decoded[:, None].astype(float) - expected[None].astype(float)) ** 2).mean(axis=(2, 3, 4))
    assert np.array_equal(distances.argmin(axis=1), np.arange(frames))  # every frame where it belongs
    render_checkpoint(last, str(tmp_path / "double_%02d.png"), fps=50)
    doubled = sorted(tmp_path.glob("double_*.png"))
    assert len(doubled) == 2 * (frames - 1) + 1
    _assert_same_8bit(iio.imread(doubled[2]), expected[1])  # every second frame is a training frame
    between = torch.cat([torch.full((height * width, 1), -1 + 1 / (frames - 1)), grids.grid((height, width))], 1)
    in_between = values_to_frames(model.predict_values(between), (1, height, width, 3))[0]
    _assert_same_8bit(iio.imread(doubled[1]), in_between)
    assert np.abs(in_between.astype(int) - expected[0]).max() > 1  # a new frame, not a copy of its neighbour
    render_checkpoint(last, str(tmp_path / "small.gif"), resolution=24)
    assert read_video(tmp_path / "small.gif")[0].shape == (frames, 16, 24, 3)
    cli_render = subprocess.run([sys.executable, "-m", "inr.cli", "render", str(last), "--out",
                                 str(tmp_path / "wide_%02d.png"), "--frame-size", "40x10", "--fps", "12.5"],
                                capture_output=True, text=True, cwd=ROOT, env=child_env())
    assert cli_render.returncode == 0, cli_render.stderr
    wide = sorted(tmp_path.glob("wide_*.png"))
    assert len(wide) == round((frames - 1) * 12.5 / 25) + 1 and iio.imread(wide[0]).shape == (10, 40, 3)
    bad = subprocess.run([sys.executable, "-m", "inr.cli", "render", str(last), "--out", str(tmp_path / "b.mp4"),
                          "--frame-size", "40by10"], capture_output=True, text=True, cwd=ROOT, env=child_env())
    assert bad.returncode == 2 and "expected WIDTHxHEIGHT such as 640x272, got '40by10'" in bad.stderr


def test_render_refuses_bad_outputs_before_evaluating(video_run, tmp_path):
    from inr.core.signal import SignalSpec

    cli, _ = video_run
    spec = SignalSpec.from_dict(cli.model.hparams["signal"])

    def never(coords):
        raise AssertionError("evaluated before refusing")

    for out, message in ((tmp_path / "clip.mkv", "a video renders to one of .mp4, .webm, .gif, .avi"),
                         (tmp_path / "frame_%s.png", "a frame pattern needs one integer field"),
                         (tmp_path / "frame_%04d.wav", "frames render to .png")):
        with pytest.raises(InputError, match=message):
            VideoDataModule.render_to_file(never, spec, str(out), None)
    with pytest.raises(InputError, match="--fps must be > 0"):
        VideoDataModule.render_to_file(never, spec, str(tmp_path / "x.mp4"), None, fps=0)
    assert not list(tmp_path.iterdir())


def test_bad_video_input_names_the_file_and_the_reason(tmp_path):
    import soundfile as sf

    with pytest.raises(MissingFileError, match="video file not found: .*missing.mp4"):
        VideoDataModule(str(tmp_path / "missing.mp4"))
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty.mp4 is empty \(0 bytes\)"):
        VideoDataModule(str(tmp_path / "empty.mp4"))
    (tmp_path / "text.mp4").write_text("not a video at all\n" * 20)
    with pytest.raises(InputError, match="cannot read video file .*text.mp4: not a readable video"):
        VideoDataModule(str(tmp_path / "text.mp4"))
    whole = write_clip(tmp_path / "whole.mp4", numbered_clip()).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError, match="cut.mp4"):
        VideoDataModule(str(tmp_path / "cut.mp4"))
    sf.write(tmp_path / "sound.wav", np.zeros(800), 8000)
    with pytest.raises(InputError, match=r"sound.wav has no video stream \(it holds: audio\)"):
        VideoDataModule(str(tmp_path / "sound.wav"))
    with pytest.raises(InputError, match=r"has 12 frame\(s\); data start 20 and stride 1 leave none"):
        VideoDataModule(str(tmp_path / "whole.mp4"), start=20)
    with pytest.raises(InputError, match="data stride must be >= 1, got 0"):
        VideoDataModule(str(tmp_path / "whole.mp4"), stride=0)
    with pytest.raises(InputError, match=r"data val_frames \[3, 40\]: frames must be in 0..11"):
        VideoDataModule(str(tmp_path / "whole.mp4"), val_frames=[3, 40])
    frames = tmp_path / "frames"
    frames.mkdir()
    iio.imwrite(frames / "f1.png", np.zeros((8, 8, 3), np.uint8))
    iio.imwrite(frames / "f2.png", np.zeros((8, 10, 3), np.uint8))
    with pytest.raises(InputError, match=r"frame 1 is 10 x 8, frame 0 is 8 x 8: the frames of a video share one size"):
        VideoDataModule(str(frames))
    (tmp_path / "noframes").mkdir()
    with pytest.raises(InputError, match="no frames in the folder .*noframes"):
        VideoDataModule(str(tmp_path / "noframes"))


def _fit_command(root: Path, steps: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "inr.cli", "fit", "--config", "configs/video_siren.yaml", "--data.path", "null",
            "--data.size", "null", "--data.frames", "8", "--data.batch_size", "512", "--trainer.max_steps", str(steps),
            "--trainer.val_check_interval", "100", "--checkpoint.every_n_train_steps", "4",
            "--trainer.default_root_dir", str(root), "--trainer.logger", "false", "--trainer.enable_progress_bar",
            "false", *TINY_MODEL, *extra]


@pytest.mark.slow
def test_a_video_run_killed_mid_way_resumes_bitwise(tmp_path):
    from test_reliability import kill_after_checkpoint

    from inr.cli import find_last_checkpoint

    steps = 300
    straight = subprocess.run(_fit_command(tmp_path / "straight", steps), capture_output=True, text=True, cwd=ROOT,
                              env=child_env(), timeout=300)
    assert straight.returncode == 0, straight.stderr[-2000:]
    kill_after_checkpoint(_fit_command(tmp_path / "crashed", steps), tmp_path / "crashed", 12, steps)
    resumed = subprocess.run(_fit_command(tmp_path / "crashed", steps, "--ckpt_path", "last"), capture_output=True,
                             text=True, cwd=ROOT, env=child_env(), timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    expected = torch.load(find_last_checkpoint(tmp_path / "straight"), weights_only=True)["state_dict"]
    actual = torch.load(find_last_checkpoint(tmp_path / "crashed"), weights_only=True)["state_dict"]
    assert all(torch.equal(expected[key], actual[key]) for key in expected)


def test_write_video_pads_odd_sides_for_h264(tmp_path):
    clip = synthetic_clip(frames=3, height=7, width=9)
    assert write_video(tmp_path / "odd.mp4", list(clip), 10, (7, 9)) == 3
    decoded, _ = read_video(tmp_path / "odd.mp4")
    assert decoded.shape == (3, 8, 10, 3)  # one repeated row and column


def test_fps_is_refused_for_a_signal_without_frames(gray_png, tmp_path):
    from inr.commands.render import render_checkpoint

    run_fit(["--config", "configs/image_siren.yaml", "--data.path", str(gray_png), "--data.size", "8",
             "--trainer.max_steps", "2", "--trainer.val_check_interval", "2", "--trainer.default_root_dir",
             str(tmp_path / "run"), "--trainer.logger", "false", "--trainer.enable_progress_bar", "false", *TINY_MODEL])
    (last,) = (tmp_path / "run").glob("**/checkpoints/last.ckpt")
    with pytest.raises(InputError, match="--fps 3: .* represents 'image', and only a video has frames"):
        render_checkpoint(last, str(tmp_path / "x.png"), fps=3)
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("preset", sorted(path.stem for path in (ROOT / "configs" / "zoo").glob("*.yaml")))
def test_every_zoo_preset_fits_video_unchanged(preset, tmp_path):
    cli = run_fit(["--config", f"configs/zoo/{preset}.yaml", "--data", "datamodules.video.VideoDataModule",
                   "--data.path", "null", "--data.frames", "4", "--data.val_frames", "2", "--data.batch_size", "512",
                   "--trainer.max_steps", "3", "--trainer.val_check_interval", "3", "--trainer.logger", "false",
                   "--trainer.default_root_dir", str(tmp_path), "--trainer.enable_progress_bar", "false",
                   *TINY_MODEL])
    assert cli.model.signal.kind == "video" and cli.model.signal.in_dim == 3
    psnr = float(cli.trainer.callback_metrics["val/psnr"])
    assert 0 < psnr < 100 and float(cli.trainer.callback_metrics["val/ssim"]) <= 1
