"""3D occupancy: a shape as f(x, y, z) -> logit of "inside" (Tancik et al. 2020, Table 1 "3D shape occupancy").

A closed mesh (or the generated torus and rod) or an oriented point cloud, normalised into the cube as
:class:`datamodules.pointcloud.PointCloudDataModule` normalises it, is labelled at points: uniform in its bounding
box (or in [-1, 1]^3), and near its surface (surface points, area-uniform on a mesh or drawn from the cloud, moved
by N(0, ``near_sigma``^2) per axis). Inside a mesh is its winding number along a ray
(:func:`inr.core.mesh.inside_closed_mesh`); inside a cloud, the vote of the nearest oriented points
(:func:`inr.core.mesh.inside_oriented_cloud`). A pool of labelled points is drawn once and each training step draws
``batch_size`` of them; or, with ``fresh_points``, each step labels ``batch_size`` points of its own, drawn from a
generator seeded by (seed, step, rank), as the paper trains (32^3 fresh points per step in the bounding box); validation
has its own uniform and near-surface points, the paper's "uniform" and
"boundary" sets (:class:`inr.metrics.OccupancyIoU`). The surface is the 0.5 level set (logit 0).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from datamodules.base import SignalDataModule, sampling_seed
from datamodules.pointcloud import PointCloudDataModule, default_shape, normalising_transform, read_shape
from inr.core.errors import InputError
from inr.core.evaluation import Evaluation
from inr.core.media import Media, Shape
from inr.core.mesh import extract_mesh, inside_closed_mesh, inside_oriented_cloud, sample_surface
from inr.core.signal import SignalSpec

#: grid points per axis of the validation mesh (marching cubes at 0.5).
MEDIA_RESOLUTION = 64


class OccupancyDataModule(SignalDataModule):
    """A closed shape's inside (a mesh or an oriented point cloud), as labelled points; the network gives its logit.

    Args:
        path: a closed mesh (OBJ/PLY/OFF/STL/GLB/GLTF) or an oriented point cloud (``.xyz``/``.pts`` text or a PLY
            with normals, as SDF fitting reads them); ``None`` uses a generated torus with a thin rod through it.
        points: labelled training points drawn once, half uniform and half near the surface.
        val_points: validation points of each kind (uniform, near-surface), drawn apart from the training ones.
        near_sigma: standard deviation of the near-surface points' offset per axis, in the [-1, 1] cube (the paper's
            boundary points: 0.01 in its [0, 1] cube, 0.02 here).
        scale_to: half-size of the box the shape's longest side is scaled into.
        uniform_in: where the uniform points lie: ``box``, the shape's bounding box (grown by 2 ``near_sigma``), as
            the paper samples them; or ``cube``, all of [-1, 1]^3 (mostly empty space around a thin shape).
        batch_size: points per training step (the paper: 32^3 = 32768); ``None`` uses every point of the pool.
        fresh_points: label new points for every step (half uniform, half near the surface) instead of drawing
            them from the pool: no point is seen twice, so the network cannot fit a finite sample's gaps.
        seed: seed of the points and of the batch sampler; ``None`` takes the run's ``seed_everything``.
    """

    kind = "occupancy"
    available_targets = ("values", "boundary_points", "boundary_labels")

    def __init__(self, path: str | None = None, points: int = 200_000, val_points: int = 20_000,
                 near_sigma: float = 0.02, scale_to: float = 0.9, uniform_in: str = "box",
                 batch_size: int | None = 32768, fresh_points: bool = False, seed: int | None = None) -> None:
        super().__init__(batch_size=batch_size, seed=seed)
        for option, value in (("points", points), ("val_points", val_points)):
            if value < 2:
                raise InputError(f"data {option} must be >= 2, got {value}")
        if uniform_in not in ("box", "cube"):
            raise InputError(f"data uniform_in must be box (the shape's bounding box) or cube ([-1, 1]^3), got "
                             f"{uniform_in!r}")
        if not near_sigma > 0 or not 0 < scale_to <= 1:
            raise InputError(f"data near_sigma must be > 0 and scale_to in (0, 1], got {near_sigma}, {scale_to}")
        if fresh_points and batch_size is None:
            raise InputError("data fresh_points needs a batch_size (the points labelled per step); it is None")
        self.path, self.scale_to, self.near_sigma, self.fresh_points = path, scale_to, near_sigma, fresh_points
        mesh, cloud, normals = (default_shape(), None, None) if path is None else read_shape(path)
        if mesh is not None and not mesh.is_watertight:
            raise InputError(f"{path} is not a closed mesh (it has holes or open edges): occupancy needs an inside; "
                             "close it (e.g. trimesh.repair.fill_holes), give an oriented point cloud of it, or fit "
                             "a signed distance to it (configs/sdf_siren.yaml)")
        center, self.scale = normalising_transform(np.asarray(mesh.vertices if mesh is not None else cloud), scale_to)
        self.center = center.tolist()
        self.mesh, self.cloud, self.normals = None, None, None
        if mesh is not None:
            self.mesh = mesh.copy()
            self.mesh.vertices = (np.asarray(mesh.vertices) - center) / self.scale
        else:
            self.cloud = (cloud - center) / self.scale
            self.normals = normals / np.linalg.norm(normals, axis=1, keepdims=True)
        shape = self.mesh.vertices if self.mesh is not None else self.cloud
        if uniform_in == "box":  # the shape's bounding box, as the paper samples, with near_sigma's margin
            self.low = np.maximum(np.asarray(shape).min(axis=0) - 2 * near_sigma, -1.0)
            self.high = np.minimum(np.asarray(shape).max(axis=0) + 2 * near_sigma, 1.0)
        else:
            self.low, self.high = -np.ones(3), np.ones(3)
        generator = np.random.default_rng(self.seed)
        self.train_points, self.train_labels = self._labelled(points // 2, points - points // 2, near_sigma, generator)
        self.val_uniform, self.val_uniform_labels = self._labelled(val_points, 0, near_sigma, generator)
        self.val_near, self.val_near_labels = self._labelled(0, val_points, near_sigma, generator)

    def _labelled(self, uniform: int, near: int, sigma: float, generator: np.random.Generator) -> tuple[Tensor, Tensor]:
        """``uniform`` points in the cube and ``near`` near-surface points, with their labels: ([n, 3], [n, 1])."""
        surface = np.zeros((0, 3))
        if near and self.mesh is not None:
            surface, _ = sample_surface(self.mesh, near, seed=int(generator.integers(2**31)))
        elif near:
            surface = self.cloud[generator.integers(len(self.cloud), size=near)]
        points = np.concatenate([generator.uniform(self.low, self.high, (uniform, 3)),
                                 surface + generator.normal(0, sigma, surface.shape)])
        if self.mesh is not None:
            labels = inside_closed_mesh(self.mesh.vertices, self.mesh.faces, points)
        else:
            labels = inside_oriented_cloud(self.cloud, self.normals, points)
        return torch.from_numpy(points).float(), torch.from_numpy(labels.astype(np.float32))[:, None]

    def sample(self, device: torch.device, step: int, rank: int) -> dict[str, Tensor]:
        """A training batch: ``batch_size`` points of the pool, or (``fresh_points``) newly labelled ones."""
        if not self.fresh_points:
            return super().sample(device, step, rank)
        generator = np.random.default_rng(sampling_seed(self.seed, step, rank))
        near = self.batch_size // 2
        points, labels = self._labelled(self.batch_size - near, near, self.near_sigma, generator)
        return {"coords": points.to(device), "values": labels.to(device)}

    def signal_tensors(self) -> dict[str, Tensor]:
        """The training pool: ``coords [n, 3]`` and inside labels ``values [n, 1]``."""
        return {"coords": self.train_points, "values": self.train_labels}

    def validation_batch(self, device: torch.device) -> dict[str, Tensor]:
        """Uniform points (``coords``, ``values``), near-surface ones (``boundary_points``, ``boundary_labels``)."""
        return {"coords": self.val_uniform.to(device), "values": self.val_uniform_labels.to(device),
                "boundary_points": self.val_near.to(device), "boundary_labels": self.val_near_labels.to(device)}

    @property
    def signal_spec(self) -> SignalSpec:
        """The normalising transform (``center``, ``scale``: original = normalised * scale + center)."""
        return self.spec(3, 1, source=self.path or "generated torus and rod", value_range=(0.0, 1.0),
                         meta={"center": self.center, "scale": self.scale})

    def media(self, evaluation: Evaluation, extra: dict[str, Tensor]) -> list[Media]:
        """The occupancy's 0.5 level set (marching cubes on a 64^3 grid), in the normalised cube."""
        mesh = extract_mesh(lambda coords: -evaluation.predict(coords), MEDIA_RESOLUTION)
        return [Shape("val/mesh", mesh)] if len(mesh.faces) else []

    @staticmethod
    def render_to_file(predict: Callable[[Tensor], Tensor], spec: SignalSpec, out: str, resolution: int | None) -> str:
        """The 0.5 level set as a mesh file in the shape's original coordinates (as an SDF's zero level set)."""
        return PointCloudDataModule.render_to_file(lambda coords: -predict(coords), spec, out, resolution)
