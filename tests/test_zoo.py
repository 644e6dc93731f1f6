"""The activation networks of inr.nn.zoo: initialisation and forward formulas of their official code, exact
derivatives, and the refusals where autograd's derivatives are not the function's."""

from __future__ import annotations

import functools
import math

import pytest
import torch

from inr.nn.networks import Float32Linear
from inr.nn.zoo import Finer, FinerLayer, GaborLayer, Gauss, GaussLayer, Wire


def test_finer_layer_initialisation_and_formula():
    torch.manual_seed(0)
    first = FinerLayer(2, 512, is_first=True, omega_0=30.0, first_bias_scale=0.5)
    hidden = FinerLayer(512, 512, is_first=False, omega_0=30.0)
    assert isinstance(first.linear, Float32Linear)
    assert first.linear.weight.abs().max() <= 1 / 2 and first.linear.weight.abs().max() > 0.49  # U(-1/n, 1/n)
    assert first.linear.bias.abs().max() <= 0.5 and first.linear.bias.abs().max() > 0.45  # U(-k, k)
    bound = math.sqrt(6 / 512) / 30
    assert hidden.linear.weight.abs().max() <= bound and hidden.linear.weight.abs().max() > 0.99 * bound
    assert hidden.linear.bias.abs().max() <= 1 / math.sqrt(512)  # PyTorch's default bias
    coords = torch.rand(7, 2) * 2 - 1
    z = coords @ first.linear.weight.T + first.linear.bias
    torch.testing.assert_close(first(coords), torch.sin(30.0 * (z.abs() + 1) * z))


def test_finer_network_matches_its_layers_and_output_initialisation():
    torch.manual_seed(0)
    net = Finer(2, 3, hidden=64, layers=2, first_omega_0=30.0, hidden_omega_0=20.0)
    assert [type(block).__name__ for block in net.net] == ["FinerLayer"] * 3 + ["Linear"]
    assert net.net[0].omega_0 == 30.0 and net.net[1].omega_0 == 20.0
    assert net.net[-1].weight.abs().max() <= math.sqrt(6 / 64) / 20.0
    assert net(torch.rand(4, 5, 2)).shape == (4, 5, 3)


def test_gauss_layer_formula_and_default_initialisation():
    torch.manual_seed(0)
    layer = GaussLayer(256, 256, is_first=False, scale=30.0)
    bound = 1 / math.sqrt(256)  # PyTorch's kaiming-uniform(a=sqrt 5) for weights and the bias
    assert layer.linear.weight.abs().max() <= bound and layer.linear.weight.abs().max() > 0.99 * bound
    features = torch.randn(5, 256)
    z = features @ layer.linear.weight.T + layer.linear.bias
    torch.testing.assert_close(layer(features), torch.exp(-(30.0 * z) ** 2))
    assert [type(block).__name__ for block in Gauss(2, 1, hidden=8, layers=1).net] == ["GaussLayer"] * 2 + ["Linear"]


def test_wire_widths_dtypes_and_gabor_formula():
    torch.manual_seed(0)
    net = Wire(2, 3, hidden=256, layers=2)
    first, hidden, output = net.net[0], net.net[1], net.net[-1]
    assert first.linear.weight.dtype == torch.float32 and isinstance(first.linear, Float32Linear)
    assert hidden.linear.weight.dtype == torch.complex64 and hidden.linear.weight.shape == (181, 181)  # 256/sqrt 2
    assert output.linear.weight.dtype == torch.complex64
    assert not first.omega_0.requires_grad and not hidden.sigma_0.requires_grad
    assert Wire(2, 1, hidden=16, layers=1, trainable=True).net[1].omega_0.requires_grad
    coords = torch.rand(6, 2) * 2 - 1
    z = coords @ first.linear.weight.T + first.linear.bias
    torch.testing.assert_close(first(coords), torch.exp(1j * 20.0 * z - (10.0 * z).abs() ** 2))
    values = net(coords)
    assert values.dtype == torch.float32 and values.shape == (6, 3)
    inner = hidden(first(coords))
    zc = first(coords) @ hidden.linear.weight.T + hidden.linear.bias
    torch.testing.assert_close(inner, torch.exp(1j * 20.0 * zc - (10.0 * zc).abs() ** 2))
    assert isinstance(GaborLayer(4, 4, is_first=False).linear, torch.nn.Linear)


@pytest.mark.parametrize("make", [
    functools.partial(Finer, hidden=16, layers=1, scale_req_grad=True, first_omega_0=5.0, hidden_omega_0=5.0),
    functools.partial(Gauss, hidden=16, layers=1, scale=2.0),
    functools.partial(Wire, hidden=16, layers=1, first_omega_0=3.0, hidden_omega_0=3.0, sigma_0=1.0),
], ids=["finer", "gauss", "wire"])
def test_input_gradients_and_laplacians_match_finite_differences(make):
    torch.manual_seed(0)
    net = make(2, 2)
    net = net.to(torch.complex128) if isinstance(net, Wire) else net.double()
    if isinstance(net, Wire):  # the input layer and the scalars stay real
        net.net[0].linear.to(torch.float64)
        for layer in net.net[:-1]:
            layer.omega_0.data, layer.sigma_0.data = layer.omega_0.data.real.double(), layer.sigma_0.data.real.double()
    coords = (torch.rand(5, 2, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    outputs = net(coords)
    gradient = torch.stack([torch.autograd.grad(outputs[:, c].sum(), coords, retain_graph=True)[0]
                            for c in range(2)], dim=1)  # [N, c, d]
    step = 1e-6
    for axis in range(2):
        shift = torch.zeros(2, dtype=torch.float64)
        shift[axis] = step
        with torch.no_grad():
            central = (net(coords + shift) - net(coords - shift)) / (2 * step)
        torch.testing.assert_close(gradient[:, :, axis], central, atol=1e-5, rtol=1e-5)
    # Laplacian of channel 0: autograd's second derivatives against second differences
    first = torch.autograd.grad(outputs[:, 0].sum(), coords, create_graph=True)[0]
    laplacian = sum(torch.autograd.grad(first[:, axis].sum(), coords, retain_graph=True)[0][:, axis]
                    for axis in range(2))
    step, second = 1e-4, torch.zeros(5, dtype=torch.float64)
    with torch.no_grad():
        for axis in range(2):
            shift = torch.zeros(2, dtype=torch.float64)
            shift[axis] = step
            second += (net(coords + shift)[:, 0] - 2 * net(coords)[:, 0] + net(coords - shift)[:, 0]) / step**2
    torch.testing.assert_close(laplacian, second, atol=1e-4, rtol=1e-5)


def test_finer_without_scale_gradient_is_refused_for_derivative_losses():
    from inr.core.signal import SignalSpec
    from inr.losses.derivatives import GradientLoss
    from inr.training.module import INRModule

    spec = SignalSpec(in_dim=2, out_dim=1, kind="image", shape=(4, 4))
    with pytest.raises(ValueError, match=r"the losses \['gradient'\] train on derivatives, but autograd's input "
                                         r"derivatives of Finer are not its own \(for Finer: set scale_req_grad"):
        INRModule(network=functools.partial(Finer, hidden=8, layers=1), losses=[GradientLoss()], signal=spec)
    INRModule(network=functools.partial(Finer, hidden=8, layers=1, scale_req_grad=True), losses=[GradientLoss()],
              signal=spec)


def _pemlp(in_dim: int, out_dim: int, hidden: int, layers: int) -> torch.nn.Module:
    """configs/zoo/pemlp.yaml's encoder + network."""
    from inr.nn.encoders import NerfPositionalEncoding
    from inr.nn.networks import MLP

    encoder = NerfPositionalEncoding(in_dim, num_frequencies=10)
    return torch.nn.Sequential(encoder, MLP(encoder.out_dim, out_dim, hidden=hidden, layers=layers))


@pytest.mark.parametrize("name", ["siren", "finer", "gauss", "wire", "pemlp"])
def test_same_seed_gives_the_official_models_weights_and_outputs(name):
    """bench/finer_reference.py copies the official models.py; from one seed inr's network is the same function."""
    from bench.finer_reference import official_model
    from inr.nn.networks import Siren

    make = {"siren": Siren, "finer": Finer, "gauss": functools.partial(Gauss, scale=30.0), "wire": Wire,
            "pemlp": _pemlp}[name]
    torch.manual_seed(3407)
    official = official_model(name, out=3, hidden=32, layers=2)
    torch.manual_seed(3407)
    mine = make(2, 3, hidden=32, layers=2)
    theirs = [p for p in official.parameters() if p.requires_grad]
    ours = [p for p in mine.parameters() if p.requires_grad]
    assert len(theirs) == len(ours) and all(torch.equal(a, b) for a, b in zip(theirs, ours))
    coords = torch.rand(50, 2) * 2 - 1
    torch.testing.assert_close(mine(coords), official(coords), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda: Finer(2, 1, first_omega_0=0.0), "Finer first_omega_0 must be > 0, got 0.0"),
    (lambda: Finer(2, 1, first_bias_scale=-1.0), "Finer first_bias_scale must be >= 0 \\(or null\\), got -1.0"),
    (lambda: Gauss(2, 1, scale=-3.0), "Gauss scale must be > 0, got -3.0"),
    (lambda: Wire(2, 1, sigma_0=0.0), "Wire sigma_0 must be > 0, got 0.0"),
    (lambda: Wire(2, 1, hidden=0), "Wire hidden must be > 0, got 0"),
    (lambda: Gauss(2, 1, layers=-1), "Gauss layers must be >= 0, got -1"),
])
def test_bad_zoo_arguments_raise_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()
