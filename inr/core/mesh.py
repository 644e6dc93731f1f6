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



def inside_closed_mesh(vertices: np.ndarray, faces: np.ndarray, points: np.ndarray, bins: int = 128) -> np.ndarray:
    """Whether each of ``points`` [P, 3] lies inside a closed, outward-oriented triangle mesh, [P] bool.

    The winding number along a +z ray: each face the ray crosses above the point counts +1 if it faces up (the ray
    leaves through it) and -1 if down; inside is a positive count. Parts that overlap add up, as the generalised
    winding number does. The triangles are binned by their xy bounding boxes on a ``bins`` x ``bins`` grid, so each
    point tests only those over its cell (a ray crosses a triangle only within its xy footprint). A ray through an
    edge or a vertex exactly, a set of measure zero, may count a crossing twice.
    """
    triangles = np.asarray(vertices, dtype=np.float64)[np.asarray(faces)]  # [F, 3, 3]
    points = np.asarray(points, dtype=np.float64)
    low = np.minimum(triangles[..., :2].min(axis=(0, 1)), points[:, :2].min(axis=0))
    size = np.maximum(triangles[..., :2].max(axis=(0, 1)), points[:, :2].max(axis=0)) - low
    scale = bins / np.maximum(size, 1e-12)
    first = np.clip(((triangles[..., :2].min(axis=1) - low) * scale).astype(np.int64), 0, bins - 1)  # [F, 2]
    last = np.clip(((triangles[..., :2].max(axis=1) - low) * scale).astype(np.int64), 0, bins - 1)
    # (cell, triangle) pairs, sorted by cell: the triangles over each cell
    spans = last - first + 1
    counts = spans[:, 0] * spans[:, 1]
    owner = np.repeat(np.arange(len(triangles)), counts)
    offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    cells = (first[owner, 0] + offset // spans[owner, 1]) * bins + first[owner, 1] + offset % spans[owner, 1]
    order = np.argsort(cells, kind="stable")
    cells, owner = cells[order], owner[order]
    starts = np.searchsorted(cells, np.arange(bins * bins))
    ends = np.searchsorted(cells, np.arange(bins * bins), side="right")
    cell = (np.clip(((points[:, :2] - low) * scale).astype(np.int64), 0, bins - 1) * [bins, 1]).sum(axis=1)
    # (point, candidate triangle) pairs
    number = ends[cell] - starts[cell]
    point = np.repeat(np.arange(len(points)), number)
    candidate = owner[np.repeat(starts[cell] - np.cumsum(number) + number, number) + np.arange(number.sum())]
    a, b, c = (triangles[candidate, corner] for corner in range(3))
    p = points[point]
    # barycentric coordinates of the point's xy in the triangle's xy projection
    v0, v1, v2 = b[:, :2] - a[:, :2], c[:, :2] - a[:, :2], p[:, :2] - a[:, :2]
    det = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / det
        v = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / det
        over = (det != 0) & (u >= 0) & (v >= 0) & (u + v <= 1)
        height = a[:, 2] + u * (b[:, 2] - a[:, 2]) + v * (c[:, 2] - a[:, 2])
    # each crossing above the point counts +1 where the ray leaves through the face (normal up), -1 where it enters
    signed = np.where(over & (height > p[:, 2]), np.sign(det), 0.0)
    return np.bincount(point, weights=signed, minlength=len(points)) > 0.5


def inside_oriented_cloud(points: np.ndarray, normals: np.ndarray, queries: np.ndarray,
                          neighbours: int = 8) -> np.ndarray:
    """Whether each of ``queries`` [P, 3] lies inside the surface an oriented point cloud samples, [P] bool.

    Each of the ``neighbours`` nearest cloud points p (outward normal n) votes inside when (q - p) . n < 0, i.e. q
    lies behind its tangent plane; inside is a majority. Exact for a convex shape's dense samples; near thin parts
    (closer than the cloud's spacing) the vote can err, where a mesh's winding number would not.
    """
    from scipy.spatial import cKDTree

    points, queries = np.asarray(points, dtype=np.float64), np.asarray(queries, dtype=np.float64)
    count = min(neighbours, len(points))
    _, index = cKDTree(points).query(queries, k=count)
    index = index.reshape(len(queries), count)
    behind = np.einsum("pki,pki->pk", queries[:, None] - points[index], np.asarray(normals, np.float64)[index]) < 0
    return behind.sum(axis=1) * 2 > count
