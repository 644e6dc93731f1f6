"""Losses through a measurement: the signal is never observed directly, only a forward model of it.

Line integrals (CT): the DataModule gives rays as sample points, batch ``coords [R, S, d]`` with each sample's
interval length ``ray_lengths [R, S]`` (:mod:`inr.core.rays`) and the measured ``projections [R, c]``; the loss
integrates the network along each ray (midpoint rule) and compares.
"""

from __future__ import annotations

from torch import Tensor

from inr.core.errors import InputError
from inr.core.rays import line_integrals
from inr.core.step import Step
from inr.losses import Loss


class LineIntegralLoss(Loss):
    """Mean squared error of the network's line integrals along the batch's rays against the measured projections.

    Args:
        weight: factor applied to this term in the total loss.
    """

    name = "projection"
    targets = ("ray_lengths", "projections")

    def forward(self, step: Step) -> Tensor:
        """Mean over rays and channels of (sum_s f(p_rs) l_rs - projection_r)^2 (units: value x coordinate units)."""
        lengths, measured = step.target("ray_lengths"), step.target("projections")
        if step.outputs.dim() < 3 or step.outputs.shape[:-1] != lengths.shape:
            raise InputError(f"LineIntegralLoss needs rays: coords [rays, samples, d] with ray_lengths [rays, samples]"
                             f", got outputs {tuple(step.outputs.shape)} and lengths {tuple(lengths.shape)}")
        return (line_integrals(step.outputs, lengths) - measured).square().mean()
