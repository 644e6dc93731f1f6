"""``inr benchmark``: configs over a folder of signals, the table's numbers against what the runs logged."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest
from conftest import ROOT, child_env
from test_members import _images
from wandb_reader import find_offline_runs, read_config, read_history, wait_until_finished

from inr.commands.benchmark import benchmark
from inr.core.errors import InputError, MissingFileError


def test_benchmark_table_holds_mean_and_std_over_every_signal_of_every_shape(tmp_path):
    images = tmp_path / "images"
    _images(images, 3, size=12)
    iio.imwrite(images / "wide.png", (np.random.default_rng(0).uniform(size=(10, 12, 3)) * 255).astype(np.uint8))
    done = subprocess.run(
        [sys.executable, "-m", "inr.cli", "benchmark", "configs/zoo/siren.yaml", "configs/image_relu_pe.yaml",
         "--data", str(images), "--steps", "20", "--interval", "10", "--target-psnr", "5", "--out",
         str(tmp_path / "out"), "--", "--model.network.init_args.hidden", "16", "--trainer.enable_progress_bar",
         "false"], capture_output=True, text=True, cwd=ROOT, env=child_env(), timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 shape group(s)" in done.stderr
    with open(tmp_path / "out" / "benchmark.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["config"] for row in rows] == ["siren", "image_relu_pe"]
    wait_until_finished(tmp_path / "out")
    for row in rows:
        assert row["signals"] == "4" and row["steps"] == "20"
        assert float(row["seconds"]) > 0 and float(row["seconds_to_psnr_5"]) <= float(row["seconds"])
        # the per-signal values the fits logged to W&B, one table per shape group
        values = []
        for group in ("0", "1"):
            (run,) = find_offline_runs(tmp_path / "out" / f"{row['config']}-{group}")
            history = read_history(run)
            table = [r for r in history if r.get("val/members/_type") == "table-file"][-1]
            data = json.loads((run / "files" / table["val/members/path"]).read_text())
            values += [line[data["columns"].index("psnr")] for line in data["data"]]
            assert any(r.get("benchmark/summary/_type") == "table-file" for r in history)
            assert read_config(run)["signal"]["members"] in (1, 3)
        assert len(values) == 4
        assert float(row["psnr_mean"]) == pytest.approx(np.mean(values), abs=1e-4)
        assert float(row["psnr_std"]) == pytest.approx(np.std(values), abs=1e-4)
    table = (tmp_path / "out" / "benchmark.md").read_text()
    assert "| siren | Siren | " in table and "+-" in table


def test_benchmark_refuses_bad_options_before_fitting(tmp_path):
    _images(tmp_path / "images", 1)
    with pytest.raises(MissingFileError, match="config not found: .*nope.yaml"):
        benchmark(["nope.yaml"], str(tmp_path / "images"), str(tmp_path / "out"), None, None, 10, None, 30, [])
    with pytest.raises(InputError, match="--steps must be >= 1"):
        benchmark(["configs/zoo/siren.yaml"], str(tmp_path / "images"), str(tmp_path / "out"), None, None, 0, None,
                  30, [])
    with pytest.raises(InputError, match=r"--interval must be in 1..--steps \(10\), got 20"):
        benchmark(["configs/zoo/siren.yaml"], str(tmp_path / "images"), str(tmp_path / "out"), None, None, 10, 20,
                  30, [])
    with pytest.raises(InputError, match="sdf_siren.yaml: inr benchmark fits folders of images or audio clips"):
        benchmark(["configs/sdf_siren.yaml"], str(tmp_path / "images"), str(tmp_path / "out"), None, None, 10, None,
                  30, [])
    with pytest.raises(InputError, match="no signal files in the folder"):
        (tmp_path / "empty").mkdir()
        benchmark(["configs/zoo/siren.yaml"], str(tmp_path / "empty"), str(tmp_path / "out"), None, None, 10, None,
                  30, [])
    assert not (tmp_path / "out").exists()
