"""Mesh extraction (slabs, orientation, bounded memory) and surface metrics on analytic shapes."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
import torch
import trimesh

from inr.core.mesh import extract_mesh, sample_surface, surface_metrics, to_original


def sphere(radius: float = 0.5):
    return lambda coords: coords.norm(dim=-1, keepdim=True) - radius


def test_sphere_mesh_is_watertight_outward_with_the_right_area():
    mesh = extract_mesh(sphere(0.5), 64)
    assert mesh.is_watertight
    assert mesh.volume == pytest.approx(4 / 3 * math.pi * 0.5**3, rel=0.01)  # positive: normals point outwards
    assert mesh.area == pytest.approx(4 * math.pi * 0.25, rel=0.01)


def test_slabs_give_the_same_mesh_and_predict_sees_at_most_a_slab():
    sizes = []

    def predict(coords):
        sizes.append(len(coords))
        return sphere(0.6)(coords)

    whole = extract_mesh(sphere(0.6), 33)
    sliced = extract_mesh(predict, 33, slab_points=3 * 33**2)
    assert max(sizes) <= 3 * 33**2 and len(sizes) > 5
    assert sliced.is_watertight and len(sliced.faces) == len(whole.faces)
    assert sliced.area == pytest.approx(whole.area, rel=1e-6)


def test_no_crossing_gives_an_empty_mesh_and_bad_resolution_is_refused():
    assert len(extract_mesh(lambda coords: torch.ones(len(coords), 1), 8).faces) == 0
    with pytest.raises(ValueError, match="grid resolution must be >= 2"):
        extract_mesh(sphere(), 1)


@pytest.mark.slow
def test_512_grid_memory_is_bounded_by_the_slab():
    tracemalloc.start()
    mesh = extract_mesh(sphere(0.05), 512, slab_points=2**20)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert mesh.is_watertight
    assert peak < 64 * 2**20  # the full grid alone would be 512 MiB of float32


def test_metrics_on_known_point_sets():
    rng = np.random.default_rng(0)
    points = rng.uniform(-1, 1, (500, 3))
    normals = np.tile([0.0, 0.0, 1.0], (500, 1))
    same = surface_metrics(points, normals, points, -normals)  # orientation-free
    assert same == {"chamfer": 0.0, "normal_consistency": 1.0}
    shifted = surface_metrics(points[:1], normals[:1], points[:1] + [0.3, 0.4, 0], np.array([[1.0, 0, 0]]))
    assert shifted["chamfer"] == pytest.approx(0.5) and shifted["normal_consistency"] == pytest.approx(0.0)


def test_sampled_sphere_normals_and_transform_back():
    mesh = trimesh.creation.icosphere(3, radius=0.5)
    points, normals = sample_surface(mesh, 1000, seed=0)
    assert np.all(np.sum(points * normals, axis=1) > 0)
    moved = to_original(mesh, [1.0, 2.0, 3.0], 4.0)
    assert moved.vertices.mean(axis=0) == pytest.approx([1, 2, 3], abs=1e-6)
    assert moved.area == pytest.approx(mesh.area * 16)
    with pytest.raises(ValueError, match="no faces"):
        sample_surface(trimesh.Trimesh(), 10)
