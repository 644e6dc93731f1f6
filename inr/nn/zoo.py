"""Activation networks of the INR literature: layer classes on the CoordinateMLP skeleton.

Each has the initialisation of its official code:

- :class:`Finer` (Liu et al., CVPR 2024; liuzhen0212/FINER ``models.py``): sin(w0 (|z| + 1) z), z = W x + b, with
  SIREN's weight initialisation and an optional first-layer bias U(-k, k);
- :class:`Gauss` (Ramasinghe & Lucey, ECCV 2022; the FINER repository's ``GaussLayer``): exp(-(s z)^2) with
  PyTorch's default initialisation;
- :class:`Wire` (Saragadam et al., CVPR 2023; vishwa91/wire ``modules/wire.py``): the complex Gabor wavelet
  exp(i w0 z - |s0 z|^2), a real first layer, complex hidden layers of width hidden / sqrt(2) and the real part of
  a complex output layer;
- :class:`Sinc` (Saratchandran et al., ICML 2024, "A sampling theory perspective on activations for implicit neural
  representations"; no official code): sinc(w0 z) = sin(w0 z) / (w0 z), with SIREN's initialisation.

All take ``features [..., in_dim] -> values [..., out_dim]`` like :class:`inr.nn.networks.Siren`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from inr.core.errors import InputError
from inr.nn.networks import SIREN_OMEGA_0, CoordinateMLP, Layer, check_omegas, siren_init_, siren_output


class FinerLayer(Layer):
    """sin(omega_0 * (|z| + 1) * z) with z = W x + b, SIREN's weight initialisation.

    Args:
        in_dim: input features.
        out_dim: output features.
        is_first: the input layer (weights U(-1/n, 1/n), bias U(-k, k) when ``first_bias_scale`` k is given).
        omega_0: frequency factor w0.
        first_bias_scale: k of the input layer's bias U(-k, k); None keeps PyTorch's U(-1/sqrt(n), 1/sqrt(n)).
        scale_req_grad: differentiate through the scale |z| + 1; False (the official default) treats it as a
            constant in backward passes, so autograd's input derivatives are not the function's own.
    """

    def __init__(self, in_dim: int, out_dim: int, is_first: bool, omega_0: float = SIREN_OMEGA_0,
                 first_bias_scale: float | None = None, scale_req_grad: bool = False) -> None:
        super().__init__(in_dim, out_dim, is_first)
        self.omega_0, self.scale_req_grad = omega_0, scale_req_grad
        siren_init_(self.linear.weight, omega_0, is_first)
        if is_first and first_bias_scale is not None:
            with torch.no_grad():
                self.linear.bias.uniform_(-first_bias_scale, first_bias_scale)

    def forward(self, features: Tensor) -> Tensor:
        """[..., in_dim] -> [..., out_dim] in [-1, 1]."""
        z = self.linear(features)
        scale = z.abs() + 1 if self.scale_req_grad else z.detach().abs() + 1
        return torch.sin(self.omega_0 * scale * z)


class Finer(CoordinateMLP):
    """FINER: variable-periodic sine activations.

    Args:
        in_dim: input features.
        out_dim: output channels.
        hidden: width of every hidden layer.
        layers: number of hidden-to-hidden layers.
        first_omega_0: w0 of the input layer.
        hidden_omega_0: w0 of the later layers (and of the output layer's initialisation).
        first_bias_scale: k of the input layer's bias U(-k, k); None keeps PyTorch's default.
        scale_req_grad: differentiate through the scale |z| + 1 (needed for derivative losses).
    """

    def __init__(self, in_dim: int, out_dim: int, *, hidden: int = 256, layers: int = 3,
                 first_omega_0: float = SIREN_OMEGA_0, hidden_omega_0: float = SIREN_OMEGA_0,
                 first_bias_scale: float | None = None, scale_req_grad: bool = False) -> None:
        check_omegas("Finer", first_omega_0=first_omega_0, hidden_omega_0=hidden_omega_0)
        if first_bias_scale is not None and not first_bias_scale >= 0:
            raise InputError(f"Finer first_bias_scale must be >= 0 (or null), got {first_bias_scale}")
        super().__init__(in_dim, out_dim, hidden=hidden, layers=layers, layer=FinerLayer,
                         layer_options={"omega_0": hidden_omega_0, "scale_req_grad": scale_req_grad},
                         first_options={"omega_0": first_omega_0, "first_bias_scale": first_bias_scale},
                         output=siren_output(hidden_omega_0))
        self.scale_req_grad = scale_req_grad

    @property
    def exact_input_derivatives(self) -> bool:
        """Autograd gives the function's derivatives only when the scale is differentiated too."""
        return self.scale_req_grad


class GaussLayer(Layer):
    """exp(-(scale * (W x + b))^2) with PyTorch's default initialisation.

    Args:
        in_dim: input features.
        out_dim: output features.
        is_first: the input layer.
        scale: s, the inverse width of the Gaussian.
    """

    def __init__(self, in_dim: int, out_dim: int, is_first: bool, scale: float = 30.0) -> None:
        super().__init__(in_dim, out_dim, is_first)
        self.scale = scale

    def forward(self, features: Tensor) -> Tensor:
        """[..., in_dim] -> [..., out_dim] in (0, 1]."""
        return torch.exp(-(self.scale * self.linear(features)) ** 2)


class Gauss(CoordinateMLP):
    """Gaussian-activated network.

    Args:
        in_dim: input features.
        out_dim: output channels.
        hidden: width of every hidden layer.
        layers: number of hidden-to-hidden layers.
        scale: s of every layer (30 in the FINER comparison).
    """

    def __init__(self, in_dim: int, out_dim: int, *, hidden: int = 256, layers: int = 3, scale: float = 30.0) -> None:
        if not scale > 0:
            raise InputError(f"Gauss scale must be > 0, got {scale}")
        super().__init__(in_dim, out_dim, hidden=hidden, layers=layers, layer=GaussLayer,
                         layer_options={"scale": scale})


class GaborLayer(Layer):
    """exp(i omega_0 z - |sigma_0 z|^2), z = W x + b: real weights for the input layer, complex after it.

    Args:
        in_dim: input features.
        out_dim: output features.
        is_first: the input layer (real, float32 pre-activation); later layers are complex (PyTorch's default
            initialisation of a complex ``nn.Linear``).
        omega_0: w0, the wavelet's frequency.
        sigma_0: s0, the inverse width of its Gaussian window.
        trainable: learn w0 and s0 too.
    """

    def __init__(self, in_dim: int, out_dim: int, is_first: bool, omega_0: float = 20.0, sigma_0: float = 10.0,
                 trainable: bool = False) -> None:
        super().__init__(in_dim, out_dim, is_first, dtype=None if is_first else torch.cfloat)
        self.omega_0 = nn.Parameter(torch.tensor([float(omega_0)]), requires_grad=trainable)
        self.sigma_0 = nn.Parameter(torch.tensor([float(sigma_0)]), requires_grad=trainable)

    def forward(self, features: Tensor) -> Tensor:
        """[..., in_dim] (real or complex) -> complex [..., out_dim]."""
        z = self.linear(features)
        return torch.exp(1j * self.omega_0 * z - (self.sigma_0 * z).abs().square())


class RealPart(nn.Module):
    """A complex linear output layer, then the real part: complex [..., in_dim] -> real [..., out_dim]."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_dim, out_dim, dtype=torch.cfloat)

    def forward(self, features: Tensor) -> Tensor:
        """Real part of the complex affine map."""
        return self.linear(features).real


class Wire(CoordinateMLP):
    """WIRE: complex Gabor wavelet activations.

    A complex number holds two reals, so the hidden width is ``int(hidden / sqrt(2))`` (WIRE's own choice), which
    keeps the parameter count near a real network of width ``hidden``.

    Args:
        in_dim: input features.
        out_dim: output channels.
        hidden: the width of the comparable real network (the complex width is hidden / sqrt(2)).
        layers: number of hidden-to-hidden layers.
        first_omega_0: w0 of the input layer.
        hidden_omega_0: w0 of the later layers.
        sigma_0: s0 of every layer.
        trainable: learn w0 and s0 of the hidden layers (the input layer's stay fixed, as in WIRE's code).
    """

    def __init__(self, in_dim: int, out_dim: int, *, hidden: int = 256, layers: int = 3, first_omega_0: float = 20.0,
                 hidden_omega_0: float = 20.0, sigma_0: float = 10.0, trainable: bool = False) -> None:
        for option, value in (("first_omega_0", first_omega_0), ("hidden_omega_0", hidden_omega_0),
                              ("sigma_0", sigma_0), ("hidden", hidden)):
            if not value > 0:
                raise InputError(f"Wire {option} must be > 0, got {value}")
        width = max(1, int(hidden / math.sqrt(2)))
        super().__init__(in_dim, out_dim, hidden=width, layers=layers, layer=GaborLayer,
                         layer_options={"omega_0": hidden_omega_0, "sigma_0": sigma_0, "trainable": trainable},
                         first_options={"omega_0": first_omega_0, "trainable": False}, output=RealPart)


#: Taylor coefficients of sin(u) / u in powers of u^2, (-1)^k / (2k + 1)!, up to u^6: the next term, u^8 / 9!, is
#: below float64's rounding for |u| < 0.05 and below float32's for |u| < 0.5.
_SINC_SERIES = tuple((-1) ** k / math.factorial(2 * k + 1) for k in range(4))
#: |u| below which :func:`stable_sinc` uses the series, per dtype: above it, autograd's second derivative of
#: sin(u) / u loses ~2 eps / |u|^3 to cancellation (float32 at 0.5 and float64 at 0.05: < 1e-5 relative).
_SINC_SERIES_BELOW = {torch.float64: 0.05}
_SINC_SERIES_BELOW_DEFAULT = 0.5


def stable_sinc(u: Tensor) -> Tensor:
    """sin(u) / u (1 at u = 0), elementwise; autograd's first and second derivatives are finite and accurate at 0.

    ``torch.sinc`` has the right value and first derivative at 0 but a NaN second derivative there (and one 60% off
    at 1e-8), which a Laplacian loss would meet; near 0 this evaluates the Taylor series instead.
    """
    small = u.abs() < _SINC_SERIES_BELOW.get(u.dtype, _SINC_SERIES_BELOW_DEFAULT)
    safe = torch.where(small, torch.ones_like(u), u)  # keeps the unused branch's gradient finite at u = 0
    square = u * u
    series = _SINC_SERIES[-1] * square + _SINC_SERIES[-2]
    for coefficient in reversed(_SINC_SERIES[:-2]):
        series = series * square + coefficient
    return torch.where(small, series, torch.sin(safe) / safe)


class SincLayer(Layer):
    """sinc(omega_0 * z) = sin(omega_0 z) / (omega_0 z) with z = W x + b, SIREN's weight initialisation.

    Args:
        in_dim: input features.
        out_dim: output features.
        is_first: the input layer (weights U(-1/n, 1/n), pre-activation in full float32).
        omega_0: frequency factor w0 (the sinc's first zero is at z = pi / w0).
    """

    def __init__(self, in_dim: int, out_dim: int, is_first: bool, omega_0: float = SIREN_OMEGA_0) -> None:
        super().__init__(in_dim, out_dim, is_first)
        self.omega_0 = omega_0
        siren_init_(self.linear.weight, omega_0, is_first)

    def forward(self, features: Tensor) -> Tensor:
        """[..., in_dim] -> [..., out_dim] in [-0.22, 1] (float32 for the input layer)."""
        return stable_sinc(self.omega_0 * self.linear(features))


class Sinc(CoordinateMLP):
    """Sinc-activated network (Saratchandran et al., ICML 2024).

    The paper defines the activation sinc(w0 z) = sin(w0 z) / (w0 z) and proves it optimal among the activations it
    studies for sampling-based reconstruction; no official code was found. The choices the paper's definition leaves
    open follow SIREN, whose frequency factor w0 plays the same role here: first layer U(-1/n, 1/n), later layers
    and the output layer U(-sqrt(6/n)/w0, sqrt(6/n)/w0), PyTorch's default biases; w0 = 30 by default.

    Args:
        in_dim: input features.
        out_dim: output channels.
        hidden: width of every hidden layer.
        layers: number of hidden-to-hidden layers.
        first_omega_0: w0 of the input layer.
        hidden_omega_0: w0 of the later layers (and of the output layer's initialisation).
    """

    def __init__(self, in_dim: int, out_dim: int, *, hidden: int = 256, layers: int = 3,
                 first_omega_0: float = SIREN_OMEGA_0, hidden_omega_0: float = SIREN_OMEGA_0) -> None:
        check_omegas("Sinc", first_omega_0=first_omega_0, hidden_omega_0=hidden_omega_0)
        super().__init__(in_dim, out_dim, hidden=hidden, layers=layers, layer=SincLayer,
                         layer_options={"omega_0": hidden_omega_0}, first_options={"omega_0": first_omega_0},
                         output=siren_output(hidden_omega_0))
