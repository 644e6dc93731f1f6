"""Losses through a measurement: the signal is never observed directly, only a forward model of it.

Line integrals (CT): the DataModule gives rays as sample points, batch ``coords [R, S, d]`` with each sample's
interval length ``ray_lengths [R, S]`` (:mod:`inr.core.rays`) and the measured ``projections [R, c]``; the loss
integrates the network along each ray (midpoint rule) and compares.

Fourier measurements (MRI): the batch is the whole grid, ``coords [n^d, d]`` in C order, with the measured k-space
values ``kspace [M, c, 2]`` (real, imaginary) at the flat indices ``kspace_index [M]`` of the grid's FFT (members:
``[K, M, c, 2]`` at ``[K, M]``); the loss transforms the network on the grid (``torch.fft.fftn``, ``norm="ortho"``:
unitary, so by Parseval a k-space error is the same number as the image-space error it comes from) and compares at
the measured locations.
"""

from __future__ import annotations

import torch
from torch import Tensor

from inr.core.errors import InputError
from inr.core.kspace import grid_spectrum, measured_at
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


class FourierMeasurementLoss(Loss):
    """Mean squared magnitude of the network's unitary FFT minus the measured k-space values, at the measured points.

    Args:
        weight: factor applied to this term in the total loss.
    """

    name = "kspace"
    targets = ("kspace", "kspace_index")
    whole_signal = True

    def forward(self, step: Step) -> Tensor:
        """Mean over measured frequencies and channels of |F(f)[k] - y_k|^2."""
        measured, index = step.target("kspace"), step.target("kspace_index")
        spectrum = measured_at(grid_spectrum(step.outputs, step.coords.shape[-1]), index)  # [..., M, c]
        if measured.shape != (*spectrum.shape, 2):
            raise InputError(f"FourierMeasurementLoss needs kspace [..., M, channels, 2] (real, imaginary) for the M "
                             f"indices, got {tuple(measured.shape)} for {tuple(spectrum.shape)}")
        return (torch.view_as_real(spectrum) - measured).square().sum(dim=-1).mean()


class OccupancyLoss(Loss):
    """Binary cross-entropy of the network's logit against inside (1) / outside (0) labels, ``batch['values']``.

    The network outputs a logit; the occupancy is its sigmoid and the surface its 0.5 level set (logit 0).

    Args:
        weight: factor applied to this term in the total loss.
    """

    name = "occupancy"
    targets = ("values",)

    def forward(self, step: Step) -> Tensor:
        """Mean over points of BCE(sigmoid(f), label)."""
        from torch.nn import functional as F

        return F.binary_cross_entropy_with_logits(step.outputs, step.target("values").to(step.outputs.dtype))
