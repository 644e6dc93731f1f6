"""Sinc networks and multiplicative filter networks: initialisation, forward formulas, the official MFN from one
seed, exact first and second input derivatives, refused options and a short real fit."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
from torch import nn

from inr.core.errors import InputError
from inr.nn.multiplicative_filters import FourierFilter, FourierNet, GaborFilter, GaborNet
from inr.nn.networks import Float32Linear
from inr.nn.zoo import Sinc, SincLayer, stable_sinc


def reference_mfn(kind: str, in_size: int, hidden: int, out: int, n_layers: int, input_scale: float,
                  weight_scale: float, alpha: float = 6.0, beta: float = 1.0):
    """The official MFN (boschresearch/multiplicative-filter-networks mfn/mfn.py) rewritten independently of inr.

    Same random draws in the same order: the hidden linear maps, the output map, the hidden weights again, then
    filter by filter its nn.Linear, (Gabor: mu, gamma,) the weight scaling and the phase U(-pi, pi).
    Returns (forward, parameters).
    """
    maps = [nn.Linear(hidden, hidden) for _ in range(n_layers)]
    last = nn.Linear(hidden, out)
    for lin in maps:
        lin.weight.data.uniform_(-np.sqrt(weight_scale / hidden), np.sqrt(weight_scale / hidden))
    filters = []
    for _ in range(n_layers + 1):
        lin = nn.Linear(in_size, hidden)
        if kind == "fourier":
            lin.weight.data *= input_scale / np.sqrt(n_layers + 1)
            mu = gamma = None
        else:
            mu = 2 * torch.rand(hidden, in_size) - 1
            gamma = torch.distributions.gamma.Gamma(alpha / (n_layers + 1), beta).sample((hidden,))
            lin.weight.data *= input_scale / np.sqrt(n_layers + 1) * torch.sqrt(gamma[:, None])
        lin.bias.data.uniform_(-np.pi, np.pi)
        filters.append((lin, mu, gamma))

    def apply_filter(index, x):
        lin, mu, gamma = filters[index]
        value = torch.sin(lin(x))
        if mu is None:
            return value
        distance = (x ** 2).sum(-1)[..., None] + (mu ** 2).sum(-1)[None, :] - 2 * x @ mu.T
        return value * torch.exp(-0.5 * distance * gamma[None, :])

    def forward(x):
        z = apply_filter(0, x)
        for i in range(1, n_layers + 1):
            z = apply_filter(i, x) * maps[i - 1](z)
        return last(z)

    params = {"maps": maps, "last": last, "filters": filters}
    return forward, params


@pytest.mark.parametrize("kind", ["fourier", "gabor"])
def test_same_seed_gives_the_official_mfn_parameters_and_outputs(kind):
    torch.manual_seed(2021)
    official, params = reference_mfn(kind, 2, 32, 3, 3, input_scale=256.0, weight_scale=1.0)
    torch.manual_seed(2021)
    mine = (FourierNet if kind == "fourier" else GaborNet)(2, 3, hidden=32, layers=3)
    for ours, theirs in zip(mine.linears, params["maps"]):
        assert torch.equal(ours.weight, theirs.weight) and torch.equal(ours.bias, theirs.bias)
    assert torch.equal(mine.output.weight, params["last"].weight) and torch.equal(mine.output.bias, params["last"].bias)
    for ours, (lin, mu, gamma) in zip(mine.filters, params["filters"], strict=True):
        assert torch.equal(ours.linear.weight, lin.weight) and torch.equal(ours.linear.bias, lin.bias)
        if kind == "gabor":
            assert torch.equal(ours.mu, mu) and torch.equal(ours.gamma, gamma)
    coords = torch.rand(64, 2) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(mine(coords), official(coords), rtol=1e-5, atol=1e-5)


def test_fourier_net_initialisation_and_formula():
    torch.manual_seed(0)
    net = FourierNet(2, 3, hidden=512, layers=3, input_scale=64.0, weight_scale=2.0)
    assert len(net.filters) == 4 and len(net.linears) == 3  # layers=3: 1 input + 3 hidden filters
    filter_bound = 64.0 / math.sqrt(4) / math.sqrt(2)  # input_scale / sqrt(layers + 1) * U(-1/sqrt(n), 1/sqrt(n))
    for filter_ in net.filters:
        assert isinstance(filter_, FourierFilter) and isinstance(filter_.linear, Float32Linear)
        weight, bias = filter_.linear.weight.abs().max(), filter_.linear.bias.abs().max()
        assert 0.99 * filter_bound < weight <= filter_bound
        assert 0.98 * math.pi < bias <= math.pi
    hidden_bound = math.sqrt(2.0 / 512)
    for linear in net.linears:
        assert 0.99 * hidden_bound < linear.weight.abs().max() <= hidden_bound
        assert linear.bias.abs().max() <= 1 / math.sqrt(512)  # PyTorch's default bias
    coords = torch.rand(9, 2) * 2 - 1
    z = torch.sin(coords @ net.filters[0].linear.weight.T + net.filters[0].linear.bias)
    for linear, filter_ in zip(net.linears, net.filters[1:]):
        z = torch.sin(coords @ filter_.linear.weight.T + filter_.linear.bias) * (z @ linear.weight.T + linear.bias)
    torch.testing.assert_close(net(coords), z @ net.output.weight.T + net.output.bias)


def test_gabor_net_initialisation_and_formula():
    torch.manual_seed(0)
    alpha, beta, layers = 6.0, 2.0, 3
    net = GaborNet(2, 1, hidden=2048, layers=layers, input_scale=32.0, alpha=alpha, beta=beta)
    gamma = torch.cat([f.gamma.detach() for f in net.filters])
    mean, variance = alpha / (layers + 1) / beta, alpha / (layers + 1) / beta ** 2  # Gamma(a, rate b)
    standard_error = math.sqrt(variance / gamma.numel())
    assert abs(gamma.mean().item() - mean) < 5 * standard_error and (gamma > 0).all()
    assert abs(gamma.var().item() - variance) < 0.1 * variance
    for filter_ in net.filters:
        assert isinstance(filter_, GaborFilter) and isinstance(filter_.linear, Float32Linear)
        assert filter_.mu.min() >= -1 and filter_.mu.max() <= 1 and filter_.mu.abs().max() > 0.99  # U(-1, 1)
        assert abs(filter_.mu.mean().item()) < 0.05
        unscaled = filter_.linear.weight / filter_.gamma[:, None].sqrt()  # weight scaled by sqrt(gamma) per row
        bound = 32.0 / math.sqrt(layers + 1) / math.sqrt(2)
        assert 0.99 * bound < unscaled.abs().max() <= bound * (1 + 1e-6)
        assert filter_.linear.bias.abs().max() <= math.pi
    coords = torch.rand(7, 2) * 2 - 1

    def gabor(f):
        window = torch.exp(-0.5 * f.gamma * ((coords[:, None, :] - f.mu) ** 2).sum(-1))
        return window * torch.sin(coords @ f.linear.weight.T + f.linear.bias)

    z = gabor(net.filters[0])
    for linear, filter_ in zip(net.linears, net.filters[1:]):
        z = gabor(filter_) * (z @ linear.weight.T + linear.bias)
    torch.testing.assert_close(net(coords), z @ net.output.weight.T + net.output.bias, rtol=1e-4, atol=1e-6)


def test_sinc_layer_initialisation_and_formula():
    torch.manual_seed(0)
    first = SincLayer(2, 512, is_first=True, omega_0=30.0)
    hidden = SincLayer(512, 512, is_first=False, omega_0=20.0)
    assert isinstance(first.linear, Float32Linear) and not isinstance(hidden.linear, Float32Linear)
    assert 0.49 < first.linear.weight.abs().max() <= 1 / 2  # U(-1/n, 1/n)
    bound = math.sqrt(6 / 512) / 20
    assert 0.99 * bound < hidden.linear.weight.abs().max() <= bound
    coords = torch.rand(7, 2) * 2 - 1
    u = 30.0 * (coords @ first.linear.weight.T + first.linear.bias)
    torch.testing.assert_close(first(coords), torch.sin(u) / u)
    net = Sinc(2, 3, hidden=64, layers=2, first_omega_0=30.0, hidden_omega_0=20.0)
    assert [type(block).__name__ for block in net.net] == ["SincLayer"] * 3 + ["Linear"]
    assert net.net[0].omega_0 == 30.0 and net.net[1].omega_0 == 20.0
    assert net.net[-1].weight.abs().max() <= math.sqrt(6 / 64) / 20.0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_stable_sinc_values_and_derivatives_at_and_near_zero(dtype):
    u = torch.tensor([0.0, 1e-9, 1e-4, 0.04, 0.06, 0.49, 0.51, 2.0, -7.0], dtype=dtype, requires_grad=True)
    values = stable_sinc(u)
    torch.testing.assert_close(values, torch.sinc(u.detach() / math.pi))
    first, = torch.autograd.grad(values.sum(), u, create_graph=True)
    second, = torch.autograd.grad(first.sum(), u)
    x = u.detach().double()
    expected_first = torch.where(x.abs() < 1e-3, -x / 3 + x ** 3 / 30, (x * torch.cos(x) - torch.sin(x)) / x ** 2)
    expected_second = torch.where(x.abs() < 1e-3, -1 / 3 + x ** 2 / 10,
                                  -torch.sin(x) / x - 2 * torch.cos(x) / x ** 2 + 2 * torch.sin(x) / x ** 3)
    tolerance = 1e-5 if dtype == torch.float32 else 1e-10
    torch.testing.assert_close(first.double(), expected_first, atol=tolerance, rtol=tolerance)
    torch.testing.assert_close(second.double(), expected_second, atol=tolerance, rtol=tolerance)
    zero = torch.zeros(1, dtype=dtype, requires_grad=True)  # torch.sinc's own second derivative is NaN here
    sinc_first, = torch.autograd.grad(torch.sinc(zero).sum(), zero, create_graph=True)
    assert torch.autograd.grad(sinc_first.sum(), zero)[0].isnan().all()


def test_sinc_network_derivatives_are_finite_where_a_pre_activation_is_zero():
    torch.manual_seed(0)
    net = Sinc(2, 1, hidden=8, layers=1, first_omega_0=4.0, hidden_omega_0=4.0).double()
    with torch.no_grad():
        net.net[0].linear.bias.zero_()  # at x = 0 every first-layer pre-activation is exactly 0
    coords = torch.zeros(1, 2, dtype=torch.float64, requires_grad=True)
    gradient, = torch.autograd.grad(net(coords).sum(), coords, create_graph=True)
    laplacian = sum(torch.autograd.grad(gradient[:, i].sum(), coords, retain_graph=True)[0][:, i] for i in range(2))
    assert torch.isfinite(gradient).all() and torch.isfinite(laplacian).all()
    torch.testing.assert_close(laplacian, finite_difference_laplacian(net, coords.detach()), rtol=1e-5, atol=1e-6)


def finite_difference_laplacian(net: nn.Module, coords: torch.Tensor, step: float = 1e-4) -> torch.Tensor:
    """Sum over axes of central second differences: [N, d] -> [N, out]."""
    with torch.no_grad():
        centre = net(coords)
        total = torch.zeros_like(centre)
        for axis in range(coords.shape[-1]):
            shift = torch.zeros_like(coords[0])
            shift[axis] = step
            total += (net(coords + shift) - 2 * centre + net(coords - shift)) / step ** 2
    return total.squeeze(-1) if total.shape[-1] == 1 else total


DERIVATIVE_NETWORKS = {
    "sinc": functools.partial(Sinc, hidden=16, layers=2, first_omega_0=5.0, hidden_omega_0=5.0),
    "fourier": functools.partial(FourierNet, hidden=16, layers=2, input_scale=6.0),
    "gabor": functools.partial(GaborNet, hidden=16, layers=2, input_scale=6.0),
}


@pytest.mark.parametrize("name", DERIVATIVE_NETWORKS)
def test_input_gradient_and_laplacian_match_finite_differences(name):
    torch.manual_seed(0)
    net = DERIVATIVE_NETWORKS[name](2, 2).double()
    assert net.exact_input_derivatives and not net.piecewise_linear
    coords = (torch.rand(6, 2, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    outputs = net(coords)
    step = 1e-6
    for channel in range(2):
        gradient, = torch.autograd.grad(outputs[:, channel].sum(), coords, create_graph=True)
        for axis in range(2):
            shift = torch.zeros(2, dtype=torch.float64)
            shift[axis] = step
            with torch.no_grad():
                central = (net(coords + shift) - net(coords - shift))[:, channel] / (2 * step)
            torch.testing.assert_close(gradient[:, axis], central, atol=1e-6, rtol=1e-6)
        laplacian = sum(torch.autograd.grad(gradient[:, axis].sum(), coords, retain_graph=True)[0][:, axis]
                        for axis in range(2))
        expected = finite_difference_laplacian(net, coords.detach())[:, channel]
        scale = expected.abs().max().item()
        torch.testing.assert_close(laplacian, expected, atol=1e-5 * max(scale, 1.0), rtol=1e-5)


@pytest.mark.parametrize("make", [
    functools.partial(Sinc, hidden=8, layers=1),
    functools.partial(FourierNet, hidden=8, layers=1),
    functools.partial(GaborNet, hidden=8, layers=1),
], ids=["sinc", "fourier", "gabor"])
def test_leading_dimensions_float64_and_seeds(make):
    coords = torch.rand(3, 4, 5, 2) * 2 - 1
    torch.manual_seed(7)
    net = make(2, 3)
    assert net(coords).shape == (3, 4, 5, 3) and net.out_dim == net(coords).shape[-1]
    torch.testing.assert_close(net(coords).reshape(-1, 3), net(coords.reshape(-1, 2)))
    torch.manual_seed(7)
    again = make(2, 3)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values()))
    torch.manual_seed(8)
    other = make(2, 3)
    assert not all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), other.state_dict().values()))
    double = net.double()(coords.double())
    assert double.dtype == torch.float64
    torch.testing.assert_close(double.float(), again(coords), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("make", [
    functools.partial(FourierNet, hidden=16, layers=2),
    functools.partial(GaborNet, hidden=16, layers=2),
], ids=["fourier", "gabor"])
def test_filters_compute_in_float32_under_autocast(make):
    torch.manual_seed(0)
    net = make(2, 1)
    coords = torch.rand(32, 2) * 2 - 1
    with torch.autocast("cpu", dtype=torch.bfloat16):
        filtered = [filter_(coords) for filter_ in net.filters]
        mixed = net(coords)
    assert all(values.dtype == torch.float32 for values in filtered)
    torch.testing.assert_close(filtered[0], net.filters[0](coords))
    assert (mixed.float() - net(coords)).abs().max() < 0.05 * net(coords).abs().max() + 1e-3


@pytest.mark.parametrize("make, message", [
    (lambda: Sinc(2, 1, first_omega_0=0.0), "Sinc first_omega_0 must be > 0, got 0.0"),
    (lambda: Sinc(2, 1, hidden_omega_0=-2.0), "Sinc hidden_omega_0 must be > 0, got -2.0"),
    (lambda: Sinc(2, 1, layers=-1), "Sinc layers must be >= 0, got -1"),
    (lambda: FourierNet(2, 1, input_scale=0.0), "FourierNet input_scale must be > 0, got 0.0"),
    (lambda: FourierNet(2, 1, weight_scale=-1.0), "FourierNet weight_scale must be > 0, got -1.0"),
    (lambda: FourierNet(2, 1, hidden=0), "FourierNet hidden must be >= 1, got 0"),
    (lambda: FourierNet(2, 1, layers=-1), "FourierNet layers must be >= 0, got -1"),
    (lambda: GaborNet(2, 1, alpha=0.0), "GaborNet alpha must be > 0, got 0.0"),
    (lambda: GaborNet(2, 1, beta=-1.0), "GaborNet beta must be > 0, got -1.0"),
    (lambda: GaborNet(2, 1, input_scale=-3.0), "GaborNet input_scale must be > 0, got -3.0"),
    (lambda: GaborNet(0, 1), "GaborNet in_dim must be >= 1, got 0"),
])
def test_bad_options_raise_input_errors_naming_the_option(make, message):
    with pytest.raises(InputError, match=f"^{message}$"):
        make()


def smooth_signal(coords: torch.Tensor) -> torch.Tensor:
    """A smooth gray image in [-1, 1]: coords [N, 2] (y, x) -> values [N, 1]."""
    y, x = coords.unbind(-1)
    values = 0.5 * torch.sin(3 * x) * torch.cos(2 * y) + 0.3 * x * y + 0.2 * torch.exp(-4 * (x ** 2 + y ** 2))
    return values[:, None]


def grid(size: int, cell_centres: bool = False) -> torch.Tensor:
    """The (y, x) grid linspace(-1, 1, size), or the centres of its cells: [size^2 or (size - 1)^2, 2]."""
    axis = torch.linspace(-1, 1, size)
    if cell_centres:
        axis = (axis[:-1] + axis[1:]) / 2
    return torch.stack(torch.meshgrid(axis, axis, indexing="ij"), dim=-1).reshape(-1, 2)


# (network, Adam learning rate, steps, PSNR on the 16 x 16 training grid, PSNR at the held-out cell centres).
# Measured with seeds 0 / 1 / 2 (dB, data range 2): sinc 61.8 / 64.9 / 63.5 and 54.7 / 51.6 / 51.3; FourierNet
# 59.9 / 56.7 / 57.3 and 60.3 / 57.3 / 57.8; GaborNet 56.5 / 56.9 / 56.7 and 55.0 / 55.9 / 55.5. A constant scores 18.
FITS = {
    "sinc": (functools.partial(Sinc, hidden=64, layers=2), 1e-3, 200, 55.0, 45.0),
    "fourier": (functools.partial(FourierNet, hidden=64, layers=2, input_scale=8.0), 1e-2, 150, 50.0, 50.0),
    "gabor": (functools.partial(GaborNet, hidden=64, layers=2, input_scale=8.0), 1e-2, 150, 50.0, 48.0),
}


def psnr(net: nn.Module, coords: torch.Tensor) -> float:
    """PSNR in dB of the prediction clipped to [-1, 1] (data range 2)."""
    with torch.no_grad():
        mse = ((net(coords).clamp(-1, 1) - smooth_signal(coords)) ** 2).mean().item()
    return 10 * math.log10(4 / mse)


@pytest.mark.parametrize("name", FITS)
def test_short_fit_of_a_smooth_image_reaches_the_measured_psnr(name):
    make, lr, steps, train_threshold, held_out_threshold = FITS[name]
    train = grid(16)
    values = smooth_signal(train)
    torch.manual_seed(0)
    net = make(2, 1)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(steps):
        loss = ((net(train) - values) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert psnr(net, train) > train_threshold
    assert psnr(net, grid(16, cell_centres=True)) > held_out_threshold
