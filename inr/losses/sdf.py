"""Signed distance function losses of SIREN (Sitzmann et al. 2020, Sec. 4.2 and its ``sdf`` loss).

The batch (``datamodules.pointcloud.PointCloudDataModule``) holds on-surface points with their normals and as
many off-surface points uniform in the cube: ``coords [N, 3]``, ``normals [N, 3]`` (zero off the surface) and
``on_surface [N]`` (bool). The network outputs the SDF ``f [N, 1]``; ``step.gradient`` is grad f ``[N, 1, 3]``.
Any leading axes (``[..., N, 3]``, e.g. independent signals) pass through: the means run over all of them.

Normalisation (all four terms): each loss is the mean over *all* points of the step of the term masked to its
subset (zero elsewhere), as in SIREN's own code. It therefore adds up exactly over chunks of any size and
content (the module weights each chunk's mean by its share of points), and it equals (subset fraction) x
(mean over the subset): with as many on- as off-surface points, half the subset mean. Because SIREN normalises
the same way, its weights (3e3, 1e2, 5e1, 1e2) apply unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from inr.core.errors import InputError
from inr.core.step import Step
from inr.losses import Loss

#: SIREN's off-surface penalty exp(-alpha |f|) (Sitzmann et al. 2020, Eq. 6 and its code): alpha = 100 makes
#: the penalty vanish beyond |f| ~ 0.05 in the [-1, 1] cube, so only spurious near-zero values are pushed away.
SIREN_OFF_SURFACE_ALPHA = 100.0


class SDFLoss(Loss):
    """Base of the SDF terms: refuses networks with more than one output channel.

    Args:
        weight: factor applied to this term in the total loss.
    """

    def check_model(self, model: Any) -> None:
        """Raise when the signal is not a scalar field (the SDF has one channel)."""
        out_dim = model.signal.out_dim
        if out_dim != 1:
            raise InputError(f"{type(self).__name__} needs a 1-channel SDF output, but the data has out_dim={out_dim}")

    @staticmethod
    def masked_mean(term: Tensor, mask: Tensor) -> Tensor:
        """Mean over all points of ``term [..., N]`` with the points outside ``mask [..., N]`` counted as zero."""
        return torch.where(mask, term, torch.zeros_like(term)).mean()


class SurfaceLoss(SDFLoss):
    """On-surface value: |f| at the on-surface points (the surface is the zero level set).

    Args:
        weight: factor applied to this term in the total loss (SIREN: 3e3).
    """

    name = "sdf_surface"
    targets = ("on_surface",)

    def __init__(self, weight: float = 3e3) -> None:
        super().__init__(weight)

    def forward(self, step: Step) -> Tensor:
        """Mean over all points of |f| masked to the on-surface points."""
        return self.masked_mean(step.outputs[..., 0].abs(), step.target("on_surface"))


class NormalLoss(SDFLoss):
    """Normal alignment: 1 - cos(grad f, n) at the on-surface points.

    Args:
        weight: factor applied to this term in the total loss (SIREN: 1e2).
    """

    name = "sdf_normal"
    needs_derivatives = True
    targets = ("normals", "on_surface")

    def __init__(self, weight: float = 1e2) -> None:
        super().__init__(weight)

    def forward(self, step: Step) -> Tensor:
        """Mean over all points of 1 - cos(grad f, normal) masked to the on-surface points."""
        cosine = F.cosine_similarity(step.gradient[..., 0, :], step.target("normals"), dim=-1)
        return self.masked_mean(1.0 - cosine, step.target("on_surface"))


class EikonalLoss(SDFLoss):
    """Eikonal constraint | ||grad f|| - 1 | at every point (a distance function has unit gradient).

    Args:
        weight: factor applied to this term in the total loss (SIREN: 5e1).
    """

    name = "sdf_eikonal"
    needs_derivatives = True

    def __init__(self, weight: float = 5e1) -> None:
        super().__init__(weight)

    def forward(self, step: Step) -> Tensor:
        """Mean over all points of | ||grad f|| - 1 |."""
        return (step.gradient[..., 0, :].norm(dim=-1) - 1.0).abs().mean()


class OffSurfaceLoss(SDFLoss):
    """Off-surface penalty exp(-alpha |f|) at the off-surface points: no spurious zero level set away from data.

    Args:
        weight: factor applied to this term in the total loss (SIREN: 1e2).
        alpha: decay of the penalty (SIREN: 100, see ``SIREN_OFF_SURFACE_ALPHA``).
    """

    name = "sdf_off_surface"
    targets = ("on_surface",)

    def __init__(self, weight: float = 1e2, alpha: float = SIREN_OFF_SURFACE_ALPHA) -> None:
        super().__init__(weight)
        if not alpha > 0:
            raise InputError(f"OffSurfaceLoss alpha must be > 0, got {alpha}")
        self.alpha = alpha

    def forward(self, step: Step) -> Tensor:
        """Mean over all points of exp(-alpha |f|) masked to the off-surface points."""
        penalty = torch.exp(-self.alpha * step.outputs[..., 0].abs())
        return self.masked_mean(penalty, ~step.target("on_surface"))
