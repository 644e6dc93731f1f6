"""Multiplicative filter networks: products of input filters instead of activations (Fathony et al., ICLR 2021).

Follows the official code, boschresearch/multiplicative-filter-networks ``mfn/mfn.py``: no activation between
layers; each step multiplies a linear map of the features by a filter of the input itself.

    z_1 = g_1(x);  z_{i+1} = (W_i z_i + b_i) * g_{i+1}(x), i = 1..layers;  values = W_out z_{layers+1} + b_out

- :class:`FourierNet`: sine filters g(x) = sin(V x + c);
- :class:`GaborNet`: Gabor filters g(x) = exp(-gamma/2 ||x - mu||^2) * sin(V x + c).

``layers`` is the official ``n_layers``: ``layers + 1`` filters (1 input + ``layers`` hidden) and ``layers`` hidden
linear maps, so ``layers=3`` matches "one input layer, 3 hidden". Every filter sees the coordinates themselves, so
every filter computes in full float32 (:func:`inr.core.precision.full_float32`) also under mixed precision.
The constants and the order of the random draws are the official code's: from one seed the parameters are the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from inr.core.errors import InputError
from inr.core.precision import at_least_float32, full_float32
from inr.nn.networks import CoordinateNetwork, Float32Linear

# The official image experiment (mfn/experiments/image_rep.py): coordinates linspace(-1, 1), targets in [-1, 1].
MFN_INPUT_SCALE = 256.0
MFN_WEIGHT_SCALE = 1.0
# GaborNet's defaults in mfn/mfn.py: gamma ~ Gamma(alpha / (n_layers + 1), beta), beta a rate.
GABOR_ALPHA = 6.0
GABOR_BETA = 1.0


class FourierFilter(nn.Module):
    """sin(V x + c): ``[..., in_dim] -> [..., out_dim]`` in [-1, 1], float32 (float64 stays float64).

    V starts as PyTorch's default U(-1/sqrt(n), 1/sqrt(n)) times ``frequency_scale``, c as U(-pi, pi).

    Args:
        in_dim: input coordinates.
        out_dim: filters.
        frequency_scale: factor on V's default initialisation (input_scale / sqrt(layers + 1)).
    """

    def __init__(self, in_dim: int, out_dim: int, frequency_scale: float) -> None:
        super().__init__()
        self.linear = Float32Linear(in_dim, out_dim)
        with torch.no_grad():
            self.linear.weight.mul_(frequency_scale)
            self.linear.bias.uniform_(-math.pi, math.pi)

    def forward(self, coords: Tensor) -> Tensor:
        """[..., in_dim] -> [..., out_dim]."""
        return torch.sin(self.linear(coords))


class GaborFilter(nn.Module):
    """exp(-gamma/2 ||x - mu||^2) * sin(V x + c): ``[..., in_dim] -> [..., out_dim]``, float32 or float64.

    mu ~ U(-1, 1)^in_dim (the coordinate range), gamma ~ Gamma(alpha, beta) with beta a rate (mean alpha / beta),
    V = PyTorch's default U(-1/sqrt(n), 1/sqrt(n)) times ``frequency_scale * sqrt(gamma)`` (a narrower window gets a
    higher frequency), c ~ U(-pi, pi). mu and gamma are trained.

    Args:
        in_dim: input coordinates.
        out_dim: filters.
        frequency_scale: factor on V's default initialisation (input_scale / sqrt(layers + 1)).
        alpha: shape of gamma's Gamma distribution (alpha / (layers + 1) in GaborNet).
        beta: rate of gamma's Gamma distribution.
    """

    def __init__(self, in_dim: int, out_dim: int, frequency_scale: float, alpha: float, beta: float) -> None:
        super().__init__()
        self.linear = Float32Linear(in_dim, out_dim)
        self.mu = nn.Parameter(2 * torch.rand(out_dim, in_dim) - 1)
        self.gamma = nn.Parameter(torch.distributions.Gamma(alpha, beta).sample((out_dim,)))
        with torch.no_grad():
            self.linear.weight.mul_(frequency_scale * self.gamma[:, None].sqrt())
            self.linear.bias.uniform_(-math.pi, math.pi)

    def forward(self, coords: Tensor) -> Tensor:
        """[..., in_dim] -> [..., out_dim]."""
        with full_float32(coords.device.type):
            coords = at_least_float32(coords)
            # ||x - mu||^2 expanded as the official code does: one matmul, no [..., out_dim, in_dim] tensor.
            square_distance = (coords.square().sum(-1, keepdim=True) + self.mu.square().sum(-1)
                               - 2 * coords @ self.mu.T)
            window = torch.exp(-0.5 * square_distance * self.gamma)
        return torch.sin(self.linear(coords)) * window


class MultiplicativeFilterNetwork(CoordinateNetwork):
    """``layers + 1`` filters of the input, multiplied into ``layers`` hidden linear maps, then a linear output.

    Hidden maps: weights U(-sqrt(weight_scale / hidden), sqrt(weight_scale / hidden)), PyTorch's default biases;
    the output layer has PyTorch's default initialisation. Random draws in the official order: hidden maps, output
    layer, hidden weights again, then the filters one by one.

    Args:
        in_dim: input features.
        out_dim: output channels.
        hidden: filters per filter layer, the width of every hidden map.
        layers: hidden-to-hidden multiplicative steps (the official ``n_layers``).
        weight_scale: variance factor of the hidden maps' weights.
        make_filter: builds one filter from (in_dim, hidden).
    """

    def __init__(self, in_dim: int, out_dim: int, *, hidden: int, layers: int, weight_scale: float,
                 make_filter: Callable[[int, int], nn.Module]) -> None:
        super().__init__(in_dim, out_dim)
        if hidden < 1:
            raise InputError(f"{type(self).__name__} hidden must be >= 1, got {hidden}")
        if layers < 0:
            raise InputError(f"{type(self).__name__} layers must be >= 0, got {layers}")
        if not weight_scale > 0:
            raise InputError(f"{type(self).__name__} weight_scale must be > 0, got {weight_scale}")
        self.linears = nn.ModuleList([nn.Linear(hidden, hidden) for _ in range(layers)])
        self.output = nn.Linear(hidden, out_dim)
        bound = math.sqrt(weight_scale / hidden)
        with torch.no_grad():
            for linear in self.linears:
                linear.weight.uniform_(-bound, bound)
        self.filters = nn.ModuleList([make_filter(in_dim, hidden) for _ in range(layers + 1)])

    def forward(self, features: Tensor) -> Tensor:
        """Map features [..., in_dim] -> values [..., out_dim]."""
        hidden = self.filters[0](features)
        for linear, filter_ in zip(self.linears, self.filters[1:]):
            hidden = filter_(features) * linear(hidden)
        return self.output(hidden)


def _check_input_scale(network: str, input_scale: float) -> None:
    if not input_scale > 0:
        raise InputError(f"{network} input_scale must be > 0, got {input_scale}")


class FourierNet(MultiplicativeFilterNetwork):
    """FourierNet: sine filters, a sum of sinusoids of integer combinations of the filters' frequencies.

    Args:
        in_dim: input features.
        out_dim: output channels.
        hidden: width of every filter and hidden map.
        layers: hidden-to-hidden multiplicative steps (``layers + 1`` filters; the official ``n_layers``).
        input_scale: the filters' frequency scale; each filter's weights are scaled by input_scale / sqrt(layers + 1)
            so that the product of the ``layers + 1`` filters reaches frequencies ~input_scale (rad per unit of x).
        weight_scale: variance factor of the hidden maps' weights U(-sqrt(weight_scale / hidden), +).
    """

    def __init__(self, in_dim: int, out_dim: int, *, hidden: int = 256, layers: int = 3,
                 input_scale: float = MFN_INPUT_SCALE, weight_scale: float = MFN_WEIGHT_SCALE) -> None:
        _check_input_scale("FourierNet", input_scale)
        frequency_scale = input_scale / math.sqrt(max(layers, 0) + 1)
        super().__init__(in_dim, out_dim, hidden=hidden, layers=layers, weight_scale=weight_scale,
                         make_filter=lambda n_in, n_out: FourierFilter(n_in, n_out, frequency_scale))


class GaborNet(MultiplicativeFilterNetwork):
    """GaborNet: Gabor filters, sinusoids under Gaussian windows centred at mu with inverse variance gamma.

    Args:
        in_dim: input features.
        out_dim: output channels.
        hidden: width of every filter and hidden map.
        layers: hidden-to-hidden multiplicative steps (``layers + 1`` filters; the official ``n_layers``).
        input_scale: the filters' frequency scale (weights times input_scale / sqrt(layers + 1) * sqrt(gamma)).
        weight_scale: variance factor of the hidden maps' weights U(-sqrt(weight_scale / hidden), +).
        alpha: gamma ~ Gamma(alpha / (layers + 1), beta): the product of the ``layers + 1`` windows has an inverse
            variance ~ Gamma(alpha, beta).
        beta: rate of gamma's Gamma distribution (mean alpha / ((layers + 1) beta) per filter).
    """

    def __init__(self, in_dim: int, out_dim: int, *, hidden: int = 256, layers: int = 3,
                 input_scale: float = MFN_INPUT_SCALE, weight_scale: float = MFN_WEIGHT_SCALE,
                 alpha: float = GABOR_ALPHA, beta: float = GABOR_BETA) -> None:
        _check_input_scale("GaborNet", input_scale)
        for option, value in (("alpha", alpha), ("beta", beta)):
            if not value > 0:
                raise InputError(f"GaborNet {option} must be > 0, got {value}")
        filters = max(layers, 0) + 1
        frequency_scale = input_scale / math.sqrt(filters)
        super().__init__(in_dim, out_dim, hidden=hidden, layers=layers, weight_scale=weight_scale,
                         make_filter=lambda n_in, n_out: GaborFilter(n_in, n_out, frequency_scale,
                                                                     alpha / filters, beta))
