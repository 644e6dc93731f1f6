"""MetaLearner: the Lightning side of learning across signals, shared by MAML, Reptile and functa.

A training step gets a batch of signals (``coords [B, P, d]``, ``values [B, P, c]``: crops from
:mod:`datamodules.crops`), asks the method for its meta-objective over them and takes one outer optimizer step.
Under DDP each rank holds its share of the global batch; the gradients of the shared parameters are all-reduced
once per step, weighted by each rank's signals, so N processes take the step one process takes on the whole batch.

Validation represents every held-out signal as the method does at test time, under labels: after each count of
inner steps in ``eval_steps`` (``step0``, ``step1``, ``step3``, ``step10``) for the inner-loop methods, from each
context size (``context10``... ``context_all``) for the hypernetwork. It logs the signal kind's metrics per label,
``val/psnr_step3``..., as means over the held-out signals (with ``_std``, ``_min``, ``_max``), and ``val/psnr`` etc.
for the method's primary label (what checkpoints monitor). The same evaluation from the parameters as built (the
standard initialisation, before any meta-training) is logged once per process as ``val/standard_init/...``: the
baseline on the same signals. Media: the first held-out signals, truth beside each label's reconstruction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import lightning as L
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from inr.core.errors import InputError
from inr.core.evaluation import Evaluation
from inr.core.media import Media
from inr.core.signal import SignalSpec
from inr.metrics import default_metrics
from inr.nn.encoders import Encoder, Identity
from inr.nn.networks import Siren
from inr.training.base import SignalModule
from inr.training.distributed.gradient_sync import all_reduce_gradients, without_gradient_reducer
from inr.training.loss_guard import guarded_update
from inr.training.member_metrics import summarise_members

#: inner-step counts validated by default (the functa and learned-init papers report 3 and 2; 10 shows the trend).
EVAL_STEPS = (0, 1, 3, 10)


class MetaLearner(SignalModule):
    """Base of the meta-learning methods: shared parameters learned from many signals of one shape.

    Args:
        encoder: builds the coordinate encoder from the coordinate dimension.
        network: builds the network from (encoder out_dim, signal channels).
        signal: one signal's description (the DataModule's ``signal_spec``; linked by ``inr meta fit``).
        optimizer: the outer optimizer of the shared parameters (default Adam; the configs set the papers' rates).
        lr_scheduler: optional scheduler, stepped once per outer step.
    """

    #: whether validation also evaluates the method from its parameters as built (the standard-init baseline).
    has_baseline = True
    #: a meta-trained checkpoint validates on any crops of its shape and channels (held-out folders, recordings).
    evaluates_other_signals = True

    def __init__(
        self,
        encoder: Callable[[int], Encoder] = Identity,
        network: Callable[[int, int], nn.Module] = Siren,
        signal: dict[str, Any] | SignalSpec | None = None,
        optimizer: OptimizerCallable = torch.optim.Adam,
        lr_scheduler: LRSchedulerCallable | None = None,
    ) -> None:
        super().__init__(signal, optimizer, lr_scheduler, ["meta"], "inr meta fit")
        if self.signal.batched:
            raise InputError(f"{type(self).__name__} learns across signals given as crops "
                             "(datamodules.patches.ImagePatchDataModule, datamodules.clips.AudioClipDataModule), "
                             "not members of a folder fit")
        self.encoder = encoder(self.signal.in_dim)
        self.network = network(self.encoder.out_dim, self.signal.out_dim)
        self.metrics = nn.ModuleList(default_metrics(self.signal.kind))
        self._media_columns: dict[str, Tensor] | None = None  # the last validation's, until the callback asks
        self.standard_init: dict[str, Tensor] = {}  # the parameters as built, kept at setup
        self._standard_values: dict[str, float] | None = None  # the standard init's validation, computed once

    def remember_standard_init(self) -> None:
        """Keep a copy of the parameters as built (the standard initialisation), the validation's baseline."""
        self.standard_init = {name: value.detach().clone() for name, value in self.named_parameters()}

    # --- what a method provides ----------------------------------------------------------------------------------
    def meta_objective(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """(what to differentiate, the mean reconstruction loss to log) over a batch of signals.

        ``batch``: ``coords [B, P, d]``, ``values [B, P, c]`` and the crops' random ``order [B, P]`` and ``draw [B]``.
        Both outputs are scalars, means over the B signals; the first's gradient w.r.t. the shared parameters is
        the method's outer direction.
        """
        raise NotImplementedError

    def validation_predictions(self, batch: dict[str, Tensor],
                               parameters: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
        """``{label: reconstructions [B, P, c]}`` of the held-out signals (labels such as ``step3``, no graph).

        ``parameters``: the shared parameters to use (default the module's own; the standard init for the
        baseline).
        """
        raise NotImplementedError

    def media_columns(self, batch: dict[str, Tensor], predictions: dict[str, Tensor]) -> dict[str, Tensor]:
        """The columns of the validation media, ``{title: [B, P, c]}``: the truth, then each label's prediction."""
        return {"truth": batch["values"], **predictions}

    def clip_gradients_before_step(self) -> None:
        """Change the (all-reduced) gradients before the outer step; nothing by default."""

    @property
    def primary_label(self) -> str:
        """The label whose metrics are also logged unlabelled (``val/psnr``: what checkpoints monitor)."""
        raise NotImplementedError

    # --- Lightning -------------------------------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        """Keep the standard initialisation; refuse strategies other than DDP on several processes.

        Setup runs before a checkpoint is restored, so the kept parameters are those as built (seeded).
        """
        if not self.standard_init:
            self.remember_standard_init()
        super().setup(stage)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        """One outer step on this rank's signals; under DDP the gradients are reduced once, weighted by signals."""
        optimizer = self.optimizers()
        optimizer.zero_grad(set_to_none=True)
        with without_gradient_reducer(self.trainer):
            objective, loss = self.meta_objective(batch)
            self.manual_backward(objective)
        terms = loss.detach().reshape(1)
        if self.trainer.world_size > 1:
            terms = all_reduce_gradients(self.parameters(), batch["coords"].shape[0], terms)
        self.clip_gradients_before_step()
        learning_rate = guarded_update(self, optimizer, terms[0], terms)
        if learning_rate is not None:  # a logging step
            self.log("train/loss", terms[0], logger=False)
            self.log_at_global_step({"train/loss": float(terms[0]), "train/lr": learning_rate})
        return terms[0]

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        """The held-out signals' metrics per label (inner steps, context size) and, on rank zero, their media."""
        with torch.enable_grad():
            predictions = self.validation_predictions(batch)
        values = self.labelled_metrics(batch, predictions)
        if self._standard_values is None and self.has_baseline and self.standard_init:
            with torch.enable_grad():
                baseline = self.validation_predictions(batch, parameters={
                    name: value.to(self.device) for name, value in self.standard_init.items()})
            self._standard_values = {f"standard_init/{name}": value
                                     for name, value in self.labelled_metrics(batch, baseline).items()}
        self.report_validation(values, baseline=self._standard_values)
        if not self.trainer.sanity_checking:
            self._media_columns = self.media_columns(batch, predictions)

    def labelled_metrics(self, batch: dict[str, Tensor], predictions: dict[str, Tensor]) -> dict[str, float]:
        """``{name_label: mean over signals}`` and its ``_std``, ``_min``, ``_max`` per label.

        The primary label's values are also returned under the metric's name alone.
        """
        spec = replace(self.signal, members=batch["values"].shape[0])
        values: dict[str, float] = {}
        for label, prediction in predictions.items():
            evaluation = Evaluation(spec=spec, batch=batch, prediction=prediction.float(), predict=_no_predict,
                                    step=self.global_step)
            rows = [self.metric_values(evaluation.member(index)) for index in range(spec.members)]
            for name, value in summarise_members(rows).items():
                base, _, spread = name.rpartition("_") if name.endswith(("_std", "_min", "_max")) else (name, "", "")
                values[f"{base}_{label}" + (f"_{spread}" if spread else "")] = float(value)
                if label == self.primary_label:
                    values[name] = float(value)
        return values

    def validation_media(self, trainer: L.Trainer, wanted: bool) -> list[Media]:
        """The DataModule's pictures of the first held-out signals: truth, then each label's reconstruction."""
        columns, self._media_columns = self._media_columns, None
        datamodule = trainer.datamodule
        if not wanted or columns is None or not hasattr(datamodule, "crop_media"):
            return []
        return datamodule.crop_media(columns, self.global_step)


# learnit's meta_demo.ipynb: inner SGD lr 0.01, 2 inner steps, outer Adam lr 1e-5.
LEARNIT_INNER_LR = 1e-2
LEARNIT_INNER_STEPS = 2


class InnerLoopLearner(MetaLearner):
    """A method that adapts each signal with a few inner steps (MAML, Reptile, functa).

    Args:
        encoder: builds the coordinate encoder from the coordinate dimension.
        network: builds the network from (encoder out_dim, signal channels).
        signal: one signal's description (the DataModule's ``signal_spec``; linked by ``inr meta fit``).
        inner_steps: the method's inner steps per signal in meta-training (learnit: 2).
        inner_lr: the inner loop's SGD step size (learnit: 0.01).
        eval_steps: inner-step counts whose results validation logs (``val/psnr_step3``...), with ``inner_steps``.
        optimizer: the outer optimizer of the shared parameters.
        lr_scheduler: optional scheduler, stepped once per outer step.
    """

    def __init__(
        self,
        encoder: Callable[[int], Encoder] = Identity,
        network: Callable[[int, int], nn.Module] = Siren,
        signal: dict[str, Any] | SignalSpec | None = None,
        inner_steps: int = LEARNIT_INNER_STEPS,
        inner_lr: float = LEARNIT_INNER_LR,
        eval_steps: Sequence[int] = EVAL_STEPS,
        optimizer: OptimizerCallable = torch.optim.Adam,
        lr_scheduler: LRSchedulerCallable | None = None,
    ) -> None:
        super().__init__(encoder, network, signal, optimizer, lr_scheduler)
        if inner_steps < 1:
            raise InputError(f"model inner_steps must be >= 1, got {inner_steps}")
        if not inner_lr > 0:
            raise InputError(f"model inner_lr must be > 0, got {inner_lr}")
        steps = sorted({int(step) for step in eval_steps} | {inner_steps})
        if steps[0] < 0:
            raise InputError(f"model eval_steps must be inner-step counts >= 0, got {list(eval_steps)}")
        self.inner_steps, self.inner_lr, self.eval_steps = inner_steps, inner_lr, steps

    def adapt(self, coords: Tensor, values: Tensor, steps: Sequence[int],
              parameters: dict[str, Tensor] | None = None) -> dict[int, Tensor]:
        """Each signal's reconstruction [B, P, c] after each count of inner steps in ``steps`` (no graph).

        ``parameters``: the shared parameters to start from (default the module's own).
        """
        raise NotImplementedError

    def validation_predictions(self, batch: dict[str, Tensor],
                               parameters: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
        """``{stepN: reconstructions}`` for every count in ``eval_steps``."""
        adapted = self.adapt(batch["coords"], batch["values"], self.eval_steps, parameters)
        return {f"step{steps}": prediction for steps, prediction in adapted.items()}

    @property
    def primary_label(self) -> str:
        """``step<inner_steps>``: the adaptation meta-training optimised."""
        return f"step{self.inner_steps}"


def _no_predict(coords: Tensor) -> Tensor:
    """Meta-validation metrics compare at the batch's points only."""
    raise InputError("this metric evaluates the network at other points, which meta-validation does not support")
