"""Audio: reading every format/bit depth/channel layout, clear errors, fits, W&B audio, render at any rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import SHARED_DATA, TINY_MODEL, run_fit
from wandb_reader import find_offline_runs, metric_values, read_history

from datamodules.audio import SYNTHETIC_SOURCE, AudioDataModule, read_audio, synthetic_audio, waveform_picture
from inr.cli import find_last_checkpoint
from inr.commands.render import render_checkpoint

BACH = SHARED_DATA / "gt_bach.wav"
SMALL_SIREN = ["--model.network.init_args.hidden", "64", "--model.network.init_args.layers", "2"]


def _tone(count: int, channels: int, rate: int) -> np.ndarray:
    """A different sine per channel, [count, channels] float32 with peak 0.8."""
    t = np.arange(count)[:, None] / rate
    return (0.8 * np.sin(2 * np.pi * 440.0 * (1 + np.arange(channels)) * t)).astype(np.float32)


# (format, subtype, sample rate, channels, tolerance of the round trip)
FORMATS = [
    ("WAV", "PCM_U8", 8000, 1, 1 / 64),
    ("WAV", "PCM_16", 44100, 2, 1 / 16384),
    ("WAV", "PCM_24", 22050, 3, 1e-6),
    ("WAV", "PCM_32", 48000, 1, 1e-7),
    ("WAV", "FLOAT", 11025, 2, 0),
    ("FLAC", "PCM_16", 96000, 2, 1 / 16384),
    ("FLAC", "PCM_24", 16000, 1, 1e-6),
    ("OGG", "VORBIS", 44100, 1, 0.05),  # lossy
]


@pytest.mark.parametrize("kind, subtype, rate, channels, tolerance", FORMATS, ids=lambda v: str(v))
def test_round_trip_of_every_format_rate_depth_and_channel_count(tmp_path, kind, subtype, rate, channels, tolerance):
    samples = _tone(rate // 10, channels, rate)
    path = tmp_path / f"clip.{kind.lower()}"
    sf.write(path, samples, rate, format=kind, subtype=subtype)
    data = AudioDataModule(path=str(path))
    tensors = data.signal_tensors()
    assert tensors["values"].shape == (rate // 10, channels) and tensors["coords"].shape == (rate // 10, 1)
    np.testing.assert_allclose(tensors["values"].numpy(), samples, atol=tolerance + 1e-7)
    assert tensors["coords"][0].item() == -1 and tensors["coords"][-1].item() == 1
    spec = data.signal_spec
    assert (spec.meta["sample_rate"], spec.shape, spec.out_dim) == (rate, (rate // 10,), channels)
    assert spec.in_dim == 1 and spec.value_range == (-1.0, 1.0) and spec.meta["subtype"] == subtype


def test_integer_full_scale_maps_to_minus_one_and_loud_floats_are_scaled_to_their_peak(tmp_path):
    sf.write(tmp_path / "int16.wav", np.array([-32768, 0, 16384, 32767], dtype=np.int16), 8000, subtype="PCM_16")
    values, _, _ = read_audio(tmp_path / "int16.wav")
    np.testing.assert_allclose(values[:, 0], [-1, 0, 0.5, 32767 / 32768])
    sf.write(tmp_path / "loud.wav", np.array([0.0, 2.0, -4.0], dtype=np.float32), 8000, subtype="FLOAT")
    np.testing.assert_allclose(read_audio(tmp_path / "loud.wav")[0][:, 0], [0, 0.5, -1])


def test_mono_mixes_channels_down_and_crop_selects_seconds(tmp_path):
    samples = _tone(8000, 2, 8000)
    sf.write(tmp_path / "stereo.wav", samples, 8000, subtype="FLOAT")
    mono = AudioDataModule(path=str(tmp_path / "stereo.wav"), mono=True)
    assert mono.channels == 1 and mono.signal_spec.out_dim == 1
    np.testing.assert_allclose(mono.samples[:, 0], samples.mean(axis=1), atol=1e-7)
    crop = AudioDataModule(path=str(tmp_path / "stereo.wav"), start_seconds=0.25, crop_seconds=0.125)
    np.testing.assert_array_equal(crop.samples, samples[2000:3000])
    tail = AudioDataModule(path=str(tmp_path / "stereo.wav"), start_seconds=0.9, crop_seconds=5.0)
    assert tail.num_samples == 800  # a crop past the end is clipped there


def test_default_is_a_labelled_synthetic_chirp():
    data = AudioDataModule()
    spec = data.signal_spec
    assert spec.source == SYNTHETIC_SOURCE and "synthetic" in spec.source
    assert (spec.meta["sample_rate"], spec.shape, spec.out_dim) == (16000, (16000,), 1)
    np.testing.assert_array_equal(data.samples, synthetic_audio())
    assert 0.85 < np.abs(data.samples).max() <= 0.9
    assert AudioDataModule(crop_seconds=0.05).num_samples == 800


def test_random_batches_are_reproducible(tmp_path):
    sf.write(tmp_path / "a.wav", _tone(1000, 1, 8000), 8000)
    data = AudioDataModule(path=str(tmp_path / "a.wav"), batch_size=64, seed=1)
    first = data.sample(torch.device("cpu"), step=3, rank=0)
    assert first["coords"].shape == (64, 1) and first["values"].shape == (64, 1)
    assert torch.equal(first["coords"], data.sample(torch.device("cpu"), step=3, rank=0)["coords"])


def test_bad_audio_gives_clear_errors(tmp_path):  # missing and empty files: test_bad_input.py
    sf.write(tmp_path / "silent.wav", np.zeros((0, 1), dtype=np.float32), 8000)
    with pytest.raises(ValueError, match="audio file .*silent.wav holds no samples"):
        AudioDataModule(path=str(tmp_path / "silent.wav"))
    (tmp_path / "text.wav").write_text("not audio at all")
    with pytest.raises(ValueError, match="cannot read audio file .*text.wav: not a format soundfile reads"):
        AudioDataModule(path=str(tmp_path / "text.wav"))
    import imageio.v3 as iio

    iio.imwrite(tmp_path / "picture.png", np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="cannot read audio file .*picture.png"):
        AudioDataModule(path=str(tmp_path / "picture.png"))
    nan = _tone(100, 2, 8000)
    nan[17, 1] = np.nan
    sf.write(tmp_path / "nan.wav", nan, 8000, subtype="FLOAT")
    with pytest.raises(ValueError, match=r"nan.wav holds 1 NaN/infinite sample\(s\) \(first at frame 17, channel 1\)"):
        AudioDataModule(path=str(tmp_path / "nan.wav"))
    sf.write(tmp_path / "good.wav", _tone(1000, 1, 8000), 8000, subtype="PCM_16")
    whole = (tmp_path / "good.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(whole[:-501])
    with pytest.raises(ValueError, match="cut.wav is truncated: its WAV header declares 2000 bytes .* only 1499"):
        AudioDataModule(path=str(tmp_path / "cut.wav"))
    good = str(tmp_path / "good.wav")
    with pytest.raises(ValueError, match="data crop_seconds must be > 0"):
        AudioDataModule(path=good, crop_seconds=0.0)
    with pytest.raises(ValueError, match=r"keeps 0 sample\(s\) at 8000 Hz"):
        AudioDataModule(path=good, crop_seconds=1e-5)
    with pytest.raises(ValueError, match="start_seconds 1.0 is past the end of audio file .*good.wav"):
        AudioDataModule(path=good, start_seconds=1.0)
    with pytest.raises(ValueError, match="start_seconds must be >= 0"):
        AudioDataModule(path=good, start_seconds=-1)
    with pytest.raises(ValueError, match="data crop_seconds must be > 0"):
        AudioDataModule(crop_seconds=0)


def test_waveform_picture_draws_three_panels_and_scales_the_error():
    target = np.sin(np.linspace(0, 3000, 5000)).astype(np.float32)  # many periods per column
    picture, gain = waveform_picture(target, target + 0.003, width=200, height=40)
    assert picture.shape == (120, 200, 3) and picture.dtype == np.uint8
    assert gain == 100  # error 0.003 shown as 0.3
    red = (picture[..., 0] > 200) & (picture[..., 1] < 80)
    assert red[80:].any() and not red[:80].any()
    assert (picture[:40].sum(axis=-1) == 0).mean() > 0.9  # the target envelope fills its panel in black


def _fit(path: Path, root: Path, steps: int, extra: list[str] = ()):
    return run_fit([
        "--config", "configs/audio_siren.yaml", "--data.path", str(path), "--trainer.max_steps", str(steps),
        "--trainer.val_check_interval", str(steps), "--trainer.default_root_dir", str(root),
        "--trainer.enable_progress_bar", "false", *SMALL_SIREN, *extra,
    ])


@pytest.fixture(scope="module")
def chirp_run(tmp_path_factory):
    """SIREN (2 x 64, w0 3000) fitted to 0.05 s of the synthetic chirp at 16 kHz: 800 samples, 150 steps."""
    root = tmp_path_factory.mktemp("audio")
    path = root / "chirp.wav"
    sf.write(path, synthetic_audio()[4000:4800], 16000, subtype="PCM_16")
    cli = _fit(path, root / "runs", 150, ["--model.optimizer.lr", "1e-3"])
    return cli, root / "runs", path


def test_short_clip_fit_reaches_psnr_and_snr(chirp_run):
    metrics = chirp_run[0].trainer.callback_metrics
    assert chirp_run[0].trainer.global_step == 150
    print({key: value.item() for key, value in metrics.items()})
    assert metrics["val/psnr"].item() > 40.0, metrics
    assert metrics["val/snr"].item() > 20.0, metrics


def test_offline_wandb_run_holds_the_audio_at_its_sample_rate_and_the_waveform(chirp_run):
    cli, root, path = chirp_run
    (run,) = find_offline_runs(root)
    assert [step for step, _ in metric_values(run, "val/snr")] == [150]
    rows = read_history(run)
    audio = [row for row in rows if "val/audio/_type" in row]
    assert audio and audio[0]["val/audio/count"] == 1 and audio[0]["trainer/global_step"] == 150
    assert audio[0]["val/audio/sampleRates"] == [16000]
    logged = run / "files" / audio[0]["val/audio/audio"][0]["path"]
    samples, rate = sf.read(logged, dtype="float32")
    assert rate == 16000 and samples.shape == (800,)
    target, _ = sf.read(path, dtype="float32")
    assert np.abs(samples - target).mean() < 0.01  # the logged sound is the reconstruction
    pictures = [row for row in rows if "val/waveform/_type" in row]
    assert pictures and pictures[0]["val/waveform/count"] == 1


def test_render_at_twice_the_sample_rate_doubles_the_samples(chirp_run, tmp_path):
    cli, root, path = chirp_run
    last = find_last_checkpoint(root)
    native = tmp_path / "native.wav"
    render_checkpoint(last, str(native))
    samples, rate = sf.read(native, dtype="float32")
    target, _ = sf.read(path, dtype="float32")
    assert rate == 16000 and samples.shape == target.shape and sf.info(native).subtype == "PCM_16"
    assert np.abs(samples - target).mean() < 0.01
    print(render_checkpoint(last, str(tmp_path / "up.flac"), resolution=32000))
    upsampled, up_rate = sf.read(tmp_path / "up.flac", dtype="float32")
    assert up_rate == 32000 and upsampled.shape == (1600,)
    assert np.abs(upsampled[::2] - target).mean() < 0.01  # even output samples fall on the training samples
    with pytest.raises(ValueError, match="unknown audio file type '.mp4'; use .wav, .flac or .ogg"):
        render_checkpoint(last, str(tmp_path / "x.mp4"))
    with pytest.raises(ValueError, match="output sample rate in Hz\\) must be >= 1"):
        render_checkpoint(last, str(tmp_path / "x.wav"), resolution=0)


@pytest.mark.skipif(not BACH.is_file(), reason=f"{BACH} not found: the shared real-signal folder is absent")
def test_crop_of_the_bach_recording_fits(tmp_path):
    cli = _fit(BACH, tmp_path, 150, ["--data.start_seconds", "2.0", "--data.crop_seconds", "0.05",
                                     "--model.optimizer.lr", "1e-3"])
    spec = cli.model.signal
    assert (spec.meta["sample_rate"], spec.shape, spec.meta["subtype"]) == (44100, (2205,), "FLOAT")
    print({key: value.item() for key, value in cli.trainer.callback_metrics.items()})
    assert cli.trainer.callback_metrics["val/psnr"].item() > 35.0


def test_relu_pe_config_runs_on_a_crop(tmp_path):
    sf.write(tmp_path / "tone.wav", _tone(8000, 2, 8000), 8000, subtype="PCM_24")
    cli = run_fit(["--config", "configs/audio_relu_pe.yaml", "--data.path", str(tmp_path / "tone.wav"),
                   "--data.crop_seconds", "0.02", "--data.mono", "true", "--trainer.max_steps", "2",
                   "--trainer.val_check_interval", "2", "--trainer.default_root_dir", str(tmp_path),
                   "--trainer.enable_progress_bar", "false", *TINY_MODEL])
    assert cli.trainer.global_step == 2 and cli.model.signal.shape == (160,)
    assert cli.model.signal.out_dim == 1 and "val/snr" in cli.trainer.callback_metrics
