"""SDF loss terms against hand computations, chunk additivity and the 1-channel check."""

from __future__ import annotations

import math

import pytest
import torch

from inr.core.step import Step
from inr.losses.sdf import SIREN_OFF_SURFACE_ALPHA, EikonalLoss, NormalLoss, OffSurfaceLoss, SurfaceLoss

LOSSES = [SurfaceLoss(), NormalLoss(), EikonalLoss(), OffSurfaceLoss()]


def linear_step(values, on_surface, normals, slope=(2.0, 0.0, 0.0)) -> Step:
    """f(x) = slope . x + b with f(x_i) = values[i] at points along z, so grad f = slope everywhere."""
    slope_t = torch.tensor(slope)
    coords = torch.zeros(len(values), 3)
    coords[:, 2] = torch.arange(len(values), dtype=torch.float32)  # slope has no z part: f does not depend on z
    coords.requires_grad_(True)
    offsets = torch.tensor(values)[:, None]
    outputs = coords @ slope_t[:, None] + offsets
    batch = {"coords": coords, "normals": torch.tensor(normals), "on_surface": torch.tensor(on_surface)}
    return Step(coords, outputs, batch)


def tiny_step() -> Step:
    # two on-surface points (f = 0.1, -0.3; normals along x and along y), two off-surface points (f = 0.02, -0.5)
    return linear_step([0.1, -0.3, 0.02, -0.5], [True, True, False, False],
                       [[1.0, 0, 0], [0, 1.0, 0], [0, 0, 0], [0, 0, 0]])


def test_each_term_matches_a_hand_computation():
    step = tiny_step()
    assert SurfaceLoss()(step).item() == pytest.approx((0.1 + 0.3) / 4)  # mean over all 4 points, off ones zero
    # grad f = (2, 0, 0): cos with (1, 0, 0) is 1, with (0, 1, 0) is 0
    assert NormalLoss()(step).item() == pytest.approx((0.0 + 1.0) / 4)
    assert EikonalLoss()(step).item() == pytest.approx(1.0)  # | |grad f| - 1 | = |2 - 1| at every point
    expected = (math.exp(-100 * 0.02) + math.exp(-100 * 0.5)) / 4
    assert OffSurfaceLoss()(step).item() == pytest.approx(expected, rel=1e-5)
    assert SIREN_OFF_SURFACE_ALPHA == 100.0


def test_siren_weights_and_distinct_names():
    assert [loss.weight for loss in LOSSES] == [3e3, 1e2, 5e1, 1e2]
    assert len({loss.name for loss in LOSSES}) == 4


def test_chunks_add_up_to_the_full_batch_loss():
    torch.manual_seed(0)
    values = torch.randn(10).tolist()
    on = [True] * 7 + [False] * 3  # unequal subsets, chunks of mixed content
    normals = torch.nn.functional.normalize(torch.randn(10, 3), dim=-1).tolist()
    full = linear_step(values, on, normals, slope=(0.5, -1.0, 0.0))
    for loss in LOSSES:
        total = loss(full)
        chunked = 0.0
        for start in range(0, 10, 4):
            part = linear_step(values[start : start + 4], on[start : start + 4], normals[start : start + 4],
                               slope=(0.5, -1.0, 0.0))
            chunked = chunked + loss(part) * (len(part.outputs) / 10)
        assert chunked.item() == pytest.approx(total.item(), rel=1e-5), loss.name


def test_losses_refuse_multichannel_outputs():
    from inr.core.signal import SignalSpec
    from inr.training.module import INRModule

    with pytest.raises(ValueError, match="SurfaceLoss needs a 1-channel SDF output, but the data has out_dim=3"):
        INRModule(signal=SignalSpec(3, 3), losses=[SurfaceLoss()])
    with pytest.raises(ValueError, match="alpha must be > 0"):
        OffSurfaceLoss(alpha=0)


def test_missing_target_names_the_key():
    step = Step(torch.zeros(2, 3), torch.zeros(2, 1), {"coords": torch.zeros(2, 3)})
    with pytest.raises(KeyError, match="on_surface"):
        SurfaceLoss()(step)
