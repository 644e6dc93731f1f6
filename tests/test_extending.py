"""The recipes of docs/extending.md, end to end: each file of the page is written out and its config fitted."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT, run_fit
from wandb_reader import find_offline_runs, metric_values

RECIPE_BLOCK = re.compile(r"```(?:python|yaml)\n# (recipes/[\w.]+)\n(.*?)```", re.DOTALL)


@pytest.fixture
def recipes(tmp_path, monkeypatch) -> Path:
    """Every ``# recipes/...`` block of docs/extending.md written under ``tmp_path``, importable as ``recipes``."""
    text = (ROOT / "docs" / "extending.md").read_text()
    blocks = RECIPE_BLOCK.findall(text)
    assert len(blocks) == 8, [name for name, _ in blocks]  # 4 recipes x (file + config)
    for name, body in blocks:
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(ROOT)
    return tmp_path / "recipes"


def _fit(config: Path, root: Path, *extra: str):
    return run_fit(["--config", str(config), "--trainer.default_root_dir", str(root),
                    "--trainer.enable_progress_bar", "false", "--trainer.val_check_interval", "150",
                    "--trainer.max_steps", "150", *extra])


def test_encoder_recipe_fits_and_declares_itself_piecewise_linear(recipes, gray_png, tmp_path):
    from recipes.triangle_wave import TriangleWave

    coords = torch.rand(5, 2) * 2 - 1
    u = (coords.double().numpy() + 1) / 2
    expected = [[4 * abs(t - np.floor(t) - 0.5) - 1 for axis in range(2) for k in (1, 2)
                 for t in (k * u[n, axis], k * u[n, axis] + 0.25)] for n in range(5)]
    torch.testing.assert_close(TriangleWave(2, frequencies=2)(coords).double(), torch.tensor(expected), atol=1e-6,
                               rtol=0)
    cli = _fit(recipes / "triangle_wave.yaml", tmp_path / "run", "--data.path", str(gray_png))
    assert cli.trainer.callback_metrics["val/psnr"].item() > 22.0
    with pytest.raises(ValueError, match="LaplacianLoss cannot train MLP\\(activation='relu'\\) on TriangleWave"):
        _fit(recipes / "triangle_wave.yaml", tmp_path / "laplacian", "--data.path", str(gray_png),
             "--model.losses", '[{"class_path": "inr.losses.derivatives.LaplacianLoss"}]')


def test_network_layer_recipe_fits(recipes, gray_png, tmp_path):
    cli = _fit(recipes / "gauss.yaml", tmp_path / "run", "--data.path", str(gray_png))
    network = cli.model.network
    assert type(network).__name__ == "GaussianMLP" and [type(block).__name__ for block in network.net] == [
        "GaussianLayer", "GaussianLayer", "GaussianLayer", "Linear"]
    assert cli.trainer.callback_metrics["val/psnr"].item() > 25.0


def test_loss_with_a_new_target_recipe_trains_on_exactly_its_targets(recipes, gray_png, tmp_path):
    cli = _fit(recipes / "edge_weighted.yaml", tmp_path / "run", "--data.path", str(gray_png))
    data = cli.datamodule
    assert data.training_targets == ("edge_weights", "values")
    batch = data.sample(torch.device("cpu"), 0, 0)
    assert sorted(batch) == ["coords", "edge_weights", "values"] and batch["edge_weights"].shape == (32 * 32,)
    assert batch["edge_weights"].min() >= 1 and batch["edge_weights"].max() == pytest.approx(5.0)
    (run,) = find_offline_runs(tmp_path / "run")
    losses = [value for _, value in metric_values(run, "train/loss/edge_weighted_value")]
    assert len(losses) == 15 and losses[-1] < 0.01 * losses[0]  # logged every 10 steps
    assert cli.trainer.callback_metrics["val/psnr"].item() > 25.0


def test_modality_recipe_fits_logs_media_and_renders(recipes, tmp_path):
    from inr.cli import find_last_checkpoint
    from inr.commands.render import render_checkpoint

    ys, xs = np.meshgrid(np.linspace(-1, 1, 24), np.linspace(-1, 1, 20), indexing="ij")
    field = np.stack([np.sin(3 * xs) * np.cos(2 * ys), xs * ys], axis=-1) * 50 + 10  # [24, 20, 2], not in [-1, 1]
    np.save(tmp_path / "field.npy", field)
    cli = _fit(recipes / "array_signal.yaml", tmp_path / "run", "--data.path", str(tmp_path / "field.npy"))
    assert cli.model.signal.kind == "array" and cli.model.signal.shape == (24, 20)
    assert cli.trainer.callback_metrics["val/psnr"].item() > 30.0
    assert list((tmp_path / "run").glob("**/media/images/val/array*.png"))
    out = tmp_path / "fitted.npy"
    assert "wrote" in render_checkpoint(find_last_checkpoint(tmp_path / "run"), str(out))
    fitted = np.load(out)
    assert fitted.shape == field.shape and np.abs(fitted - field).max() < 0.1 * np.ptp(field)
    with pytest.raises(ValueError, match="an array renders to a .npy file"):
        render_checkpoint(find_last_checkpoint(tmp_path / "run"), str(tmp_path / "fitted.png"))
    (tmp_path / "text.npy").write_text("not an array")
    with pytest.raises(ValueError, match="is not a readable .npy file"):
        _fit(recipes / "array_signal.yaml", tmp_path / "bad", "--data.path", str(tmp_path / "text.npy"))
