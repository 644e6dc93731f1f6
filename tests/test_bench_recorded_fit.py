"""The benchmarks' recorded fit reports the validation values the run itself logged, at the steps it logged them."""

from __future__ import annotations

import wandb
from conftest import TINY_MODEL
from wandb_reader import find_offline_runs, metric_values, wait_until_finished

from bench.recorded_fit import recorded_fit


def test_recorded_fit_returns_each_validation_as_logged(gray_png, tmp_path):
    try:
        rows, seconds = recorded_fit(["--data.path", str(gray_png), "--trainer.val_check_interval", "2",
                                      "--trainer.default_root_dir", str(tmp_path), *TINY_MODEL],
                                     ["val/psnr", "train/loss"], steps=6)
    finally:
        wandb.finish()
    wait_until_finished(tmp_path)
    (run,) = find_offline_runs(tmp_path)
    logged = dict(metric_values(run, "val/psnr"))
    assert [step for step, *_ in rows] == [2, 4, 6] == sorted(logged)
    for step, psnr, loss in rows:
        assert abs(psnr - logged[step]) < 1e-4 and loss > 0
    assert seconds > 0
