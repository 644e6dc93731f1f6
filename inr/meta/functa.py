"""Functa: a shared SIREN with per-signal shift modulations from a latent vector, meta-learned.

Dupont et al., "From data to functa: Your data point is a function and you can treat it like one" (ICML 2022),
official code ``google-deepmind/functa`` (``function_reps.py``, ``experiment_meta_learning.py``):

- every sine layer is ``sin(w0 (W h + b + shift))``; the output layer is not modulated;
- the shifts of all sine layers come from the latent by one linear map (``layer_sizes = ()``: "a linear map. This
  always gave better PSNR");
- a signal's latent starts at zero and takes ``inner_steps`` (3) SGD steps on the signal's MSE, with one learned
  step size per latent dimension (meta-SGD, initialised uniformly in (0.005, 0.1), clipped to [0, 1]);
- the SIREN, the linear map and the step sizes are the outer (Adam) parameters, differentiated through the inner
  loop (second order).

The map here has no bias: a bias of the shifts is the SIREN's own bias (the same function class), and without it
the zero latent is exactly the shared SIREN.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from inr.core.errors import InputError
from inr.core.signal import SignalSpec
from inr.meta.functional import mean_squared_errors, sgd_steps
from inr.meta.learner import EVAL_STEPS, InnerLoopLearner
from inr.nn.encoders import Encoder, Identity
from inr.nn.networks import SIREN_OMEGA_0, Siren

# functa's get_config: meta-SGD step sizes drawn in (0.005, 0.1), clipped to [0, 1]; 3 inner steps.
FUNCTA_META_SGD_INIT = (0.005, 0.1)
FUNCTA_META_SGD_CLIP = (0.0, 1.0)
FUNCTA_INNER_STEPS = 3


class ModulatedSiren(nn.Module):
    """A SIREN whose sine layers are shifted by a linear map of a latent: ``(features, latent) -> values``.

    Args:
        in_dim: input features (the encoder's ``out_dim``).
        out_dim: output channels.
        hidden: width of every hidden layer.
        layers: number of hidden-to-hidden sine layers (the shifts modulate ``layers + 1`` sine layers).
        latent_dim: size of a signal's latent vector.
        first_omega_0: w0 of the first layer.
        hidden_omega_0: w0 of the later layers.
    """

    def __init__(self, in_dim: int, out_dim: int, *, hidden: int = 256, layers: int = 3, latent_dim: int = 64,
                 first_omega_0: float = SIREN_OMEGA_0, hidden_omega_0: float = SIREN_OMEGA_0) -> None:
        super().__init__()
        if latent_dim < 1:
            raise InputError(f"ModulatedSiren latent_dim must be >= 1, got {latent_dim}")
        self.siren = Siren(in_dim, out_dim, hidden=hidden, layers=layers, first_omega_0=first_omega_0,
                           hidden_omega_0=hidden_omega_0)
        self.in_dim, self.out_dim, self.hidden, self.latent_dim = in_dim, out_dim, hidden, latent_dim
        self.modulated_layers = layers + 1
        self.modulation = nn.Linear(latent_dim, hidden * self.modulated_layers, bias=False)
        # haiku's default Linear initialisation (functa's LatentToModulation): truncated normal, std 1 / sqrt(fan_in)
        std = 1.0 / math.sqrt(latent_dim)
        nn.init.trunc_normal_(self.modulation.weight, std=std, a=-2 * std, b=2 * std)

    def shifts(self, latent: Tensor) -> Tensor:
        """The sine layers' shifts of a latent [latent_dim] -> [layers + 1, hidden]."""
        return self.modulation(latent).reshape(self.modulated_layers, self.hidden)

    def forward(self, features: Tensor, latent: Tensor | None = None) -> Tensor:
        """Features [..., in_dim], latent [latent_dim] (None: the shared SIREN) -> values [..., out_dim]."""
        if latent is None:
            return self.siren(features)
        shifts = self.shifts(latent)
        hidden = features
        for index, layer in enumerate(self.siren.net[:-1]):
            hidden = torch.sin(layer.omega_0 * (layer.linear(hidden) + shifts[index]))
        return self.siren.net[-1](hidden)

    @torch.no_grad()
    def siren_state(self, latent: Tensor) -> dict[str, Tensor]:
        """The plain :class:`~inr.nn.networks.Siren` state (biases plus the shifts) that equals this at ``latent``."""
        state = {key: value.clone() for key, value in self.siren.state_dict().items()}
        for index, shift in enumerate(self.shifts(latent)):
            state[f"net.{index}.linear.bias"] += shift
        return state


class Functa(InnerLoopLearner):
    """Meta-learned shared SIREN + latent modulations: each signal is a latent vector fitted in a few steps.

    Args:
        encoder: builds the coordinate encoder from the coordinate dimension.
        network: builds the :class:`ModulatedSiren` from (encoder out_dim, signal channels).
        signal: one signal's description (linked from --data by ``inr meta fit``).
        inner_steps: inner steps on each latent (functa: 3).
        inner_lr: the latent's SGD step size without meta-SGD.
        meta_sgd: learn one step size per latent dimension (functa: yes).
        meta_sgd_init: (low, high) of the step sizes' uniform initialisation.
        meta_sgd_clip: (low, high) the step sizes are clipped to when used.
        first_order: treat the inner gradients as constants (functa differentiates through them: False).
        eval_steps: inner-step counts validated.
        optimizer: the outer optimizer (functa: Adam, lr 3e-6 at its scale).
        lr_scheduler: optional scheduler of the outer optimizer.
    """

    def __init__(
        self,
        encoder: Callable[[int], Encoder] = Identity,
        network: Callable[[int, int], ModulatedSiren] = ModulatedSiren,
        signal: dict[str, Any] | SignalSpec | None = None,
        inner_steps: int = FUNCTA_INNER_STEPS,
        inner_lr: float = 1e-2,
        meta_sgd: bool = True,
        meta_sgd_init: tuple[float, float] = FUNCTA_META_SGD_INIT,
        meta_sgd_clip: tuple[float, float] = FUNCTA_META_SGD_CLIP,
        first_order: bool = False,
        eval_steps: Sequence[int] = EVAL_STEPS,
        optimizer: OptimizerCallable = torch.optim.Adam,
        lr_scheduler: LRSchedulerCallable | None = None,
    ) -> None:
        super().__init__(encoder, network, signal, inner_steps, inner_lr, eval_steps, optimizer, lr_scheduler)
        if not isinstance(self.network, ModulatedSiren):
            raise InputError(f"Functa needs a modulated network (inr.meta.functa.ModulatedSiren), got "
                             f"{type(self.network).__name__}")
        low, high = (float(value) for value in meta_sgd_init)
        if not 0 <= low <= high:
            raise InputError(f"model meta_sgd_init must be (low, high) with 0 <= low <= high, got {meta_sgd_init}")
        self.meta_sgd_clip = tuple(float(value) for value in meta_sgd_clip)
        if not self.meta_sgd_clip[0] < self.meta_sgd_clip[1]:
            raise InputError(f"model meta_sgd_clip must be (low, high) with low < high, got {meta_sgd_clip}")
        self.first_order = first_order
        self.latent_lrs = nn.Parameter(torch.empty(self.network.latent_dim).uniform_(low, high)) if meta_sgd else None

    @property
    def latent_dim(self) -> int:
        """Size of a signal's latent vector."""
        return self.network.latent_dim

    def reconstruct(self, latents: Tensor, coords: Tensor) -> Tensor:
        """Signal b's reconstruction from its latent: latents [B, D], coords [B, P, d] -> [B, P, c]."""
        def one(latent: Tensor, points: Tensor) -> Tensor:
            return self.network(self.encoder(points), latent)

        return torch.func.vmap(one)(latents, coords)

    def step_sizes(self) -> float | Tensor:
        """The latent's inner step size: per dimension [D] (meta-SGD, clipped) or ``inner_lr``."""
        if self.latent_lrs is None:
            return self.inner_lr
        return self.latent_lrs.clamp(*self.meta_sgd_clip)

    def fit_latents(self, coords: Tensor, values: Tensor, steps: int, create_graph: bool,
                    record: Sequence[int] = ()) -> tuple[Tensor, dict[int, Tensor]]:
        """Each signal's latent after ``steps`` inner steps from zero, [B, D]; and those after each ``record`` count."""
        start = {"latent": coords.new_zeros(coords.shape[0], self.latent_dim).requires_grad_(True)}

        def loss(parameters: dict[str, Tensor]) -> Tensor:
            return mean_squared_errors(self.reconstruct(parameters["latent"], coords), values)

        final, recorded = sgd_steps(loss, start, steps, {"latent": self.step_sizes()}, create_graph, record)
        return final["latent"], {count: parameters["latent"] for count, parameters in recorded.items()}

    def meta_objective(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """The mean over signals of each one's MSE after fitting its latent (both outputs)."""
        coords, values = batch["coords"], batch["values"]
        latents, _ = self.fit_latents(coords, values, self.inner_steps, create_graph=not self.first_order)
        loss = mean_squared_errors(self.reconstruct(latents, coords), values).mean()
        return loss, loss

    def adapt(self, coords: Tensor, values: Tensor, steps: Sequence[int],
              parameters: dict[str, Tensor] | None = None) -> dict[int, Tensor]:
        """Reconstructions [B, P, c] after each count in ``steps`` of latent fitting.

        ``parameters``: the shared weights to use (default the module's own).
        """
        def run() -> dict[int, Tensor]:
            _, recorded = self.fit_latents(coords, values, max(steps), create_graph=False, record=steps)
            with torch.no_grad():
                return {count: self.reconstruct(latent.detach(), coords) for count, latent in recorded.items()}

        if parameters is None:
            return run()
        return _with_parameters(self, parameters, run)


def _with_parameters(module: nn.Module, parameters: dict[str, Tensor], run: Callable[[], Any]) -> Any:
    """``run()`` with ``module``'s parameters temporarily replaced by ``parameters`` (same names and shapes)."""
    saved = {name: value.detach().clone() for name, value in module.named_parameters()}
    try:
        with torch.no_grad():
            for name, value in module.named_parameters():
                if name in parameters:
                    value.copy_(parameters[name])
        return run()
    finally:
        with torch.no_grad():
            for name, value in module.named_parameters():
                value.copy_(saved[name])
