"""The benchmark's hand-written losses compute exactly inr's losses, so step-time ratios compare the same work."""

from __future__ import annotations

import pytest
import torch

from bench.plain_losses import gradient_loss, laplacian_loss, sdf_batch, sdf_loss, value_loss
from inr.core.step import Step
from inr.losses import ValueLoss
from inr.losses.derivatives import GradientLoss, LaplacianLoss
from inr.losses.sdf import EikonalLoss, NormalLoss, OffSurfaceLoss, SurfaceLoss
from inr.nn.networks import Siren


def _inr_loss(network, losses, batch) -> torch.Tensor:
    coords = batch["coords"].clone().requires_grad_(True)
    step = Step(coords, network(coords), batch)
    return sum(loss.weight * loss(step) for loss in losses)


@pytest.mark.parametrize("case", ["value", "gradient", "laplacian", "sdf"])
def test_plain_loss_equals_inr_loss(case):
    torch.manual_seed(0)
    dims = 3 if case == "sdf" else 2
    network = Siren(dims, 1, hidden=16, layers=2).double()
    count = 50
    if case == "sdf":
        points = torch.nn.functional.normalize(torch.randn(200, 3, dtype=torch.float64), dim=-1)
        batch = sdf_batch(points, points.clone(), count, torch.Generator().manual_seed(0))
        losses = [SurfaceLoss(), NormalLoss(), EikonalLoss(), OffSurfaceLoss()]
        plain = sdf_loss
    else:
        coords = torch.rand(count, 2, dtype=torch.float64) * 2 - 1
        batch = {"coords": coords, "values": torch.randn(count, 1, dtype=torch.float64),
                 "gradients": torch.randn(count, 1, 2, dtype=torch.float64),
                 "laplacians": torch.randn(count, 1, dtype=torch.float64)}
        losses, plain = {"value": ([ValueLoss()], value_loss), "gradient": ([GradientLoss()], gradient_loss),
                         "laplacian": ([LaplacianLoss()], laplacian_loss)}[case]
    expected = _inr_loss(network, losses, batch)
    assert expected.item() > 0
    assert plain(network, batch).item() == pytest.approx(expected.item(), rel=1e-12)
