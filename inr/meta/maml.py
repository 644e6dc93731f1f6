"""Meta-learned initialisations: MAML and Reptile over a dataset of signals.

Tancik et al., "Learned Initializations for Optimizing Coordinate-Based Neural Representations" (CVPR 2021),
official code ``tancik/learnit`` (``meta_demo.ipynb``): a few inner SGD steps (lr 0.01, 2 steps) from the shared
initialisation on each signal's own points, then the outer Adam step (lr 1e-5) on

- MAML (Finn et al. 2017): the mean squared error after the inner steps, differentiated through them (second order,
  as learnit) or with each inner gradient held constant (``first_order``);
- Reptile (Nichol et al. 2018): no outer loss; the outer "gradient" is ``theta - mean_b(theta_b)``, the mean
  displacement of the inner-adapted parameters (learnit feeds it to Adam with the same outer lr).

Inner and outer losses use the same points (the signal is what is to be represented). The learned initialisation is
the module's ``encoder`` + ``network``: ``inr meta export`` writes it as an ordinary checkpoint of one signal, and
``inr fit --model.init_from CKPT`` starts a fit from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from inr.meta.functional import Parameters, call_per_signal, mean_squared_errors, per_signal, sgd_steps
from inr.meta.learner import InnerLoopLearner


class InitLearner(InnerLoopLearner):
    """A method that learns the shared starting point of per-signal SGD (MAML, Reptile).

    Its inner loop is learnit's by default (2 SGD steps of lr 0.01); learnit's outer optimizer is Adam, lr 1e-5.
    """

    def forward(self, coords: Tensor) -> Tensor:
        """The shared initialisation: coords [..., in_dim] -> values [..., out_dim]."""
        return self.network(self.encoder(coords))

    def shared(self) -> Parameters:
        """The shared parameters by name (``encoder.*``, ``network.*``)."""
        return dict(self.named_parameters())

    def reconstruct(self, parameters: Parameters, coords: Tensor) -> Tensor:
        """Signal b's network (its ``parameters[...][b]``) at ``coords[b]``: [B, P, d] -> [B, P, c]."""
        return call_per_signal(self, parameters, coords)

    def inner_loop(self, start: Parameters, coords: Tensor, values: Tensor, steps: int, create_graph: bool,
                   record: Sequence[int] = ()) -> tuple[Parameters, dict[int, Parameters]]:
        """``steps`` SGD steps of each signal from the shared ``start`` (per-signal copies), on its own MSE."""
        def loss(parameters: Parameters) -> Tensor:
            return mean_squared_errors(self.reconstruct(parameters, coords), values)

        return sgd_steps(loss, per_signal(start, coords.shape[0]), steps, self.inner_lr, create_graph, record)

    def adapt(self, coords: Tensor, values: Tensor, steps: Sequence[int],
              parameters: Parameters | None = None) -> dict[int, Tensor]:
        """Reconstructions [B, P, c] after each count in ``steps`` of inner SGD from ``parameters`` (default own)."""
        start = {name: value.detach().requires_grad_(True) for name, value in (parameters or self.shared()).items()}
        _, recorded = self.inner_loop(start, coords, values, max(steps), create_graph=False, record=steps)
        with torch.no_grad():
            return {count: self.reconstruct(recorded[count], coords).detach() for count in steps}


class MAML(InitLearner):
    """MAML: the shared initialisation minimising each signal's error after ``inner_steps`` SGD steps.

    Args:
        first_order: treat the inner gradients as constants (first-order MAML); False differentiates through them.
        options: :class:`InitLearner`'s (encoder, network, signal, inner steps and lr as learnit's, eval_steps,
            the outer optimizer: learnit's Adam at lr 1e-5, lr_scheduler).
    """

    def __init__(self, *, first_order: bool = False, **options: Any) -> None:
        # the other options are InitLearner's (jsonargparse follows **options there for configs and --help)
        super().__init__(**options)
        self.first_order = first_order

    def meta_objective(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """The mean over signals of each one's MSE after the inner steps (both outputs)."""
        coords, values = batch["coords"], batch["values"]
        adapted, _ = self.inner_loop(self.shared(), coords, values, self.inner_steps,
                                     create_graph=not self.first_order)
        loss = mean_squared_errors(self.reconstruct(adapted, coords), values).mean()
        return loss, loss


class Reptile(InitLearner):
    """Reptile: move the shared initialisation towards the signals' inner-adapted parameters.

    Args:
        encoder: builds the coordinate encoder from the coordinate dimension.
        network: builds the network from (encoder out_dim, signal channels).
        signal: one signal's description (linked from --data by ``inr meta fit``).
        inner_steps: inner SGD steps per signal.
        inner_lr: inner SGD step size.
        eval_steps: inner-step counts validated.
        optimizer: the outer optimizer, fed ``theta - mean(adapted)`` as the gradient (learnit: Adam, lr 1e-5).
        lr_scheduler: optional scheduler of the outer optimizer.
    """

    def meta_objective(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """``0.5 * sum ||theta - mean_b(theta_b)||^2`` (its gradient is Reptile's direction), and the adapted MSE."""
        coords, values = batch["coords"], batch["values"]
        shared = self.shared()
        start = {name: value.detach().requires_grad_(True) for name, value in shared.items()}
        adapted, _ = self.inner_loop(start, coords, values, self.inner_steps, create_graph=False)
        with torch.no_grad():
            loss = mean_squared_errors(self.reconstruct(adapted, coords), values).mean()
        targets = {name: value.detach().mean(dim=0) for name, value in adapted.items()}
        objective = sum(0.5 * (shared[name] - targets[name]).square().sum() for name in shared)
        return objective, loss
