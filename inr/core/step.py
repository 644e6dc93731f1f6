"""What one training or validation evaluation hands to the losses.

A :class:`Step` holds the coordinates, the network outputs and the batch of targets, and computes
derivatives of the outputs w.r.t. the coordinates lazily, once: two losses that need the gradient share
one autograd pass.
"""

from __future__ import annotations

from functools import cached_property

from torch import Tensor

from inr.core import diff
from inr.core.targets import Targets


class Step(Targets):
    """One evaluation of the model on a batch.

    Args:
        coords: input coordinates [..., N, d] (requires_grad when a loss needs derivatives); leading axes (e.g.
            independent signals) pass through to the derivatives and the losses.
        outputs: network outputs [..., N, c].
        batch: targets and extras from the DataModule, e.g. ``values [..., N, c]``.
    """

    missing_target = "this loss needs batch[{key!r}]"

    def __init__(self, coords: Tensor, outputs: Tensor, batch: dict[str, Tensor]) -> None:
        self.coords = coords
        self.outputs = outputs
        self.batch = batch

    @cached_property
    def gradient(self) -> Tensor:
        """D outputs / d coords, [..., N, c, d]."""
        return diff.gradient(self.outputs, self.coords)

    @cached_property
    def laplacian(self) -> Tensor:
        """Trace of the Hessian of each output channel, [..., N, c]."""
        return diff.laplacian(self.outputs, self.coords, grad=self.gradient)


