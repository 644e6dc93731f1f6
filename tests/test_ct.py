"""CT through projections: the ray operator against scikit-image, the loss, the DataModule, FBP and a fit."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import EQUIVALENT_ATOL, assert_members_are_single_fits, run_fit, small_float64_fit

from datamodules.ct import CTDataModule, shepp_logan_phantom
from datamodules.ct_baselines import filtered_back_projection
from inr.core import grids
from inr.core.errors import InputError
from inr.core.evaluation import Evaluation
from inr.core.rays import default_angles, line_integrals, parallel_beam_rays, segment_samples
from inr.core.step import Step
from inr.losses.measurements import LineIntegralLoss
from inr.metrics import ProjectionResidual


def test_projections_match_scikit_image_radon():
    """Odd sizes: scikit-image rotates about pixel n // 2, the centre only when n is odd."""
    from skimage.transform import radon

    for size in (65, 127):
        image = shepp_logan_phantom(size, seed=3)
        angles = default_angles(20)
        points, lengths = parallel_beam_rays(angles, grids.axis(size), size)
        ours = line_integrals(grids.interpolate(torch.from_numpy(image).double()[..., None], points), lengths)[..., 0]
        theirs = radon(image, theta=-np.degrees(angles.numpy()), circle=True).T * 2 / (size - 1)  # pixel -> [-1, 1]
        difference = ours.numpy() - theirs
        # the two differ only in interpolation (bilinear samples along the ray vs scikit-image's rotated image)
        assert np.linalg.norm(difference) / np.linalg.norm(theirs) < 0.01
        assert np.abs(difference).max() < 0.02 * np.abs(theirs).max()


def test_rays_cross_the_image_square_and_integrate_lengths_exactly():
    angles = torch.tensor([0.0, 0.3, 1.2, math.pi / 2])
    offsets = torch.tensor([-0.95, -0.5, 0.0, 0.7, 0.9])  # lines on the square's edge are a degenerate case
    points, lengths = parallel_beam_rays(angles, offsets, 16)
    assert points.shape == (4, 5, 16, 2) and lengths.shape == (4, 5, 16)
    assert points.abs().max() <= 1 + 1e-12  # inside the square
    chords = line_integrals(torch.ones(*points.shape[:-1], 1, dtype=torch.float64), lengths)[..., 0]
    # the reference: the share of 200,001 points of s in [-1, 1] on each line that fall in the square
    s = torch.linspace(-1, 1, 200_001, dtype=torch.float64)
    for view, theta in enumerate(angles.double()):
        for bin_, t in enumerate(offsets.double()):
            x = t * torch.cos(theta) - s * torch.sin(theta)
            y = t * torch.sin(theta) + s * torch.cos(theta)
            inside = ((x.abs() <= 1 + 1e-9) & (y.abs() <= 1 + 1e-9)).double().mean() * 2
            assert chords[view, bin_].item() == pytest.approx(inside.item(), abs=1e-4), (view, bin_)
    # every point of bin t lies at offset t along (cos, sin) in (x, y); points are (y, x)
    normal = torch.tensor([math.sin(0.3), math.cos(0.3)], dtype=torch.float64)
    torch.testing.assert_close(points[1, 3] @ normal, torch.full((16,), 0.7, dtype=torch.float64))
    with pytest.raises(InputError, match="at least 1 sample"):
        segment_samples(points[0, 0], points[0, 0], lengths[0, 0], lengths[0, 0], 0)


def test_a_network_that_is_the_truth_has_zero_loss_and_zero_residual():
    data = CTDataModule(size=33, views=6, phantom_seed=1, baseline_steps=0)
    data.provide(("ray_lengths", "projections"), ("ray_points", "ray_lengths", "projections"))
    field = data.slice.double()[..., None]
    truth = lambda coords: grids.interpolate(field, coords.double())  # noqa: E731
    batch = data.sample(torch.device("cpu"), step=0, rank=0)
    assert batch["coords"].shape == (6 * 33, 33, 2)
    step = Step(batch["coords"], truth(batch["coords"]), {key: value.double() for key, value in batch.items()})
    assert LineIntegralLoss()(step).item() < 1e-12
    wrong = Step(batch["coords"], truth(batch["coords"]) + 0.01, batch)
    assert LineIntegralLoss()(wrong).item() > 1e-6

    validation = data.validation_batch(torch.device("cpu"))
    metric = ProjectionResidual()
    metric.update(Evaluation(spec=data.signal_spec, batch=validation, prediction=validation["values"], predict=truth))
    assert metric.compute()["projection_rmse"].item() < 1e-6  # float32 projections of a float64 operator


def test_filtered_back_projection_of_many_views_recovers_the_phantom():
    """With 180 views FBP is close to the truth: the angle and bin conventions of the operator and iradon agree."""
    size = 65
    data = CTDataModule(size=size, views=180, phantom_seed=2, baseline_steps=0)
    views = data.projections.reshape(180, size)
    fbp = filtered_back_projection(views, data.angles, size)
    psnr = -10 * math.log10(float((fbp.clamp(0, 1) - data.slice).square().mean()))
    assert psnr > 22
    flipped = filtered_back_projection(views, -data.angles, size)  # the other rotation sense is wrong
    assert -10 * math.log10(float((flipped.clamp(0, 1) - data.slice).square().mean())) < psnr - 5


def test_phantoms_are_perturbed_per_seed_and_clipped():
    standard, one, again, other = (shepp_logan_phantom(32, seed) for seed in (None, 1, 1, 2))
    assert np.array_equal(one, again) and not np.array_equal(one, other) and not np.array_equal(one, standard)
    assert one.min() >= 0 and one.max() <= 1 and standard.max() == pytest.approx(1.0)


@pytest.mark.parametrize("options, message", [
    ({"views": 0}, "data views must be >= 1 projection angle, got 0"),
    ({"angles": [0.0, 3.5]}, "data angles must lie in [0, pi) radians (parallel beams repeat after pi), got [3.5]"),
    ({"angles": []}, "data angles is empty"),
    ({"size": 1}, "data size must be >= 2 pixels, got 1"),
    ({"baseline_steps": -1}, "data baseline_steps must be >= 0"),
])
def test_bad_scans_are_refused_naming_the_option(options, message):
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        CTDataModule(**{"size": 16, **options})


def test_a_slice_that_is_not_square_is_refused(rgb_png):
    with pytest.raises(InputError, match=r"rgb.png is 16 x 12 pixels: a slice is square"):
        CTDataModule(str(rgb_png), size=16)


def test_a_ct_fit_learns_the_slice_from_projections_and_reports_fbp_in_the_same_run(tmp_path, capsys):
    from inr.cli import build_cli

    fit = ["--config", "configs/ct/shepp_gaussian.yaml", "--data.size", "32", "--data.views", "10",
           "--data.baseline_steps", "50", "--data.batch_size", "64", "--trainer.max_steps", "60",
           "--trainer.val_check_interval", "30", "--trainer.default_root_dir", str(tmp_path),
           "--trainer.enable_progress_bar", "false", "--trainer.logger", "false",
           "--model.network.init_args.hidden", "64"]
    cli = run_fit(fit)
    assert cli.trainer.global_step == 60
    capsys.readouterr()
    last = next(tmp_path.glob("**/last.ckpt"))
    build_cli(["validate", *fit, "--ckpt_path", str(last)])
    rows = {line.split()[0]: float(line.split()[1]) for line in capsys.readouterr().out.splitlines()
            if line.startswith("val/")}
    assert rows["val/projection_rmse"] < 0.05
    for name in ("fbp", "grid"):
        assert 5 < rows[f"val/baseline/{name}/psnr"] < 60 and f"val/baseline/{name}/projection_rmse" in rows
    module = cli.model
    truth = CTDataModule(size=32, views=10, phantom_seed=8, baseline_steps=0).slice
    blank = -10 * math.log10(float(truth.square().mean()))
    assert rows["val/psnr"] > blank + 3  # 60 steps of 64 rays: 20.9 dB; the all-zero slice 17.4 dB

    out = tmp_path / "slice.png"
    from inr.commands.render import main as render

    render([str(last), "--out", str(out)])
    import imageio.v3 as iio

    pixels = iio.imread(out)
    assert pixels.shape == (32, 32)
    with torch.no_grad():
        expected = module.predict_values(grids.grid((32, 32))).clamp(0, 1).reshape(32, 32).numpy() * 255
    assert np.abs(pixels.astype(float) - expected).max() <= 1.0


def test_measured_projections_fit_without_a_truth_and_bad_sinograms_are_refused(tmp_path):
    scan = CTDataModule(size=16, views=6, phantom_seed=4, baseline_steps=0)
    np.save(tmp_path / "sinogram.npy", scan.projections.numpy())
    measured = CTDataModule(sinogram=str(tmp_path / "sinogram.npy"), size=16, views=6, baseline_steps=0)
    assert measured.slice is None and torch.equal(measured.projections, scan.projections)
    assert measured.signal_spec.meta["truth"] is False
    torch.testing.assert_close(measured.baselines()["fbp"], scan.baselines()["fbp"])
    cli = run_fit(["--config", "configs/ct/shepp_gaussian.yaml", "--data.sinogram", str(tmp_path / "sinogram.npy"),
                   "--data.size", "16", "--data.views", "6", "--data.baseline_steps", "0", "--trainer.max_steps", "4",
                   "--trainer.val_check_interval", "4", "--checkpoint.monitor", "val/projection_rmse",
                   "--checkpoint.mode", "min", "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
                   "--trainer.default_root_dir", str(tmp_path / "run"), "--model.network.init_args.hidden", "16"])
    assert set(cli.model.validation_report) == {"val/projection_rmse", "val/baseline/fbp/projection_rmse"}

    np.save(tmp_path / "short.npy", scan.projections.numpy()[:5])
    with pytest.raises(InputError, match=r"short.npy has shape \[5, 16\], but the scan has 6 angles .* \[6, 16\]"):
        CTDataModule(sinogram=str(tmp_path / "short.npy"), size=16, views=6)
    bad = scan.projections.numpy().copy()
    bad[2, 3] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(InputError, match="nan.npy holds NaN or infinite values"):
        CTDataModule(sinogram=str(tmp_path / "nan.npy"), size=16, views=6)
    with pytest.raises(InputError, match="data path .* and data sinogram .* exclude each other"):
        CTDataModule(str(tmp_path / "nan.npy"), sinogram=str(tmp_path / "nan.npy"), size=16, views=6)


def _ct_fit(data: list[str], root, seed: int):
    """30 float64 steps of a small Gaussian-feature CT fit on 24^2; returns the CLI object."""
    return small_float64_fit("configs/ct/shepp_gaussian.yaml", data, root, seed, 30, [
        "--data.size", "24", "--data.samples", "24", "--data.baseline_steps", "20", "--data.batch_size", "32",
        "--model.encoder.init_args.mapping_size", "16"])


@pytest.mark.slow
def test_a_batched_fit_of_two_phantoms_equals_two_single_fits_with_each_ones_baselines(tmp_path):
    folder = ["--data", "CTFolderDataModule", "--data.phantom_seeds", "[3, 5]"]
    batched = _ct_fit(folder, tmp_path / "batched", 7)
    assert batched.model.signal.members == 2 and "seeds 3, 5" in batched.model.signal.source
    pieces = _ct_fit([*folder, "--model.chunk_size", "100"], tmp_path / "pieces", 7)  # 4 whole rays of 24 samples
    for name, value in pieces.model.state_dict().items():
        torch.testing.assert_close(value, batched.model.state_dict()[name], rtol=0, atol=EQUIVALENT_ATOL, msg=name)
    singles = [_ct_fit(["--data.phantom_seed", str(phantom)], tmp_path / f"single{index}", 7 + index)
               for index, phantom in enumerate((3, 5))]
    assert_members_are_single_fits(batched, singles, ("psnr",))
    report = batched.model.validation_report
    for key in ("val/baseline/fbp/psnr", "val/baseline/grid/psnr", "val/baseline/fbp/projection_rmse"):
        mean = np.mean([single.model.validation_report[key] for single in singles])
        assert report[key] == pytest.approx(mean, rel=1e-4), key
    assert singles[0].model.validation_report["val/baseline/fbp/psnr"] != pytest.approx(
        singles[1].model.validation_report["val/baseline/fbp/psnr"], abs=0.01)  # two phantoms, two baselines


def test_a_ct_folder_needs_a_path_or_seeds_but_not_both(tmp_path):
    from datamodules.ct_folder import CTFolderDataModule

    for options in ({}, {"path": str(tmp_path), "phantom_seeds": [1]}):
        with pytest.raises(InputError, match="data path .* or data phantom_seeds .* exactly one of them"):
            CTFolderDataModule(**options)
    with pytest.raises(InputError, match="phantom_seeds is empty"):
        CTFolderDataModule(phantom_seeds=[])
