"""Networks called with per-signal parameters, and the inner SGD loop of meta-learning, batched over signals.

Parameters are dicts ``{name: Tensor [B, ...]}``: one set per signal (B signals), evaluated in one batched pass
(``torch.func.vmap`` of ``functional_call``). The inner loop takes plain SGD steps on each signal's own mean squared
error; with ``create_graph`` the steps stay differentiable, so an outer loss differentiates through them (MAML's
second-order gradient); without, the outer gradient treats each step's gradient as a constant (first-order MAML).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

Parameters = dict[str, Tensor]


def per_signal(parameters: Parameters, count: int) -> Parameters:
    """Shared parameters ``{name: [...]}`` as ``count`` per-signal copies ``{name: [count, ...]}`` (views)."""
    return {name: value.expand(count, *value.shape) for name, value in parameters.items()}


def call_per_signal(module: nn.Module, parameters: Parameters, *inputs: Tensor) -> Tensor:
    """``module`` with signal b's parameters on ``inputs[...][b]``: inputs [B, ...] -> outputs [B, ...].

    ``parameters`` may name a subset of the module's parameters and buffers; the rest are shared by every signal.
    """
    def one(own: Parameters, *own_inputs: Tensor) -> Tensor:
        return torch.func.functional_call(module, own, own_inputs)

    return torch.func.vmap(one)(parameters, *inputs)


def mean_squared_errors(prediction: Tensor, values: Tensor) -> Tensor:
    """Each signal's mean squared error: prediction, values [B, N, c] -> [B]."""
    return (prediction - values).square().flatten(1).mean(dim=1)


def sgd_steps(loss: Callable[[Parameters], Tensor], parameters: Parameters, steps: int,
              learning_rate: float | Parameters, create_graph: bool,
              record: Sequence[int] = ()) -> tuple[Parameters, dict[int, Parameters]]:
    """``steps`` SGD steps of every signal on its own loss: p <- p - lr * d loss_b / d p_b.

    Args:
        loss: per-signal parameters -> per-signal losses [B]; their sum is differentiated, so signal b's gradient
            is its own loss's.
        parameters: per-signal parameters ``{name: [B, ...]}``.
        steps: SGD steps.
        learning_rate: one step size, or one per parameter entry (meta-SGD: a tensor broadcasting against it).
        create_graph: keep the steps differentiable (second order); else each gradient is a constant.
        record: step counts (0..steps) whose parameters are returned as well.

    Returns:
        The parameters after ``steps`` steps, and ``{n: parameters after n steps}`` for each n in ``record``.
    """
    recorded = {0: parameters} if 0 in record else {}
    for step in range(1, steps + 1):
        names = list(parameters)
        total = loss(parameters).sum()
        gradients = torch.autograd.grad(total, [parameters[name] for name in names], create_graph=create_graph)
        parameters = {name: parameters[name] - _rate(learning_rate, name) * gradient
                      for name, gradient in zip(names, gradients)}
        if step in record:
            recorded[step] = parameters
    return parameters, recorded


def _rate(learning_rate: float | Parameters, name: str) -> float | Tensor:
    """The step size of parameter ``name``."""
    return learning_rate[name] if isinstance(learning_rate, dict) else learning_rate
