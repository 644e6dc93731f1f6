"""Shape metrics: Chamfer distance and normal consistency of the zero level set against the reference surface."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from inr.core.errors import InputError
from inr.core.evaluation import Evaluation
from inr.metrics.base import SignalMetric


class SurfaceDistance(SignalMetric):
    """Chamfer distance and normal consistency between the zero level set and the reference surface.

    The mesh is extracted on a ``resolution``^3 grid (:func:`inr.core.mesh.extract_mesh`); as many points as the
    validation batch holds on the reference surface (``coords`` with ``normals``) are sampled on it
    (:func:`inr.core.mesh.surface_metrics`, in the normalised cube). Both values are NaN while the SDF has no zero
    level set in the cube. The mesh is kept in ``extras["mesh"]`` for media.

    Args:
        resolution: grid points per axis of the extracted mesh.
    """

    names = ("chamfer", "normal_consistency")
    targets = ("normals",)
    higher_is_better = {"chamfer": False, "normal_consistency": True}

    def __init__(self, resolution: int = 128) -> None:
        super().__init__()
        if resolution < 2:
            raise InputError(f"SurfaceDistance resolution must be >= 2, got {resolution}")
        self.resolution = resolution
        for name in self.names:
            self.add_state(name, default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, evaluation: Evaluation) -> None:
        """Extract the mesh and compare it with the reference points."""
        from inr.core.mesh import extract_mesh, sample_surface, surface_metrics

        mesh = extract_mesh(evaluation.predict, self.resolution)
        evaluation.extras["mesh"] = mesh
        reference = evaluation.target("coords").double().cpu().numpy()
        if len(mesh.faces) == 0:
            values = dict.fromkeys(self.names, math.nan)
        else:
            normals = evaluation.target("normals").double().cpu().numpy()
            values = surface_metrics(*sample_surface(mesh, len(reference), seed=0), reference, normals)
        for name in self.names:
            setattr(self, name, getattr(self, name) + values[name])
        self.count += 1

    def compute(self) -> dict[str, Tensor]:
        """``{chamfer, normal_consistency}``: means over the evaluations."""
        return {name: (getattr(self, name) / self.count.clamp(min=1)).float() for name in self.names}

