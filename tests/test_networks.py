import math

import pytest
import torch

from inr.networks import MLP, SIREN_OMEGA_0, Siren


def test_siren_initialisation_statistics():
    torch.manual_seed(0)
    siren = Siren(2, 1, hidden=512, layers=3)
    linears = [module for module in siren.modules() if isinstance(module, torch.nn.Linear)]
    first, hidden, last = linears[0], linears[1:-1], linears[-1]
    assert first.weight.abs().max() <= 1 / 2 and first.weight.abs().max() > 0.49
    for layer in hidden + [last]:
        bound = math.sqrt(6 / 512) / SIREN_OMEGA_0
        assert layer.weight.abs().max() <= bound
        # uniform on [-b, b] has std b / sqrt(3)
        assert abs(layer.weight.std().item() - bound / math.sqrt(3)) < 0.02 * bound
    # SIREN's key property: pre-activations of later layers are ~ standard normal, so activations
    # sin(.) follow the arcsine distribution with variance 1/2.
    coords = torch.rand(4096, 2) * 2 - 1
    activations = siren.net[:3](coords)
    assert abs(activations.var().item() - 0.5) < 0.05


def test_siren_shapes_and_omega():
    siren = Siren(3, 4, hidden=16, layers=2, first_omega_0=3000.0)
    assert siren(torch.rand(5, 7, 3)).shape == (5, 7, 4)
    assert siren.net[0].omega_0 == 3000.0
    assert len([m for m in siren.modules() if isinstance(m, torch.nn.Linear)]) == 4


@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu"])
def test_mlp_shapes(activation):
    mlp = MLP(6, 3, hidden=8, layers=2, activation=activation)
    assert mlp(torch.rand(2, 6)).shape == (2, 3)
    assert len([m for m in mlp.modules() if isinstance(m, torch.nn.Linear)]) == 4
    assert mlp.piecewise_linear == (activation == "relu")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: MLP(2, 1, hidden=0), "MLP hidden must be >= 1"),
        (lambda: MLP(2, 1, layers=-1), "MLP layers must be >= 0"),
        (lambda: MLP(2, 1, activation="swish"), "MLP activation must be one of"),
        (lambda: Siren(2, 0), "Siren out_dim must be >= 1"),
        (lambda: Siren(2, 1, first_omega_0=0.0), "Siren first_omega_0 must be > 0"),
    ],
)
def test_bad_network_arguments_raise_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()
