"""INRModule's chunked evaluation: the same values as one forward pass, for any number of points."""

from __future__ import annotations

import pytest
import torch

from inr.core import diff
from inr.training.module import INRModule

SPEC = {"in_dim": 2, "out_dim": 3, "value_range": (-1.0, 1.0)}


@pytest.mark.parametrize("count", [0, 7, 16, 37])
def test_predict_values_in_chunks_equals_one_forward(count):
    torch.manual_seed(0)
    model = INRModule(signal=SPEC, chunk_size=16)
    coords = torch.rand(count, 2) * 2 - 1
    predicted = model.predict_values(coords)
    assert predicted.shape == (count, 3) and not predicted.requires_grad
    torch.testing.assert_close(predicted, model(coords).detach())


def test_evaluate_with_derivatives_in_chunks_equals_one_pass():
    torch.manual_seed(0)
    model = INRModule(signal=SPEC).double()
    coords = torch.rand(37, 2, dtype=torch.float64) * 2 - 1
    values, gradients, laplacians = diff.evaluate_with_derivatives(model, coords, chunk_size=16)
    whole = coords.clone().requires_grad_(True)
    outputs = model(whole)
    expected_gradient = diff.gradient(outputs, whole)
    torch.testing.assert_close(values, outputs.detach())
    torch.testing.assert_close(gradients, expected_gradient.detach())
    torch.testing.assert_close(laplacians, diff.laplacian(outputs, whole, grad=expected_gradient).detach())
