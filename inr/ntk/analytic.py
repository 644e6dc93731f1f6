"""Closed-form NTKs: the infinite-width ReLU MLP (arc-cosine recursion) and Fourier features + a linear layer.

ReLU MLP: Jacot et al. 2018 (NTK recursion), Cho & Saul 2009 (arc-cosine kernels), Arora et al. 2019 ("On Exact
Computation with an Infinitely Wide Neural Net") for the form used here. Fourier features: Tancik et al. 2020,
Sec. 4, "the NTK of a Fourier feature mapping followed by a linear layer is stationary".

The MLP is ``h^1 = W^1 x + b^1``, ``h^{l+1} = W^{l+1} relu(h^l) + b^{l+1}``, last layer linear, with Gaussian
weights ``W^l ~ N(0, weight_var / fan_in)`` and biases ``b^l ~ N(0, bias_var)`` (see :func:`gaussian_init_`).
For a pair of inputs with pre-activation covariance [[a, c], [c, b]], rho = c / sqrt(ab), theta = arccos rho:
    E[relu(u) relu(v)]   = sqrt(ab) / (2 pi) (sin theta + (pi - theta) cos theta)
    E[relu'(u) relu'(v)] = (pi - theta) / (2 pi).
With back-propagated products D^l (D^{L+1} = 1, D^l = weight_var E_l[relu' relu'] D^{l+1}) and forward
products E^{l-1} (E^0 = x.x' / d, E^l = E_l[relu relu]), the kernel is the sum over layers of the weight and bias
contributions, sum_l D^l (A_l E^{l-1} + B_l):
- ``parameterization="ntk"`` (Jacot: W = sqrt(weight_var / fan_in) w, b = sqrt(bias_var) beta, w, beta ~ N(0, 1)):
  A_l = weight_var, B_l = bias_var, the width-independent limit;
- ``parameterization="standard"`` (PyTorch's nn.Linear with the Gaussian init): A_l = fan_in_l, B_l = 1, the
  infinite-width expectation of the kernel of a network whose hidden layers have ``width`` units (grows with it).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from inr.core.errors import InputError


def _relu_moments(cov: Tensor, var1: Tensor, var2: Tensor) -> tuple[Tensor, Tensor]:
    """E[relu(u) relu(v)] and E[relu'(u) relu'(v)] for (u, v) centred Gaussian; all inputs [N, M]."""
    norm = (var1 * var2).clamp_min(1e-300).sqrt()
    rho = (cov / norm).clamp(-1.0, 1.0)
    theta = torch.arccos(rho)
    value = norm / (2 * math.pi) * (torch.sin(theta) + (math.pi - theta) * rho)
    derivative = (math.pi - theta) / (2 * math.pi)
    return value, derivative


def relu_ntk(
    x1: Tensor,
    x2: Tensor | None = None,
    *,
    hidden_layers: int = 4,
    weight_var: float = 2.0,
    bias_var: float = 0.0,
    parameterization: Literal["ntk", "standard"] = "ntk",
    width: int | None = None,
) -> Tensor:
    """Infinite-width NTK of a ReLU MLP with ``hidden_layers`` ReLU layers and a linear scalar output.

    ``hidden_layers`` counts ReLU layers: ``inr.nn.networks.MLP(d, 1, layers=L)`` has L + 1 of them. Inputs are
    the network's input features (apply the encoder first: the analytic kernel of encoder + MLP).

    Args:
        x1: features [N, d] (float64 recommended).
        x2: features [M, d]; ``None`` means ``x1``.
        hidden_layers: number of ReLU layers (>= 1).
        weight_var: sigma_w^2, weights ~ N(0, sigma_w^2 / fan_in) (2 = He initialisation).
        bias_var: sigma_b^2, biases ~ N(0, sigma_b^2).
        parameterization: ``"ntk"`` (width-independent limit) or ``"standard"`` (PyTorch layers, needs ``width``).
        width: hidden width, for ``"standard"``.

    Returns:
        K [N, M].
    """
    if hidden_layers < 1:
        raise InputError(f"relu_ntk hidden_layers must be >= 1, got {hidden_layers}")
    if parameterization not in ("ntk", "standard"):
        raise InputError(f"relu_ntk parameterization must be 'ntk' or 'standard', got {parameterization!r}")
    if parameterization == "standard" and (width is None or width < 1):
        raise InputError("relu_ntk with parameterization='standard' needs the hidden width (width >= 1)")
    x2 = x1 if x2 is None else x2
    d = x1.shape[-1]
    # forward products E^{l-1} and the diagonals (variances) of each point, for layers l = 1..L+1
    prod, var1, var2 = x1 @ x2.T / d, x1.pow(2).sum(-1, keepdim=True) / d, x2.pow(2).sum(-1, keepdim=True).T / d
    fan_ins = [d] + [width or 1] * hidden_layers
    forward: list[Tensor] = [prod]
    derivatives: list[Tensor] = []
    for _ in range(hidden_layers):
        cov, v1, v2 = (weight_var * t + bias_var for t in (prod, var1, var2))  # pre-activation covariances
        prod, derivative = _relu_moments(cov, v1, v2)
        var1, var2 = v1 / 2, v2 / 2  # E[relu(u)^2] = var / 2
        forward.append(prod)
        derivatives.append(derivative)
    kernel = torch.zeros_like(forward[0])
    back = torch.ones_like(forward[0])  # D^{L+1}
    for layer in range(hidden_layers, -1, -1):  # layer index l - 1 = 0..L
        if parameterization == "ntk":
            kernel = kernel + back * (weight_var * forward[layer] + bias_var)
        else:
            kernel = kernel + back * (fan_ins[layer] * forward[layer] + 1.0)
        if layer > 0:
            back = back * weight_var * derivatives[layer - 1]
    return kernel


@torch.no_grad()
def gaussian_init_(network: nn.Module, weight_var: float = 2.0, bias_var: float = 0.0) -> nn.Module:
    """Re-initialise every ``nn.Linear`` of ``network`` as :func:`relu_ntk` assumes, in place.

    Weights ~ N(0, weight_var / fan_in), biases ~ N(0, bias_var), drawn from the global RNG (seed it, or build
    the model inside :func:`inr.ntk.averaged_ntk`'s factory).

    Returns:
        ``network``.
    """
    for module in network.modules():
        if isinstance(module, nn.Linear):
            module.weight.normal_(0.0, math.sqrt(weight_var / module.in_features))
            if module.bias is not None:
                module.bias.normal_(0.0, math.sqrt(bias_var)) if bias_var > 0 else module.bias.zero_()
    return network


def fourier_linear_ntk(
    u1: Tensor, u2: Tensor, frequencies: Tensor, amplitudes: Tensor, *, bias: bool = True
) -> Tensor:
    """NTK of Fourier features [a sin(2 pi B u), a cos(2 pi B u)] followed by one linear layer.

    K(u, u') = sum_j a_j^2 cos(2 pi b_j . (u - u')) (+ 1 from the bias): stationary, a function of u - u'.

    Args:
        u1: points [N, d] in the encoders' unit domain u = (x + 1) / 2.
        u2: points [M, d].
        frequencies: B [F, d], cycles over the unit domain (an encoder's ``frequencies`` buffer).
        amplitudes: a [F] (an encoder's ``amplitudes`` buffer).
        bias: the linear layer has a bias (adds 1).

    Returns:
        K [N, M].
    """
    delta = u1[:, None, :] - u2[None, :, :]  # [N, M, d]
    phases = 2 * math.pi * delta @ frequencies.T.to(delta)  # [N, M, F]
    kernel = (amplitudes.to(delta).pow(2) * torch.cos(phases)).sum(-1)
    return kernel + 1.0 if bias else kernel
