"""Coordinate networks: a plain MLP and SIREN.

SIREN: Sitzmann et al. 2020, "Implicit Neural Representations with Periodic Activation Functions".
Both take ``features[..., in_dim] -> values[..., out_dim]``. ``layers`` counts the hidden-to-hidden layers,
as SIREN's ``hidden_layers``: a network has 1 input layer, ``layers`` hidden layers and 1 output layer.
The input layer runs in full float32 (:func:`inr.precision.full_float32`) also under mixed precision: it sees the
coordinates themselves, and SIREN scales its pre-activation by w0 (3000 for audio).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from inr.errors import InputError
from inr.precision import at_least_float32, full_float32

# SIREN paper, Sec. 3.2: w0 = 30 makes sin(w0 x) span several periods over [-1, 1] at initialisation.
SIREN_OMEGA_0 = 30.0

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "softplus": nn.Softplus}


def _check_sizes(name: str, in_dim: int, out_dim: int, hidden: int, layers: int) -> None:
    for option, value, minimum in (("in_dim", in_dim, 1), ("out_dim", out_dim, 1), ("hidden", hidden, 1)):
        if value < minimum:
            raise InputError(f"{name} {option} must be >= {minimum}, got {value}")
    if layers < 0:
        raise InputError(f"{name} layers must be >= 0, got {layers}")


class Float32Linear(nn.Linear):
    """``nn.Linear`` computed in full float32 (autocast off, no TF32): the input layer of a network."""

    def forward(self, features: Tensor) -> Tensor:
        """[..., in_dim] -> float32 [..., out_dim]."""
        with full_float32(features.device.type):
            return super().forward(at_least_float32(features))


class MLP(nn.Module):
    """Fully connected network with a pointwise activation (ReLU by default).

    Args:
        in_dim: input features (the encoder's ``out_dim``).
        out_dim: output channels (the signal's channels).
        hidden: width of every hidden layer.
        layers: number of hidden-to-hidden layers.
        activation: pointwise nonlinearity.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        *,
        hidden: int = 256,
        layers: int = 3,
        activation: Literal["relu", "gelu", "tanh", "softplus"] = "relu",
    ) -> None:
        super().__init__()
        _check_sizes("MLP", in_dim, out_dim, hidden, layers)
        if activation not in _ACTIVATIONS:
            raise InputError(f"MLP activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        self.activation = activation
        widths = [in_dim] + [hidden] * (layers + 1)
        blocks: list[nn.Module] = []
        for index, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
            linear = Float32Linear if index == 0 else nn.Linear
            blocks += [linear(fan_in, fan_out), _ACTIVATIONS[activation]()]
        blocks.append(nn.Linear(hidden, out_dim))
        self.net = nn.Sequential(*blocks)

    @property
    def piecewise_linear(self) -> bool:
        """True when second derivatives vanish almost everywhere (ReLU)."""
        return self.activation == "relu"

    def forward(self, features: Tensor) -> Tensor:
        """Map features [..., in_dim] -> values [..., out_dim]."""
        return self.net(features)


class SineLayer(nn.Module):
    """sin(omega_0 * (W x + b)), the SIREN layer.

    Args:
        in_dim: input features.
        out_dim: output features.
        omega_0: frequency factor w0.
        is_first: the input layer: first-layer initialisation, pre-activation in full float32.
    """

    def __init__(self, in_dim: int, out_dim: int, omega_0: float, is_first: bool) -> None:
        super().__init__()
        self.omega_0 = omega_0
        self.linear = (Float32Linear if is_first else nn.Linear)(in_dim, out_dim)
        siren_init_(self.linear.weight, omega_0, is_first)

    def forward(self, features: Tensor) -> Tensor:
        """[..., in_dim] -> [..., out_dim], values in [-1, 1] (float32 for the input layer)."""
        return torch.sin(self.omega_0 * self.linear(features))


@torch.no_grad()
def siren_init_(weight: Tensor, omega_0: float, is_first: bool) -> Tensor:
    """SIREN initialisation (paper Sec. 3.2, supplement Sec. 1.5), in place.

    First layer U(-1/n, 1/n); later layers U(-sqrt(6/n)/w0, sqrt(6/n)/w0), n = fan-in, so that pre-activations
    of every layer are distributed like the first's.
    """
    fan_in = weight.shape[1]
    bound = 1.0 / fan_in if is_first else math.sqrt(6.0 / fan_in) / omega_0
    return weight.uniform_(-bound, bound)


class Siren(nn.Module):
    """SIREN: sine-activated MLP.

    Args:
        in_dim: input features (the encoder's ``out_dim``).
        out_dim: output channels.
        hidden: width of every hidden layer.
        layers: number of hidden-to-hidden sine layers.
        first_omega_0: w0 of the first layer (30 for images, 3000 for audio in the paper).
        hidden_omega_0: w0 of the later layers.
        outermost_linear: end with a linear layer (True) or with one more sine layer.
    """

    piecewise_linear = False

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        *,
        hidden: int = 256,
        layers: int = 3,
        first_omega_0: float = SIREN_OMEGA_0,
        hidden_omega_0: float = SIREN_OMEGA_0,
        outermost_linear: bool = True,
    ) -> None:
        super().__init__()
        _check_sizes("Siren", in_dim, out_dim, hidden, layers)
        for option, value in (("first_omega_0", first_omega_0), ("hidden_omega_0", hidden_omega_0)):
            if not value > 0:
                raise InputError(f"Siren {option} must be > 0, got {value}")
        blocks: list[nn.Module] = [SineLayer(in_dim, hidden, first_omega_0, is_first=True)]
        blocks += [SineLayer(hidden, hidden, hidden_omega_0, is_first=False) for _ in range(layers)]
        if outermost_linear:
            last = nn.Linear(hidden, out_dim)
            siren_init_(last.weight, hidden_omega_0, is_first=False)
            blocks.append(last)
        else:
            blocks.append(SineLayer(hidden, out_dim, hidden_omega_0, is_first=False))
        self.net = nn.Sequential(*blocks)

    def forward(self, features: Tensor) -> Tensor:
        """Map features [..., in_dim] -> values [..., out_dim]."""
        return self.net(features)
