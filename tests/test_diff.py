"""inr.core.diff: gradients and Laplacians match closed forms (float64, 1e-5) and finite differences."""

from __future__ import annotations

import pytest
import torch

from inr.core import diff
from inr.nn.encoders import GaussianFourier
from inr.nn.networks import SIREN_OMEGA_0, Siren


def _coords(count: int = 64, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(count, 2, generator=generator, dtype=torch.float64) * 2 - 1).requires_grad_(True)


def test_closed_form_sines_gradient_and_laplacian():
    a, b = 3.0, 5.0
    coords = _coords()
    x, y = coords[:, 0], coords[:, 1]
    outputs = torch.stack([torch.sin(a * x) * torch.cos(b * y), torch.sin(a * x + b * y)], dim=-1)
    grad = diff.gradient(outputs, coords)
    x, y = x.detach(), y.detach()
    expected = torch.stack([
        torch.stack([a * torch.cos(a * x) * torch.cos(b * y), -b * torch.sin(a * x) * torch.sin(b * y)], dim=-1),
        torch.stack([a * torch.cos(a * x + b * y), b * torch.cos(a * x + b * y)], dim=-1),
    ], dim=1)
    assert grad.shape == (64, 2, 2)
    torch.testing.assert_close(grad, expected, atol=1e-5, rtol=0)
    laplacian = diff.laplacian(outputs, coords, grad=grad)
    torch.testing.assert_close(laplacian, -(a**2 + b**2) * outputs.detach(), atol=1e-5, rtol=0)
    torch.testing.assert_close(diff.laplacian(outputs, coords), laplacian, atol=1e-12, rtol=0)  # without reuse


def test_one_layer_siren_matches_its_closed_form():
    """f(x) = W2 sin(w0 (W1 x + b1)) + b2: grad = W2 diag(w0 cos) W1, Laplacian = -w0^2 sum_k W2_k sin_k |W1_k|^2."""
    torch.manual_seed(0)
    net = Siren(2, 3, hidden=16, layers=0).double()
    first, last = net.net[0].linear, net.net[1]
    coords = _coords()
    outputs = net(coords)
    phase = SIREN_OMEGA_0 * (coords.detach() @ first.weight.T + first.bias)  # [N, h]
    expected_grad = torch.einsum("ch,nh,hd->ncd", last.weight, SIREN_OMEGA_0 * torch.cos(phase), first.weight)
    row_norms = first.weight.square().sum(dim=1)  # [h]
    expected_laplacian = -(SIREN_OMEGA_0**2) * (torch.sin(phase) * row_norms) @ last.weight.T
    grad = diff.gradient(outputs, coords)
    torch.testing.assert_close(grad, expected_grad, atol=1e-5, rtol=0)
    torch.testing.assert_close(diff.laplacian(outputs, coords, grad=grad), expected_laplacian, atol=1e-5, rtol=0)


def _encoded_siren() -> torch.nn.Module:
    torch.manual_seed(1)
    encoder = GaussianFourier(2, mapping_size=8, sigma=2.0)
    return torch.nn.Sequential(encoder, Siren(encoder.out_dim, 2, hidden=24, layers=1)).double()


def test_deep_network_matches_central_finite_differences():
    model = _encoded_siren()
    coords = _coords(32, seed=1)
    outputs = model(coords)
    grad = diff.gradient(outputs, coords)
    laplacian = diff.laplacian(outputs, coords, grad=grad)
    base = coords.detach()
    step_1, step_2 = 1e-6, 1e-4  # truncation ~ h^2 f''' (resp. h^2 f''''), round-off ~ eps / h (resp. eps / h^2)
    numeric_grad, numeric_laplacian = [], torch.zeros_like(outputs.detach())
    with torch.no_grad():
        for axis in range(2):
            offset = torch.zeros(2, dtype=torch.float64)
            offset[axis] = step_1
            numeric_grad.append((model(base + offset) - model(base - offset)) / (2 * step_1))
            offset[axis] = step_2
            numeric_laplacian += (model(base + offset) - 2 * model(base) + model(base - offset)) / step_2**2
    numeric_grad = torch.stack(numeric_grad, dim=-1)
    scale_grad, scale_laplacian = grad.abs().max().item(), laplacian.abs().max().item()
    assert scale_grad > 1 and scale_laplacian > 10  # a non-trivial function
    torch.testing.assert_close(grad, numeric_grad, atol=1e-6 * scale_grad, rtol=0)
    torch.testing.assert_close(laplacian, numeric_laplacian, atol=1e-5 * scale_laplacian, rtol=0)


def test_linear_function_has_zero_laplacian_not_an_error():
    coords = _coords(8)
    matrix = torch.tensor([[1.0, 2.0], [-3.0, 0.5]], dtype=torch.float64)
    outputs = coords @ matrix.T
    grad = diff.gradient(outputs, coords)
    torch.testing.assert_close(grad, matrix.expand(8, 2, 2))
    assert torch.equal(diff.laplacian(outputs, coords, grad=grad), torch.zeros(8, 2, dtype=torch.float64))


def test_gradient_needs_coords_that_require_grad():
    with pytest.raises(ValueError, match="requires_grad=True"):
        diff.gradient(torch.zeros(3, 1), torch.zeros(3, 2))


def test_chunked_evaluation_matches_one_pass_and_works_under_no_grad():
    model = _encoded_siren()
    coords = _coords(50).detach()
    whole = coords.clone().requires_grad_(True)
    outputs = model(whole)
    grad = diff.gradient(outputs, whole)
    laplacian = diff.laplacian(outputs, whole, grad=grad)
    with torch.no_grad():  # as in Lightning's validation loop
        values, chunk_grad, chunk_laplacian = diff.evaluate_with_derivatives(model, coords, chunk_size=16)
    torch.testing.assert_close(values, outputs.detach())
    torch.testing.assert_close(chunk_grad, grad.detach())
    torch.testing.assert_close(chunk_laplacian, laplacian.detach())
    assert not chunk_grad.requires_grad and not chunk_laplacian.requires_grad
    _, _, nothing = diff.evaluate_with_derivatives(model, coords, chunk_size=16, with_laplacian=False)
    assert nothing is None
    with torch.inference_mode(), pytest.raises(RuntimeError, match="inference_mode: false"):
        diff.evaluate_with_derivatives(model, coords, chunk_size=16)
