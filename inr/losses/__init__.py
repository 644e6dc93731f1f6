"""Pluggable, weighted losses.

A loss gets a :class:`inr.core.step.Step` and returns a scalar that is a mean over the step's points (so a batch
split into chunks sums to the full-batch loss). It declares the batch ``targets`` it reads (``values``,
``gradients``, ``normals``...); the module asks the DataModule for exactly the union of its losses' targets.
The module multiplies each loss by its ``weight``, sums them and logs each term as ``train/loss/<name>``.
Adding a loss is one subclass plus one config entry (``docs/extending.md``).
"""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor, nn

from inr.core.step import Step


class Loss(nn.Module):
    """Base class of all losses.

    Args:
        weight: factor applied to this term in the total loss.
    """

    #: key under which the term is logged.
    name: ClassVar[str] = "loss"
    #: whether the loss needs derivatives of the outputs w.r.t. the coordinates.
    needs_derivatives: ClassVar[bool] = False
    #: the batch entries (besides ``coords``) the loss reads: the DataModule computes exactly these for training.
    targets: ClassVar[tuple[str, ...]] = ()
    #: whether the loss needs the network on the whole batch at once (a transform of the signal, e.g. an FFT): the
    #: module then evaluates the batch in one piece instead of chunks.
    whole_signal: ClassVar[bool] = False

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__()
        self.weight = weight

    def check_model(self, model: nn.Module) -> None:
        """Raise a clear error if this loss cannot train ``model`` (an INRModule). Default: accept all."""

    def forward(self, step: Step) -> Tensor:
        """Return the unweighted scalar loss of ``step``."""
        raise NotImplementedError


class ValueLoss(Loss):
    """Mean squared error between outputs and ``batch['values']``.

    Args:
        weight: factor applied to this term in the total loss.
    """

    name = "value"
    targets = ("values",)

    def forward(self, step: Step) -> Tensor:
        """MSE over points and channels."""
        return (step.outputs - step.target("values")).square().mean()
