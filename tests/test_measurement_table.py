"""``inr experiment measurements``: rows per fit and baseline, a table that grows over runs, W&B, bad options."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import trimesh
from wandb_reader import find_offline_runs, read_history, wait_until_finished

from inr.cli import main as inr_main
from inr.commands.measurements import read_rows, run_measurements, summary

TINY_CT = ["--size", "16", "--steps", "4"]


def _rows(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_a_ct_table_has_each_fit_and_baseline_and_grows_over_runs(tmp_path, capsys):
    out = tmp_path / "table"
    inr_main(["experiment", "measurements", "--modality", "ct", "--signals", "[8, 9]", "--configs", "[none, pe]",
              *TINY_CT, "--out", str(out)])
    printed = capsys.readouterr().out
    rows = _rows(out / "ct_table.csv")
    assert [(row["signal"], row["method"]) for row in rows] == [
        (seed, method) for seed in ("8", "9") for method in ("inr none", "fbp", "grid", "inr pe")]
    assert all(0 < float(row["psnr"]) < 60 and 0 < float(row["ssim"]) <= 1 for row in rows)
    fbp = [float(row["psnr"]) for row in rows if row["method"] == "fbp"]
    assert fbp[0] != fbp[1]  # two phantoms, two reconstructions
    mean, std = sum(fbp) / 2, abs(fbp[0] - fbp[1]) / 2
    assert f"| fbp | 2 | {mean:.2f} +- {std:.2f} |" in printed and "| inr pe | 2 |" in printed
    assert "| 26.89 |" in printed  # the paper's PE number beside inr's
    assert (out / "table.md").read_text().strip() in printed
    wait_until_finished(out)
    (run,) = find_offline_runs(out)
    (logged,) = [record for record in read_history(run) if "measurements/ct/path" in record]
    assert len(json.loads((run / "files" / logged["measurements/ct/path"]).read_text())["data"]) == 8

    # a second run with skip_done adds a config and leaves the rows it holds
    before = {(row["signal"], row["method"]): row["seconds"] for row in rows}
    run_measurements("ct", ["8"], ["none", "basic"], size=16, steps=4, skip_done=True, out=str(out), wandb=False)
    again = _rows(out / "ct_table.csv")
    assert {(row["signal"], row["method"]) for row in again} == {*before, ("8", "inr basic")}
    assert all(row["seconds"] == before[row["signal"], row["method"]] for row in again
               if (row["signal"], row["method"]) in before and row["method"] == "inr none")


def test_a_scale_search_fits_each_value_and_names_the_best(tmp_path, capsys):
    out = tmp_path / "search"
    inr_main(["experiment", "measurements", "--modality", "ct", "--signals", "[8]", *TINY_CT, "--out", str(out),
              "--scales", "{gaussian: [1.0, 8.0], pe: [2.0]}", "--wandb", "false"])
    rows = {row["method"]: float(row["psnr"]) for row in _rows(out / "ct_table.csv")}
    assert list(rows) == ["inr gaussian sigma 1", "fbp", "grid", "inr gaussian sigma 8", "inr pe scale 2"]
    assert rows["inr gaussian sigma 1"] != rows["inr gaussian sigma 8"]  # the value reached the encoder
    best = max((1, 8), key=lambda sigma: rows[f"inr gaussian sigma {sigma}"])
    printed = capsys.readouterr().out
    assert f"best gaussian sigma: {best} (mean psnr over the signals: 1 {rows['inr gaussian sigma 1']:.2f}, " \
        f"8 {rows['inr gaussian sigma 8']:.2f})" in printed
    assert "best pe scale: 2 " in printed and "| inr gaussian sigma 8 | 1 |" in printed
    assert "| 28.33 |" in printed  # the paper's Gaussian number beside each searched value


@pytest.mark.parametrize("data", [{}, {"phantom_z_limit": 1.0}])
def test_each_mri_fit_leaves_the_reconstruction_its_row_scores(data, tmp_path):
    from datamodules.mri import MRIDataModule

    (row, _) = run_measurements("mri", ["8"], ["pe"], size=12, steps=30, out=str(tmp_path), data=data, wandb=False)
    volume = np.load(tmp_path / "pe_8" / "reconstruction.npy").clip(0, 1)
    truth, other = (MRIDataModule(size=12, phantom_seed=8, **options).volume.numpy()
                    for options in (data, {"phantom_z_limit": 0.25 if data else 1.0}))
    assert volume.shape == (12, 12, 12)
    assert -10 * np.log10(np.square(volume - truth).mean()) == pytest.approx(row["psnr"], abs=1e-3)
    assert -10 * np.log10(np.square(volume - other).mean()) < row["psnr"] - 1  # the fit saw ``data``'s phantom


def test_an_mri_table_fits_a_volume_file_and_names_its_rows_by_the_file(tmp_path):
    from datamodules.mri import read_volume

    axis = np.linspace(-1, 1, 12)
    ball = (np.square(np.stack(np.meshgrid(axis, axis, axis, indexing="ij"))).sum(0) < 0.5).astype(np.float32)
    np.save(tmp_path / "ball.npy", ball)
    rows = run_measurements("mri", [str(tmp_path / "ball.npy")], ["pe"], size=12, steps=30, out=str(tmp_path / "out"),
                            wandb=False)
    assert [(row["signal"], row["method"]) for row in rows] == [("ball.npy", "inr pe"), ("ball.npy", "zero_filled")]
    volume = np.load(tmp_path / "out" / "pe_ball" / "reconstruction.npy").clip(0, 1)
    truth = read_volume(str(tmp_path / "ball.npy"), 12)
    assert -10 * np.log10(np.square(volume - truth).mean()) == pytest.approx(rows[0]["psnr"], abs=1e-3)


def test_the_summary_takes_means_and_spreads_over_signals_and_names_the_paper():
    rows = [{"signal": "cow.obj", "method": "inr gaussian", "iou": 0.9, "iou_boundary": 0.8, "seconds": 1.0},
            {"signal": "fandisk.obj", "method": "inr gaussian", "iou": 0.8, "iou_boundary": math.nan, "seconds": 1.0}]
    assert summary(rows, "occupancy").splitlines()[2] == \
        "| inr gaussian | 2 | 0.850 +- 0.050 | 0.800 +- 0.000 | 0.988 / 0.973 |"
    mri = [{"signal": "8", "method": "zero_filled", "psnr": 20.0, "ssim": math.nan, "seconds": math.nan}]
    assert summary(mri, "mri").splitlines()[2] == "| zero_filled | 1 | 20.00 +- 0.00 | - |  |"


def test_an_occupancy_table_fits_shape_files(tmp_path):
    shape = tmp_path / "torus.obj"
    trimesh.creation.torus(major_radius=0.6, minor_radius=0.25).export(shape)
    rows = run_measurements("occupancy", [str(shape)], ["gaussian"], steps=3, out=str(tmp_path / "out"), wandb=False)
    (row,) = rows
    assert row["signal"] == "torus.obj" and row["method"] == "inr gaussian"
    assert 0 <= row["iou"] <= 1 and 0 <= row["iou_boundary"] <= 1
    assert read_rows(tmp_path / "out" / "occupancy_table.csv") == rows


@pytest.mark.parametrize(("args", "message"), [
    (["--modality", "pet"], "modality must be one of ct, mri, occupancy, got 'pet'"),
    (["--modality", "mri", "--configs", "[hash_grid]"], "no mri config 'hash_grid': choose from none, basic"),
    (["--modality", "ct", "--signals", "[8, cow.png]"],
     r"CT slice file not found: cow.png \(a signal is a phantom seed, an integer >= 0, or a file\)"),
    (["--modality", "mri", "--signals", "[brain.nii]"], "MRI volume file not found: brain.nii"),
    (["--modality", "occupancy", "--signals", "[nope.obj]"], "shape file not found: nope.obj"),
    (["--modality", "mri", "--scales", "{basic: [1.0]}"], "the mri config 'basic' has no encoder scale to search"),
    (["--modality", "ct", "--scales", "{pe: [0.0, 3.0]}"], r"scales for 'pe' must be a list of positive numbers"),
])
def test_bad_options_are_refused_in_one_line_before_fitting(args, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        inr_main(["experiment", "measurements", *args, "--out", str(tmp_path / "out")])
    error = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and "\n" not in error
    assert error.startswith("inr experiment measurements: error:")
    import re

    assert re.search(message, error), error
    assert not (tmp_path / "out").exists()
