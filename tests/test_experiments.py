"""The experiment commands run on tiny settings and write their PNG, CSV and offline W&B run."""

import csv
import math

import numpy as np
import pytest
import torch
from conftest import ROOT

from inr.cli import main
from inr.experiments.psweep import power_law_signal
from inr.experiments.table import format_table, load_images, make_encoder, split_pixels, summarise


def read_csv(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def assert_png(path):
    assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def offline_runs(folder):
    return list((folder / "wandb").glob("offline-run-*"))


def test_inr_ntk_command_writes_picture_csv_and_wandb_run(tmp_path):
    main(["ntk", "--encoder", "inr.nn.encoders.BasicFourier", "--encoder.band_limit", "4",
          "--network.hidden", "8", "--network.layers", "1", "--points", "16", "--seeds", "2",
          "--name", "tiny", "--out", str(tmp_path)])
    assert_png(tmp_path / "tiny.png")
    rows = read_csv(tmp_path / "tiny.csv")
    assert len(rows) == 16 and float(rows[8]["cross_section"]) == pytest.approx(1.0)  # normalised: K(0, 0) = 1
    eigenvalues = [float(r["eigenvalue"]) for r in read_csv(tmp_path / "tiny_eigenvalues.csv")]
    assert eigenvalues == sorted(eigenvalues, reverse=True) and sum(eigenvalues) == pytest.approx(16, rel=1e-4)
    assert len(offline_runs(tmp_path)) == 1


def test_inr_ntk_2d_grid(tmp_path):
    main(["ntk", "--in_dim", "2", "--network", "inr.nn.networks.Siren", "--network.hidden", "8",
          "--network.layers", "0", "--points", "6", "--seeds", "1", "--out", str(tmp_path), "--wandb", "false"])
    assert_png(tmp_path / "ntk.png")
    assert len(read_csv(tmp_path / "ntk.csv")) == 36


@pytest.mark.parametrize("preset", sorted(p.stem for p in (ROOT / "configs" / "zoo").glob("*.yaml")))
def test_inr_ntk_takes_every_zoo_preset(preset, tmp_path):
    import json

    import yaml

    model = yaml.safe_load((ROOT / "configs" / "zoo" / f"{preset}.yaml").read_text())["model"]
    small = {"hidden": 8, "layers": 1, "log2_table_size": 8, "levels": 4, "max_resolution": 32}

    def option(spec) -> str:
        if isinstance(spec, str):
            return spec
        arguments = {key: small.get(key, value) for key, value in spec.get("init_args", {}).items()}
        return json.dumps({"class_path": spec["class_path"], "init_args": arguments})

    main(["ntk", "--encoder", option(model["encoder"]), "--network", option(model["network"]), "--points", "12",
          "--seeds", "1", "--name", preset, "--out", str(tmp_path), "--wandb", "false"])
    rows = read_csv(tmp_path / f"{preset}.csv")
    assert len(rows) == 12 and float(rows[6]["cross_section"]) == pytest.approx(1.0)
    eigenvalues = [float(r["eigenvalue"]) for r in read_csv(tmp_path / f"{preset}_eigenvalues.csv")]
    assert min(eigenvalues) > -1e-4 and sum(eigenvalues) == pytest.approx(12, rel=1e-4)


def test_experiment_psweep_tiny(tmp_path):
    main(["experiment", "psweep", "--ps", "[null, 1.0, .inf]", "--width", "16", "--depth", "2", "--steps", "5",
          "--signals", "1", "--ntk_seeds", "1", "--out", str(tmp_path)])
    assert_png(tmp_path / "psweep.png")
    rows = read_csv(tmp_path / "psweep_errors.csv")
    assert [r["mapping"] for r in rows] == ["no mapping", "p = 1", "p = inf"]
    assert all(math.isfinite(float(r["test_mse"])) and math.isfinite(float(r["ntk_test_mse"])) for r in rows)
    assert len(read_csv(tmp_path / "psweep_spectra.csv")) == 3 * 129
    assert len(offline_runs(tmp_path)) == 1


def test_experiment_table_tiny_folder_of_images(tmp_path, capsys):
    import imageio.v3 as iio

    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        iio.imwrite(images / f"{name}.png", rng.integers(0, 255, (12, 10, 3), dtype=np.uint8))
    main(["experiment", "table", "--sources", f"{{natural: {images}}}", "--size", "8", "--steps", "2",
          "--mapping_size", "8", "--out", str(tmp_path / "out")])
    assert_png(tmp_path / "out" / "table.png")
    rows = read_csv(tmp_path / "out" / "table.csv")
    assert len(rows) == 8 and {r["encoding"] for r in rows} == {"none", "basic", "pe", "gaussian"}
    summary = read_csv(tmp_path / "out" / "table_summary.csv")
    assert [float(r["paper_test_psnr"]) for r in summary] == [19.32, 21.72, 24.95, 25.57]
    assert "natural" in capsys.readouterr().out


def test_experiment_spectra_tiny(tmp_path):
    main(["experiment", "spectra", "--points", "16", "--width", "8", "--depth", "1", "--mapping_size", "4",
          "--seeds", "1", "--out", str(tmp_path), "--wandb", "false"])
    assert_png(tmp_path / "spectra.png")
    rows = read_csv(tmp_path / "spectra.csv")
    assert len(rows) == 9 and all(float(value) == pytest.approx(1.0) for value in list(rows[0].values())[1:])


def test_bad_input_gives_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["experiment", "table", "--sources", f"{{natural: {tmp_path / 'missing'}}}", "--out", str(tmp_path)])
    assert exit_info.value.code == 2 and "image folder not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["experiment", "nonsense"])


def test_table_reads_16_bit_gray_and_rgba_files_into_unit_rgb(tmp_path):
    import imageio.v3 as iio

    from datamodules.image import write_png

    rng = np.random.default_rng(0)
    gray = rng.integers(0, 65536, (10, 8, 1), dtype=np.uint16)
    gray[0, 0] = 65535
    write_png(tmp_path / "gray16.png", gray)
    iio.imwrite(tmp_path / "rgba.png", rng.integers(0, 256, (8, 8, 4), dtype=np.uint8))
    images = dict(load_images(str(tmp_path), 4))
    assert set(images) == {"gray16", "rgba"}
    for image in images.values():
        assert image.shape == (4, 4, 3) and image.min() >= 0 and image.max() <= 1
    assert np.array_equal(images["gray16"][..., 0], images["gray16"][..., 2]) and images["gray16"].max() > 0.5


def test_table_pieces():
    image = np.random.default_rng(0).random((8, 8, 3)).astype(np.float32)
    x_train, y_train, x_test, y_test = split_pixels(image)
    assert x_train.shape == (16, 2) and x_test.shape == (48, 2)
    assert torch.equal(y_train[1], torch.from_numpy(image[0, 2]))
    pe = make_encoder("pe", "text", mapping_size=256)
    assert pe.out_dim == 512 and pe.frequencies.max().item() == pytest.approx(2**5 - 1)
    assert make_encoder("gaussian", "natural").sigma == 10.0 and make_encoder("gaussian", "text").sigma == 14.0
    rows = [{"group": "text", "image": str(i), "encoding": "pe", "test_psnr": 20.0 + i} for i in range(2)]
    summary = summarise(rows)
    assert summary[0]["test_psnr_mean"] == 20.5 and summary[0]["paper_test_psnr"] == 27.57
    assert "20.50 +- 0.50" in format_table(summary, ["pe"])


def test_power_law_signal():
    signal = power_law_signal(256, seed=0)
    assert signal.min() == 0 and signal.max() == 1
    magnitude = torch.fft.rfft(signal.double()).abs()
    assert magnitude[65:].max() < 1e-6 * magnitude[1:65].max()  # cut at N / 4
