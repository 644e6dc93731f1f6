import math
from functools import partial

import pytest
import torch

from inr.nn.encoders import PositionalEncoding
from inr.nn.networks import MLP, SIREN_OMEGA_0, CoordinateMLP, Float32Linear, Layer, Siren


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


class _GaussLayer(Layer):
    """exp(-(s z)^2): a layer class as a new activation would add one."""

    def __init__(self, in_dim, out_dim, is_first, scale=10.0):
        super().__init__(in_dim, out_dim, is_first)
        self.scale = scale

    def forward(self, features):
        return torch.exp(-(self.scale * self.linear(features)) ** 2)


class _AbsLayer(Layer):
    piecewise_linear = True

    def forward(self, features):
        return self.linear(features).abs()


def test_a_new_layer_class_is_a_network_on_the_skeleton():
    net = CoordinateMLP(2, 3, hidden=8, layers=2, layer=_GaussLayer, layer_options={"scale": 2.0})
    coords = torch.rand(5, 2)
    first = net.net[0]
    assert isinstance(first.linear, Float32Linear) and not isinstance(net.net[1].linear, Float32Linear)
    z = coords @ first.linear.weight.T + first.linear.bias
    torch.testing.assert_close(first(coords), torch.exp(-(2.0 * z) ** 2))
    assert net(torch.rand(4, 7, 2)).shape == (4, 7, 3)
    assert (net.in_dim, net.out_dim, net.piecewise_linear) == (2, 3, False)
    assert CoordinateMLP(2, 1, hidden=4, layers=1, layer=_AbsLayer).piecewise_linear


def test_laplacian_loss_reads_what_network_and_encoder_declare():
    from inr.core.signal import SignalSpec
    from inr.losses.derivatives import LaplacianLoss
    from inr.training.module import INRModule

    spec = SignalSpec(in_dim=2, out_dim=1, kind="image", datamodule="datamodules.image.ImageDataModule", shape=(4, 4))
    network = partial(CoordinateMLP, hidden=4, layers=1, layer=_AbsLayer)
    with pytest.raises(ValueError, match="cannot train CoordinateMLP on raw coordinates"):
        INRModule(network=network, losses=[LaplacianLoss()], signal=spec)
    with pytest.warns(UserWarning, match="only the curvature of PositionalEncoding"):
        INRModule(encoder=PositionalEncoding, network=network, losses=[LaplacianLoss()], signal=spec)
    INRModule(network=partial(CoordinateMLP, hidden=4, layers=1, layer=_GaussLayer), losses=[LaplacianLoss()],
              signal=spec)


def test_mlp_reads_the_flat_sequential_layout():
    """The same MLP stored as one Sequential (linear, activation, ..., linear) loads with equal outputs."""
    torch.manual_seed(0)
    mlp = MLP(2, 3, hidden=8, layers=1)
    linears = [mlp.net[0].linear, mlp.net[1].linear, mlp.net[2]]
    flat = {}
    for index, layer in enumerate(linears):
        flat[f"net.{2 * index}.weight"], flat[f"net.{2 * index}.bias"] = layer.weight, layer.bias
    loaded = MLP(2, 3, hidden=8, layers=1)
    loaded.load_state_dict(flat)
    coords = torch.rand(6, 2)
    torch.testing.assert_close(loaded(coords), mlp(coords), rtol=0, atol=0)
