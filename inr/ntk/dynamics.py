"""NTK prediction of training: the linearised network under gradient flow, solved in K's eigenbasis.

Jacot et al. 2018; Lee et al. 2019, "Wide Neural Networks of Any Depth Evolve as Linear Models Under Gradient
Descent"; Tancik et al. 2020, Eq. 3.

Under gradient flow on L = 1/2 sum_i ||f(x_i) - y_i||^2 with rate eta, a network in the kernel regime follows
    f_t(train) = f_0 + (I - exp(-eta K t)) (y - f_0),
    f_t(test)  = f_0(test) + K_test K^-1 (I - exp(-eta K t)) (y - f_0(train)).
In K's eigenbasis K = V diag(lambda) V^T the training residual decays per component as exp(-eta lambda_i t):
the kernel's large eigenvalues (its low frequencies) are learned first, i.e. spectral bias.
For gradient descent with learning rate ``lr`` on the mean squared error (1/N) sum ||f - y||^2, eta = 2 lr / N.
"""

from __future__ import annotations

import torch
from torch import Tensor

from inr.ntk.spectrum import eigen


def _decay(values: Tensor, eta: float, t: Tensor, discrete: bool) -> Tensor:
    """exp(-eta lambda t) (or (1 - eta lambda)^t for discrete steps): [T, N] for t [T], values [N]."""
    if discrete:
        return (1.0 - eta * values)[None, :].pow(t[:, None])
    return torch.exp(-eta * values[None, :] * t[:, None])


def predict_dynamics(
    k_train: Tensor,
    y: Tensor,
    times: Tensor,
    eta: float,
    *,
    k_test: Tensor | None = None,
    f0_train: Tensor | None = None,
    f0_test: Tensor | None = None,
    discrete: bool = False,
    eps: float = 1e-10,
) -> tuple[Tensor, Tensor | None]:
    """Outputs predicted by the NTK at the given times, on the training points and optionally on test points.

    Args:
        k_train: K(train, train) [N, N].
        y: targets [N] or [N, c].
        times: T times (steps for gradient descent) [T].
        eta: rate in df/dt = -eta K (f - y).
        k_test: K(test, train) [M, N]; ``None`` skips the test prediction.
        f0_train: outputs at initialisation on train [N] / [N, c] (default 0).
        f0_test: outputs at initialisation on test [M] / [M, c] (default 0).
        discrete: use (1 - eta lambda)^t, gradient descent's exact linear-model decay, instead of exp(-eta lambda t).
        eps: eigenvalues below ``eps x lambda_max`` are treated as 0 (their components never move).

    Returns:
        f_t(train) [T, N(, c)] and f_t(test) [T, M(, c)] (or None).
    """
    vector = y.ndim == 1
    y2 = y[:, None] if vector else y
    f0 = torch.zeros_like(y2) if f0_train is None else (f0_train[:, None] if vector else f0_train)
    values, vectors = eigen(k_train)
    times = times.to(values)
    decay = _decay(values, eta, times, discrete)  # [T, N]
    coefficients = vectors.T @ (y2 - f0)  # [N, c]
    learned = (1.0 - decay)[:, :, None] * coefficients[None]  # [T, N, c]
    train = f0[None] + torch.einsum("nk,tkc->tnc", vectors, learned)
    test = None
    if k_test is not None:
        keep = values > eps * values[0]
        inverse = torch.where(keep, 1.0 / values.clamp_min(eps * values[0]), torch.zeros_like(values))
        g0 = torch.zeros(k_test.shape[0], y2.shape[1], dtype=y2.dtype, device=y2.device)
        if f0_test is not None:
            g0 = f0_test[:, None] if vector else f0_test
        weights = k_test @ vectors * inverse[None, :]  # [M, N]: K_test V diag(1 / lambda)
        test = g0[None] + torch.einsum("mk,tkc->tmc", weights, learned)
    if vector:
        train = train[..., 0]
        test = None if test is None else test[..., 0]
    return train, test


def kernel_regression(k_train: Tensor, k_test: Tensor, y: Tensor, ridge: float = 0.0) -> Tensor:
    """The t -> infinity limit from f_0 = 0: K_test (K + ridge I)^-1 y; [M] or [M, c]."""
    eye = torch.eye(k_train.shape[0], dtype=k_train.dtype, device=k_train.device)
    return k_test @ torch.linalg.solve(k_train + ridge * eye, y)


def eigen_residuals(k_train: Tensor, residual0: Tensor, times: Tensor, eta: float, discrete: bool = False) -> Tensor:
    """Training residual (f_t - y) in K's eigenbasis: |V^T r_0| exp(-eta lambda_i t) -> [T, N].

    Column i is the component along the i-th largest eigenvalue's eigenvector; its decay rate is eta lambda_i.
    """
    values, vectors = eigen(k_train)
    start = (vectors.T @ residual0.reshape(residual0.shape[0], -1)).norm(dim=-1)  # [N]
    return start[None, :] * _decay(values, eta, times.to(values), discrete)
