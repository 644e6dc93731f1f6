"""Compression: quantisation bounds, the range coder, the file format, inr compress / inr decompress round trips."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from inr.commands.compress import main as compress
from inr.commands.decompress import main as decompress
from inr.core.errors import InputError
from inr.core.quantise import quantise
from inr.io.bitstream import read_file
from inr.io.entropy import decode_symbols, encode_symbols
from inr.training.compression import (
    Compression,
    checkpoint_model,
    compress_checkpoint,
    compress_state,
    decode_tensor,
    load_compressed,
)

FIXTURES = Path(__file__).parent / "fixtures" / "checkpoints"
#: every single-signal kind and network family the fixtures hold (old class paths included)
SINGLE = ["image_siren", "image_relu_pe", "image_ffn_gaussian", "audio_siren", "sdf_siren", "video_siren",
          "zoo_wire", "zoo_hash_grid", "zoo_gabor_net", "meta_maml_init"]


@pytest.mark.parametrize("per_channel", [False, True], ids=["per-tensor", "per-channel"])
@pytest.mark.parametrize("bits", [2, 5, 8, 12])
def test_quantisation_is_within_half_a_step_of_every_value(bits, per_channel):
    weight = torch.randn(24, 40, generator=torch.Generator().manual_seed(bits)) * torch.linspace(0.1, 3, 24)[:, None]
    quantised = quantise(weight, bits, per_channel)
    steps = quantised.step if per_channel else quantised.step.expand(24)
    error = (quantised.dequantise() - weight).abs()
    assert (error <= steps[:, None] / 2 + 1e-6).all()
    assert int(quantised.symbols.min()) == 0 and int(quantised.symbols.max()) == 2**bits - 1
    if per_channel:  # each row's own range: the narrow rows get finer steps
        assert quantised.step[0] < quantised.step[-1] / 10
    constant = quantise(torch.full((3, 4), 0.25), bits, per_channel)
    assert torch.equal(constant.dequantise(), torch.full((3, 4), 0.25))


def test_quantisation_refuses_bad_bits_and_non_finite_values():
    with pytest.raises(InputError, match="bits must be in 2..16, got 1"):
        quantise(torch.zeros(3), 1)
    with pytest.raises(InputError, match="NaN or infinite"):
        quantise(torch.tensor([0.0, float("nan")]), 8)


def test_the_range_coder_round_trips_exactly_near_the_entropy():
    generator = np.random.default_rng(0)
    gaussian = np.clip(np.round(generator.normal(128, 20, 20000)), 0, 255).astype(np.int64)
    laplace = np.clip(np.round(generator.laplace(30, 4, 20000)), 0, 63).astype(np.int64)
    for symbols, levels in ((gaussian, 256), (laplace, 64), (generator.integers(0, 16, 5000), 16),
                            (np.full(50, 3), 8), (np.zeros(0, dtype=np.int64), 4)):
        stream = encode_symbols(symbols, levels)
        assert np.array_equal(decode_symbols(stream, levels), symbols)
        counts = np.bincount(symbols, minlength=levels)[np.bincount(symbols, minlength=levels) > 0]
        entropy_bytes = -(counts * np.log2(counts / max(symbols.size, 1))).sum() / 8
        assert len(stream.payload) <= 1.03 * entropy_bytes + 16, (levels, len(stream.payload), entropy_bytes)
    assert encode_symbols(gaussian, 256).family == "gaussian" and encode_symbols(laplace, 64).family == "laplace"


@pytest.mark.parametrize("name", SINGLE)
def test_a_file_decodes_to_exactly_the_quantised_weights_and_its_size_is_what_bpp_counts(name, tmp_path):
    out = tmp_path / f"{name}.inrz"
    size, decoded = compress_checkpoint(FIXTURES / f"{name}.ckpt", out, Compression("quantised", 8, True))
    assert size == out.stat().st_size
    model = load_compressed(out)
    state = model.state_dict()
    _, original = checkpoint_model(FIXTURES / f"{name}.ckpt")
    for key, value in decoded.items():
        assert torch.equal(state[key].to(value.dtype), value), key  # bit-exact: the quantised values
        scale = original[key].abs().max().item() or 1.0
        assert (value - original[key]).abs().max().item() <= scale / 255 + 1e-6, key  # within a step (range / 255)


def test_float32_mode_is_lossless_and_float16_rounds_as_coin_does(tmp_path):
    _, original = checkpoint_model(FIXTURES / "image_siren.ckpt")
    compress_checkpoint(FIXTURES / "image_siren.ckpt", tmp_path / "f32.inrz", Compression("float32"))
    compress_checkpoint(FIXTURES / "image_siren.ckpt", tmp_path / "f16.inrz", Compression("float16"))
    exact, half = (load_compressed(tmp_path / f"{mode}.inrz").state_dict() for mode in ("f32", "f16"))
    for key, value in original.items():
        assert torch.equal(exact[key], value), key
        assert torch.equal(half[key], value.half().float()), key
    params = sum(value.numel() for value in original.values())
    assert params * 2 < (tmp_path / "f16.inrz").stat().st_size < params * 2 + 400  # the header is small


def test_inr_compress_then_decompress_renders_what_the_decoded_model_renders(tmp_path, capsys):
    from inr.commands.render import main as render

    checkpoint = FIXTURES / "image_siren.ckpt"
    compress([str(checkpoint), "--out", str(tmp_path / "image.inrz"), "--bits", "10"])
    line = capsys.readouterr().out
    size = (tmp_path / "image.inrz").stat().st_size
    shape = checkpoint_model(checkpoint)[0]["signal"]["shape"]
    assert f"wrote {tmp_path / 'image.inrz'}: {size} bytes, {size * 8 / math.prod(shape):.4f} bpp" in line
    decompress([str(tmp_path / "image.inrz"), "--out", str(tmp_path / "decoded.png")])
    render([str(checkpoint), "--out", str(tmp_path / "original.png")])
    import imageio.v3 as iio

    decoded, original = (iio.imread(tmp_path / f"{name}.png").astype(float) for name in ("decoded", "original"))
    assert decoded.shape == original.shape
    assert 10 * np.log10(255**2 / max(np.mean((decoded - original) ** 2), 1e-12)) > 40  # 10 bits: nearly the fit


def test_foreign_truncated_corrupted_and_newer_files_are_refused_without_writing(tmp_path, capsys):
    good = tmp_path / "good.inrz"
    compress_checkpoint(FIXTURES / "image_siren.ckpt", good, Compression())
    data = good.read_bytes()
    cases = {"foreign": (b"PK\x03\x04" + data[4:], "is not an inr compressed file"),
             "truncated": (data[: len(data) // 2], "corrupted or truncated"),
             "corrupted": (data[:40] + bytes([data[40] ^ 0x10]) + data[41:], "corrupted or truncated"),
             "newer": (data[:4] + bytes([9]) + data[5:], "format version 9, newer than this inr reads")}
    for name, (content, message) in cases.items():
        bad = tmp_path / f"{name}.inrz"
        bad.write_bytes(content)
        with pytest.raises(InputError, match=message):
            read_file(bad)
        with pytest.raises(SystemExit) as exit_info:
            decompress([str(bad), "--out", str(tmp_path / f"{name}.png")])
        assert exit_info.value.code == 2 and not (tmp_path / f"{name}.png").exists()
        error = capsys.readouterr().err.strip()
        assert error.startswith("inr decompress: error:") and message in error and "\n" not in error


def test_a_checkpoint_of_members_and_bad_options_are_refused(tmp_path, capsys):
    with pytest.raises(InputError, match="holds 3 members: compress one at a time"):
        compress_checkpoint(FIXTURES / "many_image_siren.ckpt", tmp_path / "x.inrz", Compression())
    with pytest.raises(SystemExit):
        compress([str(FIXTURES / "image_siren.ckpt"), "--out", str(tmp_path / "x.inrz"), "--bits", "20"])
    assert "bits must be in 2..16, got 20" in capsys.readouterr().err
    assert not (tmp_path / "x.inrz").exists()


@pytest.mark.slow
def test_an_image_compressed_at_a_rate_fits_the_siren_with_the_most_weights_within_it(gray_png, tmp_path, capsys):
    import imageio.v3 as iio

    from inr.training.rate_presets import LADDER, file_bytes, siren_weights

    out = tmp_path / "image.inrz"
    compress([str(gray_png), "--bpp", "6", "--steps", "150", "--out", str(out)])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    size = out.stat().st_size
    assert size * 8 / (32 * 32) <= 6 and f"{size} bytes, {size * 8 / 1024:.4f} bpp" in line
    header, _ = read_file(out)
    layers, width = header["network"]["init_args"]["layers"] + 1, header["network"]["init_args"]["hidden"]
    assert f"SIREN {layers} x {width}" in line
    larger = [shape for shape in LADDER if siren_weights(header, *shape) > siren_weights(header, layers, width)]
    assert larger and all(file_bytes(header, *shape, Compression()) > 6 * 1024 / 8 for shape in larger)  # none fits
    decompress([str(out), "--out", str(tmp_path / "decoded.png")])
    decoded, original = (iio.imread(path).astype(float) for path in (tmp_path / "decoded.png", gray_png))
    psnr = 10 * np.log10(255**2 / np.mean((decoded - original) ** 2))
    reported = float(line.split("psnr ")[1].split(",")[0])
    assert psnr > 20 and abs(psnr - reported) < 0.5  # what compress reports is what decompress gives


def test_a_rate_no_network_reaches_and_a_signal_without_a_rate_are_refused(gray_png, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        compress([str(gray_png), "--bpp", "0.5", "--out", str(tmp_path / "x.inrz")])
    assert exit_info.value.code == 2 and "--bpp 0.5: even the smallest network (2 x 8) takes" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        compress([str(gray_png), "--out", str(tmp_path / "x.inrz")])
    error = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and error.startswith("inr compress: error:") and "\n" not in error
    assert "is a signal: give --bpp RATE" in error
    assert not (tmp_path / "x.inrz").exists()


@pytest.mark.slow
def test_rd_puts_inr_its_qat_and_meta_variants_jpeg_and_webp_on_one_curve_with_bd_rates(tmp_path, capsys):
    import csv
    import json
    import shutil

    import imageio.v3 as iio
    from conftest import cameraman_crop, run_fit
    from wandb_reader import find_offline_runs, read_history, read_summary, wait_until_finished

    from inr.cli import main as inr_main
    from inr.commands.rd import bd_rate, jpeg_psnr_at

    folder = tmp_path / "images"
    folder.mkdir()
    iio.imwrite(folder / "a.png", np.repeat(cameraman_crop(40)[..., None], 3, axis=-1))  # RGB, cropped to 32 below
    iio.imwrite(folder / "b.png", np.repeat(np.fliplr(cameraman_crop(40))[..., None], 3, axis=-1))
    run_fit(["--config", "configs/image_siren.yaml", "--data.path", str(folder / "a.png"), "--data.size", "32",
             "--model.network.init_args.hidden", "12", "--model.network.init_args.layers", "1",
             "--trainer.max_steps", "30", "--trainer.val_check_interval", "30", "--trainer.logger", "false",
             "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(tmp_path / "init_run")])
    init = tmp_path / "start.ckpt"
    shutil.copy(next((tmp_path / "init_run").glob("**/last.ckpt")), init)
    inr_main(["experiment", "rd", "--folder", str(folder), "--rates", "[8, 16]", "--size", "32", "--steps", "60",
              "--qat_steps", "10", "--inits", f"[{init}]", "--init_images", "[b]",
              "--jpeg_qualities", "[20, 60, 90]", "--webp_qualities", "[20, 60, 90]", "--avif_qualities", "[30, 70]",
              "--out", str(tmp_path / "rd")])
    table = capsys.readouterr().out
    with open(tmp_path / "rd" / "rd.csv") as handle:
        rows = list(csv.DictReader(handle))
    inr_rows, pillow = ["inr", "inr qat"] * 2, [*["jpeg"] * 3, *["webp"] * 3, *["avif"] * 2]
    assert [row["codec"] for row in rows] == [*inr_rows, *pillow, *inr_rows, "inr meta", *pillow]
    for row in rows:
        if row["codec"] in ("inr", "inr qat"):  # inr's bpp is its file's: within the rate asked
            suffix = "_qat" if row["codec"] == "inr qat" else ""
            size = (tmp_path / "rd" / "inr" / f"{row['image']}_{float(row['setting']):g}{suffix}.inrz").stat().st_size
            assert float(row["bpp"]) == pytest.approx(size * 8 / 32**2, rel=1e-5)
            assert float(row["bpp"]) <= float(row["setting"])
        if row["codec"].startswith("inr"):
            assert float(row["encode_seconds"]) > float(row["decode_seconds"]) > 0
    meta = next(row for row in rows if row["codec"] == "inr meta")  # scored on the image it was named for
    assert meta["image"] == "b" and meta["setting"] == "start"
    assert (tmp_path / "rd" / "inr" / "b_start.inrz").stat().st_size * 8 / 32**2 == pytest.approx(float(meta["bpp"]))
    for codec, count in (("jpeg", 3), ("avif", 2)):  # quality rises with the setting, and so does the rate
        points = [(float(row["bpp"]), float(row["psnr"])) for row in rows if row["codec"] == codec][:count]
        assert points == sorted(points) and all(float(row["ssim"]) <= 1 for row in rows)
    assert (tmp_path / "rd" / "rd.png").stat().st_size > 10_000 and "| jpeg |" in table and "BD-rate" in table
    assert (tmp_path / "rd" / "rd_init_images.png").stat().st_size > 10_000
    assert (tmp_path / "rd" / "rd.md").read_text().strip() in table and "| inr meta |" in table
    subset = table.split("On the images the inits are scored on (b), every codec:")[1]
    b_inr = [row for row in rows if row["image"] == "b" and row["codec"] == "inr"]
    assert f"| inr | {float(b_inr[0]['bpp']):.3f} | {float(b_inr[0]['psnr']):.2f} |" in subset  # b's own, not means
    # the W&B run holds the plot, the points and the table, and each codec's BD-rate
    wait_until_finished(tmp_path / "rd")
    (run,) = find_offline_runs(tmp_path / "rd")
    (logged,) = [record for record in read_history(run) if "rd/points/path" in record]
    assert logged["rd/curves/_type"] == logged["rd/curves_init_images/_type"] == "image-file"
    assert logged["rd/table/_type"] == "table-file"
    points = json.loads((run / "files" / logged["rd/points/path"]).read_text())
    assert len(points["data"]) == len(rows) and points["columns"][:3] == ["image", "codec", "setting"]
    assert set(read_summary(run)) >= {"bd_rate_vs_jpeg/inr", "bd_rate_vs_jpeg/inr qat", "bd_rate_vs_jpeg/webp",
                                      "bd_rate_vs_jpeg/avif"}
    # BD-rate: the same curve at half the rate saves 50 %; curves that do not overlap have none
    rates, psnr = np.array([0.2, 0.4, 0.8, 1.6]), np.array([25.0, 28.0, 31.0, 34.0])
    assert bd_rate((rates, psnr), (rates / 2, psnr)) == pytest.approx(-50.0, abs=1e-6)
    assert math.isnan(bd_rate((rates, psnr), (rates, psnr + 20)))
    curve = np.stack([rates, psnr, np.ones(4)], axis=1)  # JPEG's PSNR at a rate: linear in log bpp, NaN outside
    assert jpeg_psnr_at(curve, math.sqrt(0.2 * 0.4)) == pytest.approx(26.5) and math.isnan(jpeg_psnr_at(curve, 2.0))


def test_the_mse_step_never_errs_more_than_the_range_step_and_clips_outliers():
    weight = torch.randn(16, 200, generator=torch.Generator().manual_seed(0))
    weight[:, 0] = 12.0  # one outlier per row: the range step wastes its levels on it
    errors = {(bits, step): (quantise(weight, bits, True, step).dequantise() - weight).square().mean()
              for bits in (3, 6) for step in ("range", "mse")}
    assert errors[3, "mse"] < 0.8 * errors[3, "range"]  # coarse steps: clipping the outlier pays
    assert errors[6, "mse"] <= errors[6, "range"]  # fine steps: clipping costs more than it saves; never worse
    tight = torch.linspace(-1, 1, 256)[None].repeat(4, 1)
    assert (quantise(tight, 8, True, "mse").dequantise() - tight).square().mean() <= (
        quantise(tight, 8, True, "range").dequantise() - tight).square().mean()
    with pytest.raises(InputError, match="step must be range or mse, got 'best'"):
        quantise(weight, 8, step="best")


@pytest.mark.slow
def test_quantisation_aware_fine_tuning_recovers_what_coarse_bits_lose(gray_png, tmp_path, capsys):
    psnr = {}
    for name, extra in (("plain", []), ("qat", ["--qat-steps", "80"])):
        compress([str(gray_png), "--bpp", "6", "--bits", "4", "--steps", "150", "--out", str(tmp_path / f"{name}.inrz"),
                  *extra])
        psnr[name] = float(capsys.readouterr().out.split("psnr ")[1].split(",")[0])
    assert psnr["qat"] > psnr["plain"] + 1, psnr


@pytest.mark.slow
def test_a_fit_from_a_learned_init_codes_its_difference_and_decodes_only_with_that_init(gray_png, tmp_path, capsys):
    import shutil

    from conftest import cameraman_crop, run_fit

    run_fit(["--config", "configs/image_siren.yaml", "--data.path", str(gray_png), "--data.size", "null",
             "--model.network.init_args.hidden", "16", "--model.network.init_args.layers", "1",
             "--trainer.max_steps", "100", "--trainer.val_check_interval", "100", "--trainer.logger", "false",
             "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(tmp_path / "init_run"),
             "--model.optimizer.init_args.lr", "1e-3"])
    init = tmp_path / "codec" / "init.ckpt"
    init.parent.mkdir()
    shutil.copy(next((tmp_path / "init_run").glob("**/last.ckpt")), init)
    import imageio.v3 as iio

    other = tmp_path / "other.png"
    iio.imwrite(other, np.flipud(cameraman_crop(32)))  # another signal of the same shape
    out = tmp_path / "codec" / "other.inrz"
    compress([str(other), "--init", str(init), "--steps", "40", "--out", str(out)])
    assert "SIREN 2 x 16" in capsys.readouterr().out
    header, _ = read_file(out)
    assert header["init"]["file"] == "init.ckpt" and len(header["init"]["sha256"]) == 64
    decoded = load_compressed(out).state_dict()  # the init found beside the file
    _, start = checkpoint_model(init)
    assert any((decoded[name] - start[name]).abs().max() > 0 for name in start)  # the fit moved from the init
    for record, name in zip(read_file(out)[1], header["tensors"]):  # the file holds the moves, not the weights
        stored = decode_tensor(record, tuple(start[name].shape), name)
        torch.testing.assert_close(stored + start[name], decoded[name], rtol=0, atol=1e-6)
    shutil.move(init, tmp_path / "elsewhere.ckpt")
    with pytest.raises(InputError, match="was coded against the init init.ckpt: give it with --init FILE"):
        load_compressed(out)
    assert torch.equal(load_compressed(out, init=tmp_path / "elsewhere.ckpt").state_dict()["network.net.2.bias"],
                       decoded["network.net.2.bias"])
    with pytest.raises(InputError, match="was coded against another init.ckpt .* differs"):
        load_compressed(out, init=FIXTURES / "image_siren.ckpt")
    with pytest.raises(SystemExit):
        compress([str(other), "--init", str(tmp_path / "elsewhere.ckpt"), "--bpp", "2", "--out", str(tmp_path / "x")])
    assert "--bpp and --init exclude each other" in capsys.readouterr().err


def test_rd_references_are_centre_squares_at_a_size_or_the_whole_images(tmp_path):
    import imageio.v3 as iio

    from inr.commands.rd import reference_images

    folder = tmp_path / "images"
    folder.mkdir()
    pixels = np.random.default_rng(0).integers(0, 256, (24, 40, 3), dtype=np.uint8)  # Kodak-like: wider than tall
    iio.imwrite(folder / "wide.png", pixels)
    (whole,) = reference_images(str(folder), None, None, tmp_path / "whole")
    assert np.array_equal(iio.imread(whole), pixels)
    (square,) = reference_images(str(folder), 24, None, tmp_path / "square")
    assert np.array_equal(iio.imread(square), pixels[:, 8:32])  # the centre 24 x 24, at its own size
    with pytest.raises(InputError, match="size must be >= 8 pixels"):
        reference_images(str(folder), 4, None, tmp_path / "tiny")


def test_a_sound_compressed_at_a_rate_decodes_to_a_wav_of_its_duration(tmp_path, capsys):
    import soundfile

    rate = 16000
    t = np.arange(rate) / rate
    clip = 0.5 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 370 * t)
    soundfile.write(tmp_path / "tone.wav", clip.astype(np.float32), rate)
    compress([str(tmp_path / "tone.wav"), "--bpp", "2", "--steps", "150", "--out", str(tmp_path / "tone.inrz")])
    line = capsys.readouterr().out
    size = (tmp_path / "tone.inrz").stat().st_size
    assert f"{size * 8 / len(clip):.4f} bpp" in line and size * 8 / len(clip) <= 2  # bits per sample, within the rate
    # the first layer (w0 3000) is stored at 8 + 7 bits: at 8 its rounding scrambles the phases (12 dB, not 33)
    header, records = read_file(tmp_path / "tone.inrz")
    bits = {name: record.bits for name, record in zip(header["tensors"], records)}
    assert bits["network.net.0.linear.weight"] == bits["network.net.0.linear.bias"] == 15
    assert {value for name, value in bits.items() if not name.startswith("network.net.0.")} == {8}
    decompress([str(tmp_path / "tone.inrz"), "--out", str(tmp_path / "decoded.wav")])
    decoded, decoded_rate = soundfile.read(tmp_path / "decoded.wav")
    assert decoded_rate == rate and decoded.shape == clip.shape
    assert 10 * np.log10(4 / np.mean((decoded - clip) ** 2)) > 28  # PSNR over [-1, 1]: the tones, not noise


def test_only_a_first_sine_layer_above_w0_30_gets_more_bits():
    from inr.training.compression import tensor_compression

    audio = {"class_path": "Siren", "init_args": {"first_omega_0": 3000.0}}
    how = Compression("quantised", 8)
    assert tensor_compression(how, "network.net.0.linear.weight", audio).bits == 15  # ceil(log2(100)) = 7 more
    assert tensor_compression(Compression("quantised", 12), "network.net.0.linear.bias", audio).bits == 16  # capped
    assert tensor_compression(how, "network.net.1.linear.weight", audio) == how
    assert tensor_compression(how, "network.net.0.linear.weight", {"init_args": {"first_omega_0": 30.0}}) == how
    assert tensor_compression(how, "network.net.0.weight", {"class_path": "MLP"}) == how
    assert tensor_compression(Compression("float16"), "network.net.0.linear.weight", audio).mode == "float16"


@pytest.mark.parametrize(("lr", "improves"), [(0.5, False), (1e-5, True)])
def test_quantisation_aware_fine_tuning_keeps_its_best_stored_weights(lr, improves):
    from inr.core import grids
    from inr.training.compression import finetune_quantised, tensor_compression
    from inr.training.module import INRModule

    model = INRModule.load_from_checkpoint(FIXTURES / "image_siren.ckpt", map_location="cpu", weights_only=True)
    shape = tuple(model.signal.shape)
    coords = grids.grid(shape).reshape(-1, len(shape))
    with torch.no_grad():
        batch = {"coords": coords, "values": model.predict_values(coords)}  # the float model is exact
    start = {name: value.clone() for name, value in model.state_dict().items()}
    how = Compression("quantised", 4)
    losses = finetune_quantised(model, batch, how, 30, lr)
    assert len(losses) == 31
    network = model.hparams.get("network", {})  # a loaded module keeps no class configs: an image SIREN, w0 30
    stored = {name: tensor_compression(how, name, network).round_trip(value)
              for name, value in model.named_parameters()}
    with torch.no_grad():
        kept = float((torch.func.functional_call(model, stored, (coords,)) - batch["values"]).square().mean())
    assert kept == pytest.approx(min(losses), rel=1e-5)  # the model holds the weights of the lowest stored loss
    if improves:
        assert min(losses) < 0.9 * losses[0]
    else:  # Adam steps of 0.5 wreck a SIREN: the start was best, and the model is back at it
        assert min(losses) == losses[0] and max(losses) > 10 * losses[0]
        assert all(torch.equal(value, start[name]) for name, value in model.state_dict().items())


def test_every_preset_network_compresses_and_decodes_to_its_quantised_weights(tmp_path):
    from inr.nn.networks import Siren
    from inr.training.rate_presets import COIN, LADDER, sized_network

    header, _ = checkpoint_model(FIXTURES / "image_siren.ckpt")
    assert set(COIN) <= set(LADDER)
    for layers, width in LADDER:
        network = sized_network(header["network"], layers, width)
        torch.manual_seed(layers * 100 + width)
        siren = Siren(header["signal"]["in_dim"], header["signal"]["out_dim"], **network["init_args"])
        state = {f"network.{name}": value for name, value in siren.state_dict().items()}
        out = tmp_path / f"{layers}x{width}.inrz"
        size, stored = compress_state({**header, "network": network}, state, out, Compression("quantised", 8))
        decoded = load_compressed(out).state_dict()
        assert size == out.stat().st_size
        for name, value in stored.items():
            assert torch.equal(decoded[name], value), (layers, width, name)
