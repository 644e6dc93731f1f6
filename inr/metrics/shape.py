"""Shape metrics: Chamfer distance and normal consistency of the zero level set against the reference surface."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from inr.core.errors import InputError
from inr.core.evaluation import Evaluation
from inr.metrics.base import MeanOverEvaluations, SignalMetric


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



class OccupancyIoU(MeanOverEvaluations):
    """Intersection over union of the predicted inside (logit > 0) and the true inside, as Occupancy Networks report it.

    ``iou``: on the validation batch's uniform points (``coords``, labels ``values``); ``iou_boundary``: on its
    near-surface points (``boundary_points``, ``boundary_labels``), where the decision is hard.
    """

    names = ("iou", "iou_boundary")
    higher_is_better = True
    targets = ("values", "boundary_points", "boundary_labels")

    def __init__(self) -> None:
        super().__init__()
        self.add_state("boundary_total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, evaluation: Evaluation) -> None:
        """The IoU of both point sets of this evaluation."""
        self.add(intersection_over_union(evaluation.prediction > 0, evaluation.target("values") > 0.5))
        boundary = evaluation.predict(evaluation.target("boundary_points"))
        self.boundary_total += intersection_over_union(boundary > 0, evaluation.target("boundary_labels") > 0.5)

    def compute(self) -> dict[str, Tensor]:
        """``{"iou": mean, "iou_boundary": mean}`` over evaluations."""
        count = max(int(self.count), 1)
        return {"iou": (self.total / count).float(), "iou_boundary": (self.boundary_total / count).float()}


def intersection_over_union(predicted: Tensor, truth: Tensor) -> Tensor:
    """|predicted and truth| / |predicted or truth| of two boolean masks (1 when both are empty), float64."""
    union = (predicted | truth).sum().double()
    return (predicted & truth).sum().double() / union if union > 0 else torch.tensor(1.0, dtype=torch.float64)
