"""Losses on derivatives of the representation w.r.t. its input coordinates (Poisson-style supervision).

SIREN (Sitzmann et al. 2020, Sec. 4.1 "Solving the Poisson equation"): an image is recovered from its gradient
field or its Laplacian alone by matching the network's derivatives, up to the constant (and for the Laplacian,
harmonic terms) that the derivatives do not determine. Targets come from the DataModule (``gradients [N, c, d]``,
``laplacians [N, c]``, in the units of the [-1, 1] coordinates); the derivatives come from the shared, cached
:class:`inr.core.step.Step`, so both losses together cost one gradient pass.
"""

from __future__ import annotations

import warnings

from torch import Tensor, nn

from inr.core.errors import InputError
from inr.core.step import Step
from inr.losses import Loss
from inr.nn.encoders import Identity


class GradientLoss(Loss):
    """Squared error between the network gradient and ``batch['gradients']``.

    Per point and channel, the squared Euclidean norm of the gradient difference (summed over the d coordinate
    axes, as SIREN's ``gradients_mse``), then the mean over points and channels.

    Args:
        weight: factor applied to this term in the total loss.
    """

    name = "gradient"
    needs_derivatives = True
    targets = ("gradients",)

    def forward(self, step: Step) -> Tensor:
        """Mean over points and channels of |grad f - target|^2 (units: (value / coordinate unit)^2)."""
        target = step.target("gradients")
        if target.shape != step.gradient.shape:
            raise InputError(f"gradient targets have shape {tuple(target.shape)}, the network gradient "
                             f"{tuple(step.gradient.shape)} ([points, channels, coordinate dims])")
        return (step.gradient - target).square().sum(dim=-1).mean()


class LaplacianLoss(Loss):
    """Mean squared error between the network Laplacian and ``batch['laplacians']``.

    Refuses a piecewise-linear network (ReLU MLP) on raw coordinates, whose Laplacian is zero almost everywhere;
    warns when such a network sits on a nonlinear encoder (only the encoder's curvature reaches the Laplacian).

    Args:
        weight: factor applied to this term in the total loss.
    """

    name = "laplacian"
    needs_derivatives = True
    targets = ("laplacians",)

    def check_model(self, model: nn.Module) -> None:
        """Raise when ``model`` (an INRModule: encoder + network) is piecewise linear in its coordinates.

        Reads what the encoder (:class:`inr.nn.encoders.Encoder`) and the network
        (:class:`inr.nn.networks.CoordinateNetwork`) declare.
        """
        network, encoder = model.network, model.encoder
        if not network.piecewise_linear:
            return
        described = network.describe()
        if encoder.piecewise_linear:
            inputs = "raw coordinates" if isinstance(encoder, Identity) else f"{type(encoder).__name__} features"
            raise InputError(
                f"LaplacianLoss cannot train {described} on {inputs}: the network is piecewise linear, and so is the "
                "encoder, so its Laplacian is zero almost everywhere and carries no training signal. Use "
                "inr.nn.networks.Siren, an MLP activation with curvature (softplus, tanh, gelu), or a Fourier encoder."
            )
        warnings.warn(
            f"LaplacianLoss with piecewise-linear {described}: only the curvature of {type(encoder).__name__} "
            "reaches the Laplacian; expect a poor fit (SIREN is the intended network)",
            stacklevel=2,
        )

    def forward(self, step: Step) -> Tensor:
        """Mean over points and channels of (Laplacian f - target)^2 (units: (value / coordinate unit^2)^2)."""
        target = step.target("laplacians")
        if target.shape != step.laplacian.shape:
            raise InputError(f"Laplacian targets have shape {tuple(target.shape)}, the network Laplacian "
                             f"{tuple(step.laplacian.shape)} ([points, channels])")
        return (step.laplacian - target).square().mean()
