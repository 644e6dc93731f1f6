"""Derivative supervision: losses, image derivative targets, aligned metrics, Poisson fit, blending, CLI paths."""

from __future__ import annotations

import functools
import time

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from conftest import TINY_MODEL, run_fit
from wandb_reader import find_offline_runs, metric_values, read_history

from datamodules.blend import BlendDataModule
from datamodules.image import ImageDataModule, image_derivatives
from inr.core import step as step_module
from inr.core.step import Step
from inr.losses import ValueLoss
from inr.losses.derivatives import GradientLoss, LaplacianLoss
from inr.metrics import align
from inr.nn.encoders import Identity, PositionalEncoding
from inr.nn.networks import MLP, Siren
from inr.training.module import INRModule

SMALL_SIREN = ["--model.network.init_args.hidden", "64", "--model.network.init_args.layers", "2"]




def _fit(config: str, image, root, steps: int, extra: list[str] = ()):
    return run_fit([
        "--config", config, "--data.path", str(image), "--data.size", "null", "--trainer.max_steps", str(steps),
        "--trainer.val_check_interval", str(steps), "--trainer.default_root_dir", str(root),
        "--trainer.enable_progress_bar", "false", *extra,
    ])


def _logged(run, key: str) -> list[tuple[int, float]]:
    """``metric_values`` of ``key``, waiting up to 10 s for the W&B writer to flush under a loaded CPU."""
    for _ in range(20):
        values = metric_values(run, key)
        if values:
            return values
        time.sleep(0.5)
    return values


# --- losses ------------------------------------------------------------------------------------------------------
def _step_with(gradient: torch.Tensor, laplacian: torch.Tensor, batch: dict) -> Step:
    step = Step(torch.zeros(len(gradient), 2), torch.zeros(len(gradient), 1), batch)
    step.__dict__["gradient"], step.__dict__["laplacian"] = gradient, laplacian  # fill the cached derivatives
    return step


def test_gradient_loss_matches_hand_computation():
    gradient = torch.tensor([[[1.0, 2.0]], [[0.0, 0.0]]])
    target = torch.tensor([[[0.0, 0.0]], [[3.0, -4.0]]])
    step = _step_with(gradient, torch.zeros(2, 1), {"gradients": target})
    # per point |difference|^2 summed over x, y: 1 + 4 = 5 and 9 + 16 = 25; mean over points 15
    assert GradientLoss(weight=3.0)(step).item() == pytest.approx(15.0)
    assert GradientLoss.name == "gradient" and GradientLoss.needs_derivatives


def test_laplacian_loss_matches_hand_computation():
    step = _step_with(torch.zeros(3, 1, 2), torch.tensor([[1.0], [-2.0], [0.5]]), {"laplacians": torch.ones(3, 1)})
    assert LaplacianLoss()(step).item() == pytest.approx((0 + 9 + 0.25) / 3)
    assert LaplacianLoss.name == "laplacian" and LaplacianLoss.needs_derivatives


def test_losses_name_missing_or_misshaped_targets():
    with pytest.raises(KeyError, match=r"needs batch\['gradients'\]"):
        GradientLoss()(_step_with(torch.zeros(2, 1, 2), torch.zeros(2, 1), {"values": torch.zeros(2, 1)}))
    with pytest.raises(ValueError, match=r"gradient targets have shape \(2, 2\)"):
        GradientLoss()(_step_with(torch.zeros(2, 1, 2), torch.zeros(2, 1), {"gradients": torch.zeros(2, 2)}))


def test_two_derivative_losses_share_one_gradient_pass(monkeypatch):
    calls = []
    original = step_module.diff.gradient
    monkeypatch.setattr(step_module.diff, "gradient", lambda *a, **k: calls.append(1) or original(*a, **k))
    coords = torch.rand(16, 2).requires_grad_(True)
    net = Siren(2, 1, hidden=8, layers=1)
    step = Step(coords, net(coords), {"gradients": torch.zeros(16, 1, 2), "laplacians": torch.zeros(16, 1)})
    (GradientLoss()(step) + LaplacianLoss()(step)).backward()
    assert len(calls) == 1
    assert all(p.grad is not None for name, p in net.named_parameters() if "weight" in name)


def test_laplacian_loss_refuses_relu_mlp_on_raw_coordinates():
    spec = {"in_dim": 2, "out_dim": 1, "value_range": [-1, 1]}
    relu = functools.partial(MLP, hidden=8, layers=1, activation="relu")
    with pytest.raises(ValueError, match="LaplacianLoss cannot train MLP\\(activation='relu'\\).*piecewise linear"):
        INRModule(encoder=Identity, network=relu, losses=[LaplacianLoss()], signal=spec)
    with pytest.warns(UserWarning, match="only the curvature of PositionalEncoding"):
        INRModule(encoder=functools.partial(PositionalEncoding, num_frequencies=2), network=relu,
                  losses=[LaplacianLoss()], signal=spec)
    INRModule(encoder=Identity, network=relu, losses=[GradientLoss()], signal=spec)  # first derivatives are fine
    INRModule(encoder=Identity, network=functools.partial(MLP, activation="softplus"), losses=[LaplacianLoss()],
              signal=spec)
    INRModule(losses=[LaplacianLoss()], signal=spec)  # SIREN


def test_laplacian_with_relu_gives_one_clear_cli_error(gray_png, tmp_path, capsys):
    from inr.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", "configs/poisson_laplacian.yaml", "--data.path", str(gray_png),
              "--model.network", "inr.nn.networks.MLP", "--model.network.activation", "relu",
              "--trainer.max_steps", "1", "--trainer.default_root_dir", str(tmp_path)])
    assert exit_info.value.code == 2
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "LaplacianLoss cannot train MLP(activation='relu')" in last_line


# --- targets and metrics -------------------------------------------------------------------------------------------
def test_image_derivatives_are_in_coordinate_units():
    height, width = 9, 17
    ys, xs = np.meshgrid(np.linspace(-1, 1, height), np.linspace(-1, 1, width), indexing="ij")
    ramp = (0.5 * xs - 0.25 * ys)[..., None]
    gradients, laplacians = image_derivatives(ramp)
    inner = (slice(1, -1), slice(1, -1))
    np.testing.assert_allclose(gradients[inner][..., 0, 1], 0.5, atol=1e-6)
    np.testing.assert_allclose(gradients[inner][..., 0, 0], -0.25, atol=1e-6)  # y grows down the rows
    np.testing.assert_allclose(laplacians[inner], 0, atol=1e-5)
    bowl = (xs**2 + 3 * ys**2)[..., None]
    _, laplacians = image_derivatives(bowl)
    np.testing.assert_allclose(laplacians[inner], 2 + 6, atol=1e-4)  # exact for quadratics


def test_the_losses_choose_what_training_sees(gray_png):
    """The module asks the DataModule for its losses' targets (training) and its metrics' (validation)."""
    data = ImageDataModule(path=str(gray_png), batch_size=10)
    assert sorted(data.signal_tensors()) == ["coords", "values"]  # nothing asked: no derivative is computed
    model = INRModule(network=functools.partial(Siren, hidden=8, layers=0), losses=[GradientLoss()],
                      signal=data.signal_spec)
    assert (model.training_targets, model.validation_targets) == (["gradients"], ["gradients", "values"])
    data.provide(training=model.training_targets, validation=model.validation_targets)
    assert sorted(data.sample(torch.device("cpu"), 0, 0)) == ["coords", "gradients"]
    assert sorted(data.validation_batch(torch.device("cpu"))) == ["coords", "gradients", "values"]
    assert data.signal_tensors()["gradients"].shape == (32 * 32, 1, 2)
    model = INRModule(network=functools.partial(Siren, hidden=8, layers=0), losses=[LaplacianLoss()],
                      signal=data.signal_spec)
    data.provide(training=model.training_targets, validation=model.validation_targets)
    assert sorted(data.sample(torch.device("cpu"), 0, 0)) == ["coords", "laplacians"]
    assert sorted(data.validation_batch(torch.device("cpu"))) == ["coords", "gradients", "laplacians", "values"]
    with pytest.raises(ValueError, match=r"ImageDataModule cannot compute the target\(s\) \['normals'\]"):
        data.provide(training=["normals"], validation=[])


def test_align_recovers_offset_and_gain():
    truth = torch.randn(100, 2)
    torch.testing.assert_close(align(truth + 3.0, truth), truth)
    torch.testing.assert_close(align(0.1 * truth - 2.0, truth, gain=True), truth)
    torch.testing.assert_close(align(torch.ones(100, 2), truth, gain=True), truth.mean(0).expand(100, 2))
    coords = torch.rand(100, 2) * 2 - 1
    plane = 0.3 - 0.5 * coords[:, :1] + 2.0 * coords[:, 1:]  # zero Laplacian: lost when fitting from it
    torch.testing.assert_close(align(0.1 * truth + plane, truth, gain=True, coords=coords), truth)
    assert not torch.allclose(align(0.1 * truth + plane, truth, gain=True), truth, atol=1e-2)


# --- fits through the CLI ------------------------------------------------------------------------------------------
def test_poisson_fit_from_gradients_reaches_aligned_psnr(gray_png, tmp_path):
    """Training never sees a pixel value; 200 steps of a 2 x 64 SIREN at 32 x 32 (~7 s)."""
    cli = _fit("configs/poisson_gradient.yaml", gray_png, tmp_path, 200,
               [*SMALL_SIREN, "--model.optimizer.lr", "3e-4"])
    metrics = cli.trainer.callback_metrics
    assert metrics["val/psnr_aligned"].item() > 27.0, metrics
    assert metrics["val/psnr_aligned"] > metrics["val/psnr"]  # the offset is not recoverable from gradients
    (run,) = find_offline_runs(tmp_path)
    losses = _logged(run, "train/loss/gradient")
    assert len(losses) == 20 and losses[-1][1] < losses[0][1]
    assert _logged(run, "val/gradient_mse")
    pictures = [row for row in read_history(run) if "val/derivatives/_type" in row]
    assert pictures and pictures[0]["val/derivatives/count"] == 4
    magnitude = iio.imread(run / "files" / pictures[0]["val/derivatives/filenames"][0])
    assert magnitude.shape[:2] == (32, 32) and magnitude.std() > 10


def test_laplacian_config_trains_and_reports_its_metrics(gray_png, tmp_path):
    every_step = ["--trainer.log_every_n_steps", "1"]
    cli = _fit("configs/poisson_laplacian.yaml", gray_png, tmp_path, 2, [*TINY_MODEL, *every_step])
    metrics = cli.trainer.callback_metrics
    assert {"val/psnr", "val/psnr_aligned", "val/gradient_mse", "val/laplacian_mse"} <= set(metrics)
    (run,) = find_offline_runs(tmp_path)
    assert [step for step, _ in _logged(run, "train/loss/laplacian")] == [1, 2]


def test_blend_config_with_second_image_and_mask(gray_png, rgb_png, tmp_path):
    mask = np.zeros((32, 32), dtype=np.uint8)
    mask[8:24, 8:24] = 255
    iio.imwrite(tmp_path / "mask.png", mask)
    cli = _fit("configs/poisson_blend.yaml", gray_png, tmp_path, 2,
               [*TINY_MODEL, "--data.second", str(rgb_png), "--data.mask", str(tmp_path / "mask.png")])
    assert "val/psnr_aligned" in cli.trainer.callback_metrics
    data = cli.datamodule
    assert data.second.shape == (32, 32, 1) and data.weights[16, 16, 0] == 1 and data.weights[0, 0, 0] == 0


def test_blend_targets_compose_the_images_derivatives(gray_png, rgb_png):
    data = BlendDataModule(path=str(gray_png), second=str(rgb_png), weight=0.25)
    first_gradients, _ = image_derivatives(data.first * 2 - 1)
    second_gradients, second_laplacians = image_derivatives(data.second * 2 - 1)
    targets = data.image_targets()
    np.testing.assert_allclose(targets["gradients"], 0.75 * first_gradients + 0.25 * second_gradients, atol=1e-5)
    # a constant weight commutes with differentiation: the composite gradient is the gradient of the composite
    np.testing.assert_allclose(targets["gradients"], image_derivatives(data.pixels * 2 - 1)[0], atol=1e-4)
    only_second = BlendDataModule(path=str(gray_png), second=str(rgb_png), weight=1.0).image_targets()
    np.testing.assert_allclose(only_second["laplacians"], second_laplacians, atol=1e-5)
    with pytest.raises(ValueError, match="data weight must lie in \\[0, 1\\]"):
        BlendDataModule(path=str(gray_png), weight=1.5)
    assert BlendDataModule(path=str(gray_png)).second.shape == (32, 32, 1)  # default second image: astronaut


def test_value_loss_cannot_peek_at_values_under_gradient_supervision(gray_png):
    data = ImageDataModule(path=str(gray_png))
    data.provide(training=["gradients"], validation=["gradients"])
    batch = data.sample(torch.device("cpu"), 0, 0)
    with pytest.raises(KeyError, match=r"needs batch\['values'\]"):
        ValueLoss()(Step(batch["coords"], torch.zeros(32 * 32, 1), batch))


def test_sobel_targets_match_analytic_derivatives_of_a_smooth_image():
    """Scale and orientation check of the targets against the closed-form derivatives of sin(2x) cos(y)."""
    height = width = 33
    ys, xs = np.meshgrid(np.linspace(-1, 1, height), np.linspace(-1, 1, width), indexing="ij")
    image = np.sin(2 * xs) * np.cos(ys)
    gradients, laplacians = image_derivatives(image[..., None])
    inner = (slice(2, -2), slice(2, -2))
    np.testing.assert_allclose(gradients[inner][..., 0, 1], (2 * np.cos(2 * xs) * np.cos(ys))[inner], atol=0.02)
    np.testing.assert_allclose(gradients[inner][..., 0, 0], (-np.sin(2 * xs) * np.sin(ys))[inner], atol=0.02)
    np.testing.assert_allclose(laplacians[inner][..., 0], (-5 * image)[inner], atol=0.02)
