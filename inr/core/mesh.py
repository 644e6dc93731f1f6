"""Meshes from signed distance functions, and how close two surfaces are.

Extraction evaluates the SDF on a regular grid over [-1, 1]^3 slab by slab and runs marching cubes
(Lorensen & Cline 1987; scikit-image's Lewiner et al. 2003 variant) on each slab, so memory is bounded by the
slab (``slab_points`` grid values plus the network's own chunk), never by the grid: a 512^3 grid works on a
laptop. Adjacent slabs share one plane of values; their vertices on that plane are computed in integer grid
units from the same two values, so they coincide exactly and are welded.

Metrics follow Occupancy Networks (Mescheder et al. 2019): points sampled on both surfaces, Chamfer distance =
mean of the two mean nearest-neighbour distances (not squared), normal consistency = mean |cos| between each
point's normal and its nearest neighbour's, averaged over both directions (orientation-free, in [0, 1]).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import trimesh
from torch import Tensor

from inr.core import grids
from inr.core.errors import InputError

#: ``predict(coords [n, 3]) -> sdf [n, 1]`` in the normalised cube.
Predict = Callable[[Tensor], Tensor]

#: grid values evaluated (and held) per slab: 2^22 floats = 16 MiB, a few planes of a 512^3 grid.
SLAB_POINTS = 2**22


def grid_axis(resolution: int) -> Tensor:
    """The ``resolution`` sample positions along each axis of the grid, ``linspace(-1, 1)`` [R]."""
    if resolution < 2:
        raise InputError(f"grid resolution must be >= 2 points per axis, got {resolution}")
    return grids.axis(resolution)


def evaluate_planes(predict: Predict, axis: Tensor, start: int, stop: int) -> np.ndarray:
    """SDF on the planes ``x = axis[start:stop]`` of the grid, float32 [stop - start, R, R] (x, y, z order)."""
    coords = grids.product(axis[start:stop], axis, axis)
    values = predict(coords).detach().float().cpu().reshape(stop - start, len(axis), len(axis))
    return values.numpy()


def extract_mesh(
    predict: Predict, resolution: int, level: float = 0.0, slab_points: int = SLAB_POINTS, progress: bool = False
) -> trimesh.Trimesh:
    """Zero level set of ``predict`` on a ``resolution``^3 grid over [-1, 1]^3, as a mesh in the normalised cube.

    Args:
        predict: the SDF, coords [n, 3] -> [n, 1] (it may chunk further; it is called once per slab).
        resolution: grid points per axis (grid spacing 2 / (resolution - 1)).
        level: iso-value extracted.
        slab_points: most grid values evaluated and held at once (at least two planes).
        progress: show a tqdm bar over the slabs.

    Returns:
        The mesh (faces oriented so normals point towards increasing SDF, i.e. outwards); empty when the SDF has
        no ``level`` crossing on the grid.
    """
    from skimage.measure import marching_cubes
    from tqdm.auto import tqdm

    axis = grid_axis(resolution)
    planes = max(2, slab_points // resolution**2)
    vertices, faces, count = [], [], 0
    carried: np.ndarray | None = None  # the last plane of the previous slab, shared with this one
    starts = range(0, resolution - 1, planes - 1)
    for start in tqdm(starts, desc=f"SDF grid {resolution}^3", unit="slab", disable=not progress):
        stop = min(start + planes, resolution)
        if carried is None:
            values = evaluate_planes(predict, axis, start, stop)
        else:
            values = np.concatenate([carried, evaluate_planes(predict, axis, start + 1, stop)])
        carried = values[-1:]
        if not values.min() <= level <= values.max():
            continue
        # scikit-image's default winding ("descent") puts the normals on the larger-SDF side: outwards, volume > 0.
        slab_vertices, slab_faces, _, _ = marching_cubes(values, level=level)
        slab_vertices[:, 0] += start  # integer grid units: shared-plane vertices of both slabs coincide exactly
        vertices.append(slab_vertices)
        faces.append(slab_faces + count)
        count += len(slab_vertices)
    if not faces:
        return trimesh.Trimesh()
    spacing = 2.0 / (resolution - 1)
    mesh = trimesh.Trimesh(np.concatenate(vertices), np.concatenate(faces), process=False)
    mesh.merge_vertices()
    mesh.update_faces(mesh.nondegenerate_faces())
    mesh.remove_unreferenced_vertices()
    mesh.vertices = mesh.vertices * spacing - 1.0
    return mesh


def to_original(mesh: trimesh.Trimesh, center: list[float] | np.ndarray, scale: float) -> trimesh.Trimesh:
    """Map a mesh from the normalised cube back to the input's coordinates: ``x * scale + center`` (a copy)."""
    original = mesh.copy()
    original.vertices = original.vertices * scale + np.asarray(center, dtype=np.float64)
    return original


def sample_surface(mesh: trimesh.Trimesh, count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``count`` area-uniform points on ``mesh`` [count, 3] and their face normals [count, 3]."""
    if len(mesh.faces) == 0:
        raise ValueError("cannot sample points on a mesh with no faces")
    points, face_index = trimesh.sample.sample_surface(mesh, count, seed=seed)
    return np.asarray(points, dtype=np.float64), np.asarray(mesh.face_normals[face_index], dtype=np.float64)


def nearest(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each ``source`` point [n, 3], the distance to its nearest ``target`` point [m, 3] and that point's index."""
    from scipy.spatial import cKDTree  # scipy is a dependency of scikit-image

    distance, index = cKDTree(target).query(source, k=1)
    return distance, index


def surface_metrics(
    points: np.ndarray, normals: np.ndarray, reference_points: np.ndarray, reference_normals: np.ndarray
) -> dict[str, float]:
    """Chamfer distance and normal consistency between two oriented point samples of surfaces.

    Args:
        points: points on the first surface [n, 3] (e.g. the extracted mesh), same units as the reference.
        normals: their unit normals [n, 3].
        reference_points: points on the second surface [m, 3] (e.g. the input).
        reference_normals: their unit normals [m, 3].

    Returns:
        ``chamfer``: (mean NN distance first -> second + mean second -> first) / 2, in the points' units;
        ``normal_consistency``: mean |cos| of the normals of nearest neighbours, both directions, in [0, 1].
    """
    forward, forward_index = nearest(points, reference_points)
    backward, backward_index = nearest(reference_points, points)
    cos_forward = np.abs(np.sum(normals * reference_normals[forward_index], axis=-1))
    cos_backward = np.abs(np.sum(reference_normals * normals[backward_index], axis=-1))
    return {
        "chamfer": float((forward.mean() + backward.mean()) / 2),
        "normal_consistency": float((cos_forward.mean() + cos_backward.mean()) / 2),
    }
