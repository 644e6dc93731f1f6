"""The GPU check suite's CPU dry run: every stage reports measured values or an explicit skip with its reason."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from conftest import ROOT, child_env

from bench.gpu_suite import STAGES


def _numbers(value) -> list[float]:
    """Every number inside a nested result."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, dict):
        return [number for item in value.values() for number in _numbers(item)]
    if isinstance(value, list):
        return [number for item in value for number in _numbers(item)]
    return []


@pytest.mark.slow
def test_cpu_dry_run_reports_every_stage_with_values_or_a_reason(tmp_path):
    done = subprocess.run([sys.executable, "-m", "bench.gpu_suite", "--device", "cpu", "--tiny", "--out",
                           str(tmp_path), "--budget", "300"], cwd=ROOT, env=child_env(), capture_output=True,
                          text=True, timeout=360)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert list(results) == list(STAGES)
    for name, result in results.items():
        assert result["status"] in ("measured", "skipped"), (name, result)
        if result["status"] == "skipped":
            assert result["reason"], name
        else:  # a stage that ran must have measured something, not just returned
            values = {key: value for key, value in result.items() if key not in ("status", "seconds")}
            assert _numbers(values), (name, result)
    modalities = results["correctness"]["modalities"]
    expected = {"image", "poisson_gradient", "poisson_laplacian", "audio", "sdf", "video", "members", "ct", "mri",
                "occupancy", "meta_maml", "meta_hypernetwork"}
    assert set(modalities) == expected
    for name, row in modalities.items():  # with ../shared/data or without it (bundled images): every one runs
        assert row["status"] == "measured", (name, row)
        assert row["metric_after_resume"] and row["render"].startswith("wrote"), (name, row)
        assert all(math.isfinite(v) or "chamfer" in k or "normal" in k
                   for k, v in row["metric_after_resume"].items()), (name, row)
    variants = results["precision"]["variants"]
    assert variants["float32"]["status"] == "measured" and variants["bf16-mixed"]["status"] == "measured"
    assert abs(variants["bf16-mixed"]["psnr_minus_float32"]) < 1.0  # the same few steps, bf16 autocast
    assert variants["16-mixed"]["status"] == "skipped" and "GPU" in variants["16-mixed"]["reason"]
    assert results["multi_gpu"] == {**results["multi_gpu"], "status": "skipped"}
    speed = results["speed"]["image"]
    assert speed["inr"]["samples_per_second"] > 0 and speed["plain (chunked 16k)"]["samples_per_second"] > 0
    assert results["speed"]["ntk_4x256"]["shape"] == [256, 256]
    for part in ("speed_options", "largest_batch"):  # GPU-only parts say why they did not run here
        assert results["speed"][part]["status"] == "skipped" and "GPU" in results["speed"][part]["reason"]
    report = (tmp_path / "report.md").read_text()
    assert all(f"## {name}: " in report for name in STAGES)


@pytest.mark.slow
def test_a_suite_out_of_time_cuts_stages_and_keeps_the_report(tmp_path):
    done = subprocess.run([sys.executable, "-m", "bench.gpu_suite", "--device", "cpu", "--tiny", "--out",
                           str(tmp_path), "--budget", "12"], cwd=ROOT, env=child_env(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert list(results) == list(STAGES)  # every stage has a line, measured or not
    assert results["environment"]["status"] == "skipped" and "budget" in results["environment"]["reason"]
    assert results["correctness"]["status"] == "cut" and "time cap" in results["correctness"]["reason"]
    assert "## correctness: cut" in (tmp_path / "report.md").read_text()


def test_a_cut_stage_keeps_the_parts_it_measured(tmp_path):
    from types import SimpleNamespace

    from bench.gpu_suite import _progress, mark_cut

    options = SimpleNamespace(out=str(tmp_path))
    _progress(options, "speed", "image", {"inr": {"samples_per_second": 1000.0}})
    assert json.loads((tmp_path / "results.json").read_text())["speed"]["status"] == "partial"
    mark_cut(tmp_path, "speed", 30)
    speed = json.loads((tmp_path / "results.json").read_text())["speed"]
    assert speed["status"] == "cut" and speed["parts"]["image"]["inr"]["samples_per_second"] == 1000.0
    assert "## speed: cut" in (tmp_path / "report.md").read_text()


def test_without_shared_data_the_suite_writes_its_images_from_bundled_samples(tmp_path):
    import imageio.v3 as iio
    import numpy as np

    from bench.gpu_suite import BUNDLED, bundled_images

    folder = bundled_images(tmp_path / "images")
    images = [iio.imread(path) for path in sorted(folder.glob("*.png"))]
    assert len(images) == len(BUNDLED) == 8 and all(image.shape == (256, 256, 3) for image in images)
    assert len({image.tobytes() for image in images}) == 8 and min(float(np.std(image)) for image in images) > 10
