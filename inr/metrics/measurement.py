"""Metrics of a fit through a measurement: how far the fit's own measurements are from the measured ones."""

from __future__ import annotations

import torch

from inr.core.evaluation import Evaluation
from inr.core.kspace import grid_spectrum
from inr.core.rays import line_integrals
from inr.metrics.base import MeanOverEvaluations


class ProjectionResidual(MeanOverEvaluations):
    """Root mean square of the fit's line integrals minus the measured projections, over every ray of the scan.

    Known whatever the truth: the residual is what a reconstruction from projections alone can be judged by.
    The rays come from the validation batch (``ray_points [R, S, d]``, ``ray_lengths``, ``projections [R, c]``).
    """

    names = ("projection_rmse",)
    higher_is_better = False
    targets = ("ray_points", "ray_lengths", "projections")

    def update(self, evaluation: Evaluation) -> None:
        """The residual of this evaluation's representation (evaluated at the rays' sample points)."""
        points, lengths = evaluation.target("ray_points"), evaluation.target("ray_lengths")
        values = evaluation.predict(points.reshape(-1, points.shape[-1])).reshape(*points.shape[:-1], -1)
        residual = line_integrals(values.to(lengths.dtype), lengths) - evaluation.target("projections")
        self.add(torch.sqrt(residual.square().mean()))


class KSpaceResidual(MeanOverEvaluations):
    """Root mean square of |F(f) - y| over the measured k-space points (unitary FFT of the fit on the whole grid).

    The validation batch holds the grid (``coords``, in C order) and the measurement (``kspace [M, c, 2]``,
    ``kspace_index [M]``).
    """

    names = ("kspace_rmse",)
    higher_is_better = False
    targets = ("kspace", "kspace_index")

    def update(self, evaluation: Evaluation) -> None:
        """The residual of this evaluation's prediction on the grid."""
        spectrum = grid_spectrum(evaluation.prediction.float(), evaluation.spec.in_dim)
        measured = spectrum[..., evaluation.target("kspace_index"), :]
        residual = torch.view_as_real(measured) - evaluation.target("kspace")
        self.add(torch.sqrt(residual.square().sum(dim=-1).mean()))
