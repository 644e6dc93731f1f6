"""Coordinate networks on one skeleton: a stack of layers of one layer class, then a linear output layer.

Every network maps ``features[..., in_dim] -> values[..., out_dim]`` and declares whether it is piecewise linear in
its input (:class:`CoordinateNetwork`). :class:`CoordinateMLP` builds 1 input layer, ``layers`` hidden layers
(hidden-to-hidden, as SIREN's ``hidden_layers``) and 1 output layer from a :class:`Layer` class, so a network with
a new activation is one layer class with its own initialisation and a thin subclass naming its options:

- :class:`MLP`: ``ActivationLayer`` (linear + ReLU/GELU/tanh/softplus, PyTorch's default initialisation);
- :class:`Siren`: ``SineLayer`` (Sitzmann et al. 2020, "Implicit Neural Representations with Periodic Activation
  Functions").

The input layer runs in full float32 (:func:`inr.core.precision.full_float32`) also under mixed precision: it sees the
coordinates themselves, and SIREN scales its pre-activation by w0 (3000 for audio).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from inr.core.errors import InputError
from inr.core.precision import at_least_float32, full_float32

# SIREN paper, Sec. 3.2: w0 = 30 makes sin(w0 x) span several periods over [-1, 1] at initialisation.
SIREN_OMEGA_0 = 30.0

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "softplus": nn.Softplus}
_PIECEWISE_LINEAR_ACTIVATIONS = {"relu"}


class Float32Linear(nn.Linear):
    """``nn.Linear`` computed in full float32 (autocast off, no TF32): the input layer of a network."""

    def forward(self, features: Tensor) -> Tensor:
        """[..., in_dim] -> float32 [..., out_dim] (float64 for a float64 layer, as under ``precision 64-true``)."""
        with full_float32(features.device.type):
            return super().forward(at_least_float32(features).to(self.weight.dtype))


def linear(in_dim: int, out_dim: int, is_first: bool, dtype: torch.dtype | None = None) -> nn.Linear:
    """The affine map of a layer: :class:`Float32Linear` for the input layer, ``nn.Linear`` otherwise."""
    return (Float32Linear if is_first else nn.Linear)(in_dim, out_dim, dtype=dtype)


class CoordinateNetwork(nn.Module):
    """Base of every network: ``features [..., in_dim] -> values [..., out_dim]``.

    Args:
        in_dim: input features (the encoder's ``out_dim``).
        out_dim: output channels (the signal's channels).
    """

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        for option, value in (("in_dim", in_dim), ("out_dim", out_dim)):
            if value < 1:
                raise InputError(f"{type(self).__name__} {option} must be >= 1, got {value}")
        self.in_dim, self.out_dim = in_dim, out_dim

    @property
    def piecewise_linear(self) -> bool:
        """True when the network's second derivatives w.r.t. its input vanish almost everywhere (ReLU)."""
        return False

    @property
    def exact_input_derivatives(self) -> bool:
        """Whether autograd's derivatives w.r.t. the input are the function's own (derivative losses need it)."""
        return True

    def describe(self) -> str:
        """A short name for messages, e.g. ``MLP(activation='relu')``."""
        return type(self).__name__

    def parameter_groups(self) -> list[dict[str, Any]]:
        """Optimizer groups with options of their own; none here."""
        return []


class Layer(nn.Module):
    """Base of the layer classes :class:`CoordinateMLP` stacks: ``[..., in_dim] -> [..., out_dim]``.

    A subclass takes ``(in_dim, out_dim, is_first, **options)``, lets the base class set ``self.linear`` with
    :func:`linear` (the input layer computes in float32; ``dtype`` e.g. complex for later layers) and initialises it
    as its paper does.
    """

    #: whether the layer is piecewise linear in its input.
    piecewise_linear: ClassVar[bool] = False

    def __init__(self, in_dim: int, out_dim: int, is_first: bool, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.is_first = is_first
        self.linear = linear(in_dim, out_dim, is_first, dtype)


class CoordinateMLP(CoordinateNetwork):
    """``layers + 1`` layers of one layer class (input layer first), then an output layer.

    Args:
        in_dim: input features.
        out_dim: output channels.
        hidden: width of every hidden layer.
        layers: number of hidden-to-hidden layers.
        layer: the layer class.
        layer_options: keyword options of every layer (e.g. ``omega_0``); ``first_options`` override them for the
            input layer.
        first_options: options of the input layer that differ from ``layer_options``.
        output: builds the output layer from (hidden, out_dim), after the other layers (their random draws come
            first); default ``nn.Linear`` with PyTorch's initialisation.
    """

    def __init__(
        self, in_dim: int, out_dim: int, *, hidden: int, layers: int, layer: type[Layer],
        layer_options: dict[str, Any] | None = None, first_options: dict[str, Any] | None = None,
        output: Callable[[int, int], nn.Module] = nn.Linear,
    ) -> None:
        super().__init__(in_dim, out_dim)
        if hidden < 1:
            raise InputError(f"{type(self).__name__} hidden must be >= 1, got {hidden}")
        if layers < 0:
            raise InputError(f"{type(self).__name__} layers must be >= 0, got {layers}")
        options = layer_options or {}
        blocks: list[nn.Module] = [layer(in_dim, hidden, is_first=True, **{**options, **(first_options or {})})]
        blocks += [layer(hidden, hidden, is_first=False, **options) for _ in range(layers)]
        blocks.append(output(hidden, out_dim))
        self.net = nn.Sequential(*blocks)
        self.layer_class = layer

    @property
    def piecewise_linear(self) -> bool:
        """Whether the layers are piecewise linear (the output layer is linear)."""
        return all(block.piecewise_linear for block in self.net[:-1])

    def forward(self, features: Tensor) -> Tensor:
        """Map features [..., in_dim] -> values [..., out_dim]."""
        return self.net(features)


class ActivationLayer(Layer):
    """``activation(W x + b)`` with PyTorch's default initialisation.

    Args:
        in_dim: input features.
        out_dim: output features.
        is_first: the input layer (pre-activation in full float32).
        activation: pointwise nonlinearity.
    """

    def __init__(self, in_dim: int, out_dim: int, is_first: bool, activation: str = "relu") -> None:
        super().__init__(in_dim, out_dim, is_first)
        if activation not in _ACTIVATIONS:
            raise InputError(f"MLP activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        self.activation = _ACTIVATIONS[activation]()
        self.piecewise_linear = activation in _PIECEWISE_LINEAR_ACTIVATIONS

    def forward(self, features: Tensor) -> Tensor:
        """[..., in_dim] -> [..., out_dim]."""
        return self.activation(self.linear(features))


#: state-dict keys of an MLP stored as one flat Sequential (linear, activation, linear, ..., linear).
_FLAT_MLP_KEY = re.compile(r"net\.(\d+)\.(weight|bias)$")


class MLP(CoordinateMLP):
    """Fully connected network with a pointwise activation (ReLU by default).

    Args:
        in_dim: input features (the encoder's ``out_dim``).
        out_dim: output channels (the signal's channels).
        hidden: width of every hidden layer.
        layers: number of hidden-to-hidden layers.
        activation: pointwise nonlinearity.
    """

    def __init__(self, in_dim: int, out_dim: int, *, hidden: int = 256, layers: int = 3,
                 activation: Literal["relu", "gelu", "tanh", "softplus"] = "relu") -> None:
        if activation not in _ACTIVATIONS:
            raise InputError(f"MLP activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        super().__init__(in_dim, out_dim, hidden=hidden, layers=layers, layer=ActivationLayer,
                         layer_options={"activation": activation})
        self.activation = activation

    def describe(self) -> str:
        """``MLP(activation='relu')``."""
        return f"MLP(activation={self.activation!r})"

    def _load_from_state_dict(self, state_dict: dict[str, Tensor], prefix: str, *args: Any) -> None:
        """Also read the flat layout of the same network: ``net.{2i}`` = linear of layer i, the last = output."""
        if f"{prefix}net.0.weight" in state_dict:
            last = len(self.net) - 1
            for key in [key for key in state_dict if key.startswith(prefix)]:
                match = _FLAT_MLP_KEY.fullmatch(key[len(prefix):])
                if match is not None:
                    index, name = int(match[1]) // 2, match[2]
                    target = f"net.{last}" if index == last else f"net.{index}.linear"
                    state_dict[f"{prefix}{target}.{name}"] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args)


@torch.no_grad()
def siren_init_(weight: Tensor, omega_0: float, is_first: bool) -> Tensor:
    """SIREN initialisation (paper Sec. 3.2, supplement Sec. 1.5), in place.

    First layer U(-1/n, 1/n); later layers U(-sqrt(6/n)/w0, sqrt(6/n)/w0), n = fan-in, so that pre-activations
    of every layer are distributed like the first's.
    """
    fan_in = weight.shape[1]
    bound = 1.0 / fan_in if is_first else math.sqrt(6.0 / fan_in) / omega_0
    return weight.uniform_(-bound, bound)


def check_omegas(owner: str, **omegas: float) -> None:
    """Refuse a frequency factor w0 that is not > 0, naming ``owner`` and the option."""
    for option, value in omegas.items():
        if not value > 0:
            raise InputError(f"{owner} {option} must be > 0, got {value}")


def siren_output(omega_0: float) -> Callable[[int, int], nn.Module]:
    """An output-layer factory: ``nn.Linear`` with SIREN's hidden-layer initialisation for ``omega_0``."""
    def output(hidden: int, out_dim: int) -> nn.Module:
        last = nn.Linear(hidden, out_dim)
        siren_init_(last.weight, omega_0, is_first=False)
        return last

    return output


class SineLayer(Layer):
    """sin(omega_0 * (W x + b)), the SIREN layer, with SIREN's initialisation.

    Args:
        in_dim: input features.
        out_dim: output features.
        is_first: the input layer: first-layer initialisation, pre-activation in full float32.
        omega_0: frequency factor w0.
    """

    def __init__(self, in_dim: int, out_dim: int, is_first: bool, omega_0: float = SIREN_OMEGA_0) -> None:
        super().__init__(in_dim, out_dim, is_first)
        self.omega_0 = omega_0
        siren_init_(self.linear.weight, omega_0, is_first)

    def forward(self, features: Tensor) -> Tensor:
        """[..., in_dim] -> [..., out_dim], values in [-1, 1] (float32 for the input layer)."""
        return torch.sin(self.omega_0 * self.linear(features))


class Siren(CoordinateMLP):
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

    def __init__(self, in_dim: int, out_dim: int, *, hidden: int = 256, layers: int = 3,
                 first_omega_0: float = SIREN_OMEGA_0, hidden_omega_0: float = SIREN_OMEGA_0,
                 outermost_linear: bool = True) -> None:
        check_omegas("Siren", first_omega_0=first_omega_0, hidden_omega_0=hidden_omega_0)

        def output(hidden: int, out_dim: int) -> nn.Module:
            if not outermost_linear:
                return SineLayer(hidden, out_dim, is_first=False, omega_0=hidden_omega_0)
            return siren_output(hidden_omega_0)(hidden, out_dim)

        super().__init__(in_dim, out_dim, hidden=hidden, layers=layers, layer=SineLayer,
                         layer_options={"omega_0": hidden_omega_0}, first_options={"omega_0": first_omega_0},
                         output=output)
