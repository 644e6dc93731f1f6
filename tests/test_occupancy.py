"""3D occupancy: the inside test, the labelled points, the loss, IoU, a fit and its mesh render."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh
from conftest import SHARED_DATA, assert_members_are_single_fits, run_fit, small_float64_fit

from datamodules.occupancy import OccupancyDataModule
from inr.core.errors import InputError
from inr.core.evaluation import Evaluation
from inr.core.mesh import inside_closed_mesh, inside_oriented_cloud
from inr.core.step import Step
from inr.losses.measurements import OccupancyLoss
from inr.metrics import OccupancyIoU


def _winding_numbers(mesh: trimesh.Trimesh, points: np.ndarray) -> np.ndarray:
    """The generalised winding number (solid angles over 4 pi, Van Oosterom & Strackee): the slow exact reference."""
    a, b, c = (mesh.vertices[mesh.faces][None, :, corner] - points[:, None] for corner in range(3))
    la, lb, lc = (np.linalg.norm(side, axis=-1) for side in (a, b, c))
    det = np.einsum("pfi,pfi->pf", a, np.cross(b, c))
    denominator = la * lb * lc + np.einsum("pfi,pfi->pf", a, b) * lc + np.einsum("pfi,pfi->pf", b, c) * la \
        + np.einsum("pfi,pfi->pf", c, a) * lb
    return 2 * np.arctan2(det, denominator).sum(axis=-1) / (4 * np.pi)


def test_the_inside_test_is_the_winding_number_of_closed_meshes():
    generator = np.random.default_rng(0)
    sphere = trimesh.creation.icosphere(subdivisions=2, radius=0.7)
    torus = trimesh.creation.torus(major_radius=0.6, minor_radius=0.2)
    for mesh in (sphere, torus):
        points = generator.uniform(-1, 1, (1500, 3))
        assert np.array_equal(inside_closed_mesh(mesh.vertices, mesh.faces, points),
                              _winding_numbers(mesh, points) > 0.5)
    radius = np.linalg.norm(generator.uniform(-1, 1, (4000, 3)), axis=1)
    assert 0.1 < (radius < 0.6).mean() < 0.2  # a sanity scale for the next line: the sphere holds that share
    points = generator.uniform(-1, 1, (4000, 3))
    share = inside_closed_mesh(sphere.vertices, sphere.faces, points).mean()
    assert share == pytest.approx(sphere.volume / 8, abs=0.02)


@pytest.mark.skipif(not (SHARED_DATA / "cow.obj").is_file(), reason="needs ../shared/data/cow.obj")
def test_a_shared_mesh_is_labelled_as_its_winding_number_says():
    data = OccupancyDataModule(str(SHARED_DATA / "cow.obj"), points=400, val_points=200, seed=0)
    labels = data.train_labels[:, 0].numpy() > 0.5
    assert np.array_equal(labels, _winding_numbers(data.mesh, data.train_points.double().numpy()) > 0.5)
    assert 0.02 < data.val_uniform_labels.mean() < 0.6 and 0.3 < data.val_near_labels.mean() < 0.7


def test_the_loss_and_iou_of_the_truth():
    data = OccupancyDataModule(points=2000, val_points=1000, seed=0)
    labels = data.train_labels
    confident = (labels * 2 - 1) * 20  # logits of the truth
    assert OccupancyLoss()(Step(data.train_points, confident, {"values": labels})).item() < 1e-8
    assert OccupancyLoss()(Step(data.train_points, -confident, {"values": labels})).item() > 10
    batch = data.validation_batch(torch.device("cpu"))
    truth = lambda coords: torch.from_numpy(  # noqa: E731
        inside_closed_mesh(data.mesh.vertices, data.mesh.faces, coords.double().numpy()).astype(np.float32) * 2 - 1
    )[:, None]
    metric = OccupancyIoU()
    metric.update(Evaluation(spec=data.signal_spec, batch=batch, prediction=batch["values"] * 2 - 1, predict=truth))
    assert {key: value.item() for key, value in metric.compute().items()} == {"iou": 1.0, "iou_boundary": 1.0}
    metric.reset()
    metric.update(Evaluation(spec=data.signal_spec, batch=batch, prediction=-torch.ones_like(batch["values"]),
                             predict=lambda coords: torch.ones(len(coords), 1)))
    values = metric.compute()
    assert values["iou"].item() == 0.0 and values["iou_boundary"].item() == pytest.approx(
        batch["boundary_labels"].mean().item())  # everything inside: IoU = the inside share


def test_fresh_points_are_new_labelled_points_every_step_and_the_same_for_the_same_step():
    data = OccupancyDataModule(points=2000, val_points=500, batch_size=600, fresh_points=True, seed=3)
    cpu = torch.device("cpu")
    first, again, second = data.sample(cpu, 5, 0), data.sample(cpu, 5, 0), data.sample(cpu, 6, 0)
    assert torch.equal(first["coords"], again["coords"]) and torch.equal(first["values"], again["values"])
    assert first["coords"].shape == (600, 3) and first["values"].shape == (600, 1)
    pool = {tuple(point) for point in data.train_points.tolist()}
    assert not pool & {tuple(point) for point in first["coords"].tolist()}  # not drawn from the pool
    assert not torch.isclose(first["coords"][:, None], second["coords"][None]).all(-1).any()
    inside = inside_closed_mesh(data.mesh.vertices, data.mesh.faces, first["coords"].double().numpy())
    assert np.array_equal(first["values"][:, 0].numpy() > 0.5, inside)
    assert 0.3 < first["values"][300:].mean() < 0.7  # the second half lie near the surface: about half inside
    with pytest.raises(InputError, match="fresh_points needs a batch_size"):
        OccupancyDataModule(points=100, val_points=50, batch_size=None, fresh_points=True)


def test_open_meshes_are_refused_with_what_to_do(tmp_path):
    open_box = trimesh.creation.box()
    open_box.faces = open_box.faces[:-2]
    open_box.export(tmp_path / "open.obj")
    with pytest.raises(InputError, match="open.obj is not a closed mesh .* close it .* oriented point cloud"):
        OccupancyDataModule(str(tmp_path / "open.obj"), points=10, val_points=10)


def test_inside_an_oriented_cloud_is_inside_its_surface_away_from_the_sampling_spacing():
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=0.7)  # 2562 points, spacing ~0.03
    queries = np.random.default_rng(1).uniform(-1, 1, (20000, 3))
    inside = inside_oriented_cloud(sphere.vertices, sphere.vertex_normals, queries)
    radius = np.linalg.norm(queries, axis=1)
    clear = np.abs(radius - 0.7) > 0.02
    assert np.array_equal(inside[clear], radius[clear] < 0.7)
    assert (inside == (radius < 0.7)).mean() > 0.998
    assert not inside_oriented_cloud(sphere.vertices, -sphere.vertex_normals, queries[clear & (radius < 0.6)]).any()


def test_an_oriented_cloud_is_labelled_as_the_mesh_it_samples(tmp_path):
    torus = trimesh.creation.torus(major_radius=0.6, minor_radius=0.25, major_sections=64, minor_sections=32)
    torus.export(tmp_path / "torus.obj")
    points, faces = trimesh.sample.sample_surface_even(torus, 20000, seed=0)
    np.savetxt(tmp_path / "torus.xyz", np.hstack([points, torus.face_normals[faces]]))
    cloud = OccupancyDataModule(str(tmp_path / "torus.xyz"), points=4000, val_points=2000, seed=0)
    assert cloud.mesh is None and cloud.signal_spec.source.endswith("torus.xyz")
    mesh = OccupancyDataModule(str(tmp_path / "torus.obj"), points=10, val_points=10, seed=0)
    for queries, labels in ((cloud.val_uniform, cloud.val_uniform_labels), (cloud.val_near, cloud.val_near_labels)):
        truth = inside_closed_mesh(mesh.mesh.vertices, mesh.mesh.faces, queries.double().numpy())
        assert (truth == (labels[:, 0].numpy() > 0.5)).mean() > 0.98
    # uniform points in the shape's bounding box (the paper's), grown by 2 near_sigma: the torus fills 40 % of it
    assert 0.3 < cloud.val_uniform_labels.mean() < 0.5 and 0.3 < cloud.val_near_labels.mean() < 0.7
    extent = np.ptp(cloud.cloud, axis=0)
    assert np.allclose(cloud.high - cloud.low, extent + 0.08) and (cloud.val_uniform.numpy() >= cloud.low - 1e-6).all()
    cube = OccupancyDataModule(str(tmp_path / "torus.xyz"), points=10, val_points=2000, uniform_in="cube", seed=0)
    assert cube.val_uniform.abs().max() > 0.95 and cube.val_uniform_labels.mean() < 0.15
    with pytest.raises(InputError, match="uniform_in must be box .* or cube .*, got 'sphere'"):
        OccupancyDataModule(str(tmp_path / "torus.xyz"), points=10, val_points=10, uniform_in="sphere")


def test_an_occupancy_fit_reaches_a_high_iou_and_renders_its_mesh(tmp_path, capsys):
    from inr.commands.render import main as render

    fit = ["--config", "configs/occupancy/relu_gaussian.yaml", "--data.points", "20000", "--data.val_points",
           "4000", "--data.batch_size", "4096", "--trainer.max_steps", "200", "--trainer.val_check_interval", "200",
           "--trainer.default_root_dir", str(tmp_path), "--trainer.enable_progress_bar", "false",
           "--trainer.logger", "false", "--model.network.init_args.hidden", "64",
           "--model.network.init_args.layers", "2", "--model.encoder.init_args.sigma", "4",
           "--model.optimizer.init_args.lr", "2e-3"]  # a small net on 20k points: sigma 12 overfits them
    cli = run_fit(fit)
    report = cli.model.validation_report
    assert report["val/iou"] > 0.8 and 0 < report["val/iou_boundary"] < report["val/iou"] + 0.1
    last = next(tmp_path.glob("**/last.ckpt"))
    render([str(last), "--out", str(tmp_path / "shape.ply"), "--resolution", "48"])
    mesh = trimesh.load(tmp_path / "shape.ply")
    assert len(mesh.faces) > 100
    data = cli.datamodule  # the mesh is written in the shape's original coordinates
    assert np.allclose(mesh.bounds, np.asarray(data.mesh.bounds) * data.scale + data.center, atol=0.15 * data.scale)


def _occupancy_fit(data: list[str], root, seed: int):
    """20 float64 steps of a small occupancy fit; returns the CLI object."""
    return small_float64_fit("configs/occupancy/relu_gaussian.yaml", data, root, seed, 20, [
        "--data.points", "2000", "--data.val_points", "500", "--data.batch_size", "256",
        "--model.encoder.init_args.mapping_size", "16"])


@pytest.mark.slow
def test_a_batched_fit_of_a_mesh_and_a_cloud_equals_two_single_fits(tmp_path):
    folder = tmp_path / "shapes"
    folder.mkdir()
    trimesh.creation.box(extents=(1.0, 0.6, 0.4)).export(folder / "a_box.obj")
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.5)
    np.savetxt(folder / "b_sphere.xyz", np.hstack([sphere.vertices + 0.3, sphere.vertex_normals]))
    files = sorted(folder.iterdir())
    batched = _occupancy_fit(["--data", "OccupancyFolderDataModule", "--data.path", str(folder)], tmp_path / "b", 7)
    singles = [_occupancy_fit(["--data.path", str(file)], tmp_path / f"single{index}", 7 + index)
               for index, file in enumerate(files)]
    assert_members_are_single_fits(batched, singles, ("iou", "iou_boundary"), abs_tol=1e-6)
    spec = batched.model.signal
    assert spec.member(0).meta["center"] != spec.member(1).meta["center"]  # each shape keeps its own transform
