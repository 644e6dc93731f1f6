"""The house rules: metrics are torchmetrics objects matching their references, a leading signal axis passes
through Step, losses and diff, the DataModules never reach the model and the components never import Lightning."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import ROOT

from inr.core.evaluation import Evaluation
from inr.core.signal import SignalSpec
from inr.core.step import Step
from inr.losses import ValueLoss
from inr.losses.derivatives import GradientLoss, LaplacianLoss
from inr.losses.sdf import EikonalLoss, NormalLoss, OffSurfaceLoss, SurfaceLoss
from inr.metrics import PSNR, SNR, SSIM, DerivativeError, SurfaceDistance, default_metrics
from inr.nn.networks import Siren


def _image_evaluation(prediction: np.ndarray, truth: np.ndarray) -> Evaluation:
    height, width, channels = truth.shape
    spec = SignalSpec(in_dim=2, out_dim=channels, kind="image", shape=(height, width))
    values = torch.from_numpy(truth).reshape(-1, channels).float()
    return Evaluation(spec=spec, batch={"coords": torch.zeros(height * width, 2), "values": values},
                      prediction=torch.from_numpy(prediction).reshape(-1, channels).float(), predict=lambda c: c)


def test_ssim_matches_scikit_image_on_a_fixed_pair():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(0)
    truth = rng.random((40, 50, 3)) * 2 - 1  # values in [-1, 1]: data range 2
    prediction = np.clip(truth + 0.2 * rng.standard_normal(truth.shape), -1, 1)
    expected = structural_similarity(truth, prediction, channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False, data_range=2.0)
    metric = SSIM()
    metric.update(_image_evaluation(prediction, truth))
    assert metric.compute()["ssim"].item() == pytest.approx(expected, abs=1e-5)
    assert 0.3 < expected < 0.9  # a pair where SSIM is informative


@pytest.mark.parametrize("shape, finite", [((3, 11), True), ((1, 40), False), ((8, 8), True)])
def test_ssim_of_images_smaller_than_its_window(shape, finite):
    rng = np.random.default_rng(0)
    truth = rng.random((*shape, 1)) * 2 - 1
    metric = SSIM()
    metric.update(_image_evaluation(truth * 0.5, truth))
    value = metric.compute()["ssim"].item()
    assert (0 < value < 1) if finite else np.isnan(value)
    if finite:
        metric = SSIM()
        metric.update(_image_evaluation(truth, truth))
        assert metric.compute()["ssim"].item() == pytest.approx(1.0, abs=1e-5)


def test_psnr_and_snr_match_their_formulas():
    truth = np.linspace(-0.8, 0.8, 64).reshape(8, 8, 1)  # + 0.1 stays inside the clipping range
    prediction = truth + 0.1
    psnr = PSNR()
    psnr.update(_image_evaluation(prediction, truth))
    assert psnr.compute()["psnr"].item() == pytest.approx(10 * np.log10(2.0**2 / 0.01), abs=1e-3)
    evaluation = _image_evaluation(prediction, truth)
    snr = SNR()
    snr.update(evaluation)
    expected = 10 * np.log10(np.sum(truth**2) / np.sum(0.1**2 * np.ones_like(truth)))
    assert snr.compute()["snr"].item() == pytest.approx(expected, abs=1e-3)


def test_aligned_psnr_ignores_the_offset_gradients_cannot_know():
    truth = np.linspace(-0.5, 0.5, 64).reshape(8, 8, 1)
    raw, aligned = PSNR(), PSNR("offset")
    evaluation = _image_evaluation(truth + 0.3, truth)
    raw.update(evaluation)
    aligned.update(evaluation)
    assert raw.compute()["psnr"].item() == pytest.approx(10 * np.log10(4 / 0.09), abs=1e-3)
    assert aligned.compute()["psnr_aligned"].item() > 100
    torch.testing.assert_close(evaluation.extras["aligned"], evaluation.target("values"))


def test_default_metrics_follow_the_signal_kind_and_the_loss_targets():
    def names(metrics):
        return [name for metric in metrics for name in metric.names]

    assert names(default_metrics("image")) == ["psnr", "ssim"]
    assert names(default_metrics("image", ["gradients"])) == ["psnr", "psnr_aligned", "ssim_aligned", "gradient_mse"]
    assert "laplacian_mse" in names(default_metrics("image", ["laplacians"]))
    assert names(default_metrics("audio")) == ["psnr", "snr"]
    assert names(default_metrics("sdf")) == ["chamfer", "normal_consistency"]
    gradient, laplacian = DerivativeError("gradient"), DerivativeError("laplacian")
    assert (gradient.targets, gradient.derivatives) == (("gradients",), ("gradient",))
    assert (laplacian.names, laplacian.targets) == (("laplacian_mse",), ("laplacians",))
    assert SurfaceDistance.targets == ("normals",)
    assert SurfaceDistance().is_better("chamfer", 0.1, 0.2) and not PSNR().is_better("psnr", 20.0, 30.0)


def test_ssim_refuses_a_signal_that_is_no_image():
    from inr.training.module import INRModule

    spec = SignalSpec(in_dim=1, out_dim=1, kind="audio", shape=(800,))
    evaluation = Evaluation(spec=spec, batch={"values": torch.zeros(800, 1)}, prediction=torch.zeros(800, 1),
                            predict=lambda c: c)
    with pytest.raises(ValueError, match=r"SSIM needs an image \(a signal of shape \[height, width\]\), got "
                                         r"shape \(800,\)"):
        SSIM().update(evaluation)
    with pytest.raises(ValueError, match=r"model metrics log repeated names \['psnr', 'psnr'\]"):
        INRModule(metrics=[PSNR(), PSNR()], signal=spec)


# --- a leading signal axis ---------------------------------------------------------------------------------------
def _step(coords: torch.Tensor, network: torch.nn.Module, batch: dict) -> Step:
    coords = coords.detach().requires_grad_(True)
    return Step(coords, network(coords), batch)


@pytest.mark.parametrize("loss", [ValueLoss(), GradientLoss(), LaplacianLoss(), SurfaceLoss(), NormalLoss(),
                                  EikonalLoss(), OffSurfaceLoss()], ids=lambda loss: loss.name)
def test_losses_on_two_signals_at_once_equal_the_mean_of_each(loss):
    """Step, diff and the losses take [2, N, d]: the loss equals the mean of the two signals' losses."""
    torch.manual_seed(0)
    channels = 1 if loss.name.startswith("sdf") else 2
    network = Siren(3, channels, hidden=16, layers=1).double()
    coords = torch.rand(2, 10, 3, dtype=torch.float64) * 2 - 1
    batch = {"values": torch.randn(2, 10, channels, dtype=torch.float64),
             "gradients": torch.randn(2, 10, channels, 3, dtype=torch.float64),
             "laplacians": torch.randn(2, 10, channels, dtype=torch.float64),
             "normals": torch.nn.functional.normalize(torch.randn(2, 10, 3, dtype=torch.float64), dim=-1),
             "on_surface": torch.arange(10).expand(2, 10) < torch.tensor([[4], [7]])}
    together = loss(_step(coords, network, batch))
    alone = [loss(_step(coords[k], network, {key: value[k] for key, value in batch.items()})) for k in range(2)]
    torch.testing.assert_close(together, (alone[0] + alone[1]) / 2, rtol=1e-10, atol=1e-12)
    step = _step(coords, network, batch)
    assert step.gradient.shape == (2, 10, channels, 3) and step.laplacian.shape == (2, 10, channels)


# --- who imports what ----------------------------------------------------------------------------------------------
def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_datamodules_never_import_the_module_and_components_never_import_lightning():
    for path in sorted((ROOT / "datamodules").glob("*.py")):
        assert not any(name.startswith("inr.training.module") for name in _imports(path)), path
        assert "predict_values" not in path.read_text(), f"{path} calls the model"
    components = ["nn/encoders.py", "nn/networks.py", "core/diff.py", "core/step.py", "core/chunks.py",
                  "core/grids.py", "core/signal.py", "core/evaluation.py", "metrics/__init__.py", "losses/__init__.py",
                  "losses/derivatives.py", "losses/sdf.py"]
    for name in components:
        imported = _imports(ROOT / "inr" / name)
        assert not any(module.split(".")[0] in ("lightning", "pytorch_lightning") for module in imported), name
        assert "inr.training.module" not in imported, name


def test_a_loss_whose_target_the_data_cannot_compute_is_refused(tmp_path):
    from lightning.pytorch import Trainer

    from datamodules.audio import AudioDataModule
    from inr.training.module import INRModule

    data = AudioDataModule(crop_seconds=0.01)
    model = INRModule(network=functools.partial(Siren, hidden=8, layers=0), losses=[GradientLoss()],
                      signal=data.signal_spec)
    trainer = Trainer(max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      default_root_dir=tmp_path)
    with pytest.raises(ValueError, match=r"loss GradientLoss needs the target\(s\) \['gradients'\], which "
                                         r"AudioDataModule does not provide \(it provides \['values'\]\)"):
        trainer.fit(model, data)


def test_dashboard_gets_best_values_parameters_throughput_and_learning_rate(gray_png, tmp_path, monkeypatch):
    """W&B (offline, read back): summary ``best/val/psnr`` = the max logged, config ``parameters``, ``train/lr``
    and ``train/samples_per_second`` at logging steps; the checkpoint keeps the best values for a resume."""
    from conftest import TINY_MODEL, run_fit
    from wandb_reader import find_offline_runs, metric_values, read_config, read_summary

    monkeypatch.chdir(ROOT)
    args = ["--config", "configs/image_siren.yaml", "--data.path", str(gray_png), "--data.size", "null",
            "--trainer.val_check_interval", "2", "--trainer.log_every_n_steps", "1",
            "--trainer.default_root_dir", str(tmp_path), "--trainer.enable_progress_bar", "false", *TINY_MODEL,
            "--model.lr_scheduler", "torch.optim.lr_scheduler.ExponentialLR", "--model.lr_scheduler.gamma", "0.5"]
    cli = run_fit([*args, "--trainer.max_steps", "6"])
    (run,) = find_offline_runs(tmp_path)
    psnr = [value for _, value in metric_values(run, "val/psnr")]
    assert len(psnr) == 3 and read_summary(run)["best/val/psnr"] == pytest.approx(max(psnr), abs=1e-4)
    assert read_summary(run)["best/val/ssim"] == pytest.approx(max(v for _, v in metric_values(run, "val/ssim")))
    assert read_config(run)["parameters"] == sum(p.numel() for p in cli.model.parameters())
    learning_rates = dict(metric_values(run, "train/lr"))
    lr = cli.model.hparams["optimizer"]["init_args"]["lr"]
    assert learning_rates[1] == pytest.approx(lr) and learning_rates[3] == pytest.approx(lr * 0.25)
    throughput = metric_values(run, "train/samples_per_second")
    assert len(throughput) >= 4 and all(value > 32 * 32 for _, value in throughput)  # > one step's pixels per second
    checkpoint = torch.load(next(tmp_path.glob("**/checkpoints/last.ckpt")), weights_only=False)
    assert checkpoint["inr_best_metrics"]["val/psnr"] == pytest.approx(max(psnr), abs=1e-4)
