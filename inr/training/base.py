"""SignalModule: what every inr LightningModule shares, written once (INRModule and the meta-learning methods).

The hyper-parameters as primitives and the signal's description, fit start and the parameter count, logging at
the global step, the non-finite loss guard around checkpoints, validation and the end of a fit, the optimizer with
the components' parameter groups, each metric's values on one evaluation, the media of a validation through one
callback (:class:`inr.io.media_logger.MediaLogger`), float64 runs and the resume check of the signal.
Subclasses build their components and write the training and validation steps.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.plugins.precision import DoublePrecision
from torch import Tensor, nn

from inr.core.errors import InputError
from inr.core.evaluation import Evaluation
from inr.core.media import Media
from inr.core.precision import to_float64
from inr.core.signal import SignalSpec, check_evaluated_signal, check_resumed_signal, given_signal
from inr.io.media_logger import MediaLogger
from inr.nn.encoders import Encoder
from inr.nn.members import Members
from inr.nn.networks import CoordinateNetwork
from inr.training.distributed.gradient_sync import check_ddp_strategy
from inr.training.lightning_private import instantiated_by_cli
from inr.training.loss_guard import NonFiniteLossGuard

#: checkpoint entry holding the best value of every validation metric so far.
BEST_METRICS_KEY = "inr_best_metrics"
#: constructor arguments that are objects or factories, not primitives (left out of hparams when built in Python).
NOT_PRIMITIVE = ["encoder", "network", "losses", "metrics", "optimizer", "lr_scheduler"]
#: the main validation metric when the run monitors none (what the progress bar shows).
DEFAULT_MAIN_METRIC = "val/psnr"


class SignalModule(L.LightningModule):
    """Base of inr's LightningModules: one signal description, manual optimisation under a loss guard.

    Args:
        signal: the DataModule's :class:`~inr.core.signal.SignalSpec` (or its ``to_dict()``, as checkpoints
            store it); linked by the command (``command``).
        optimizer: builds the optimizer from parameters or parameter groups.
        lr_scheduler: optional scheduler, stepped once per optimisation step.
        loss_names: the terms the loss guard watches.
        command: the command that fits this module, named in errors (``inr fit``, ``inr meta fit``).
    """

    #: the validation metrics (subclasses set them after their components, so summaries list those first).
    metrics: nn.ModuleList
    #: whether ``validate`` may run a checkpoint on other signals of the trained shape and channels (held-out sets);
    #: otherwise a checkpoint is validated, like resumed, only on the signal it was fitted to.
    evaluates_other_signals = False

    def __init__(self, signal: dict[str, Any] | SignalSpec | None, optimizer: OptimizerCallable,
                 lr_scheduler: LRSchedulerCallable | None, loss_names: list[str], command: str) -> None:
        super().__init__()
        # Under LightningCLI the hyperparameters are the primitive config (class_path/init_args), so checkpoints
        # load with weights_only=True and rebuild the model alone; built directly, keep only the primitives.
        by_cli = instantiated_by_cli()
        # Lightning collects the arguments of every __init__ up the class chain; this one's are not the model's
        self.save_hyperparameters(ignore=["loss_names", "command", *([] if by_cli else [*NOT_PRIMITIVE, "signal"])])
        self.signal = given_signal(signal, type(self).__name__, command)
        if not by_cli:
            self.hparams["signal"] = self.signal.to_dict()
        self.command = command
        self.optimizer_factory = optimizer
        self.scheduler_factory = lr_scheduler
        self.automatic_optimization = False
        self.loss_guard = NonFiniteLossGuard(loss_names)
        self.best_metrics: dict[str, float] = {}  # each validation metric's best value so far (kept in checkpoints)
        self.validation_report: dict[str, float] = {}  # every value of the last validation, as logged
        self.restored_step: int | None = None  # the global step of the checkpoint loaded into the module

    # --- set-up -----------------------------------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        """Float64 weights under ``precision 64-true``; refuse multi-process strategies other than DDP."""
        trainer = self._trainer
        if trainer is not None and isinstance(trainer.precision_plugin, DoublePrecision):
            # Lightning converts the module to float64 after restoring a checkpoint into it; converted first, a
            # resumed 64-true run keeps its float64 weights unrounded.
            to_float64(self)
        if stage == "fit":
            check_ddp_strategy(trainer, self.command.removesuffix(" fit"))

    def configure_callbacks(self) -> list[L.Callback]:
        """The media callback: the media of every validation, logged on rank zero."""
        return [MediaLogger()]

    def on_fit_start(self) -> None:
        """Put the parameter count in every logger's run config."""
        count = sum(parameter.numel() for parameter in self.parameters())
        for logger in self.loggers:
            logger.log_hyperparams({"parameters": count})

    def configure_optimizers(self) -> Any:
        """Build the optimizer (and scheduler) over the trained parameters.

        Components that define ``parameter_groups()`` (:class:`inr.nn.hash_grid.HashGrid`: its table with Adam eps
        1e-15 and no weight decay) train in their own groups: the optimizer then gets a list of group dicts, first
        every other trained parameter with the optimizer's own options (left out when empty), then those groups.
        Without any, it gets the trained parameters as they are.
        """
        trained = [parameter for parameter in self.parameters() if parameter.requires_grad]
        groups = [group for component in self.children() if isinstance(component, (Encoder, CoordinateNetwork, Members))
                  for group in component.parameter_groups()]
        if groups:
            grouped = {id(parameter) for group in groups for parameter in group["params"]}
            rest = [parameter for parameter in trained if id(parameter) not in grouped]
            optimizer = self.optimizer_factory([{"params": rest}, *groups] if rest else groups)
        else:  # the parameters as Lightning users pass them, unless some are frozen
            frozen = len(trained) < len(list(self.parameters()))
            optimizer = self.optimizer_factory(trained if frozen else self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer)}}

    # --- logging ----------------------------------------------------------------------------------------------------
    def log_at_global_step(self, metrics: dict[str, Tensor | float]) -> None:
        """Send metrics to every logger at x = global_step (optimiser steps taken), the axis users read.

        Lightning's own logging uses the count of batches before the step, one less than global_step.
        """
        values = {key: float(value) for key, value in metrics.items()}
        for logger in self.loggers:
            logger.log_metrics(values, step=self.global_step)

    def main_metric(self) -> str:
        """The key of the run's main validation metric: what the checkpoint callback monitors, else ``val/psnr``."""
        callback = self._trainer.checkpoint_callback if self._trainer is not None else None
        return getattr(callback, "monitor", None) or DEFAULT_MAIN_METRIC

    def report_validation(self, values: dict[str, Tensor | float], baseline: dict[str, float] | None = None) -> None:
        """Log a validation's ``val/<name>`` values everywhere they are read.

        Lightning's callback metrics get each value (the progress bar shows the main one, :meth:`main_metric`); out
        of the sanity check, every logger gets them and ``baseline`` (values that have no best, e.g. the
        standard-init baseline) at the global step, and ``validation_report`` keeps them for ``inr validate``'s
        table.
        """
        main = self.main_metric()
        for name, value in values.items():
            self.log(f"val/{name}", value, prog_bar=f"val/{name}" == main, logger=False, batch_size=1)
        if self.trainer.sanity_checking:
            return
        logged = {f"val/{name}": float(value) for name, value in {**values, **(baseline or {})}.items()}
        self.log_at_global_step(logged)
        self.validation_report = logged
        self.note_best({f"val/{name}": float(value) for name, value in values.items()})

    def metric_values(self, evaluation: Evaluation) -> dict[str, Tensor]:
        """Every metric's values on one single-signal evaluation, by name.

        Each validation compares whole signals, one evaluation at a time: a metric is updated with it, computed
        and reset, so its state never spans two signals (the spread over signals is summarised by the caller).
        """
        values: dict[str, Tensor] = {}
        for metric in self.metrics:
            metric.update(evaluation)
            values.update(metric.compute())
            metric.reset()
        return values

    def validation_media(self, trainer: L.Trainer, wanted: bool) -> list[Media]:
        """The media of the validation step just run, when ``wanted`` (:class:`MediaLogger`); none by default.

        Called after every validation step on every rank, so a module can let go of what it kept for them.
        """
        return []

    def note_best(self, values: dict[str, float]) -> None:
        """Keep each metric's best value (resumed from checkpoints) and put it in the W&B summary as ``best/<key>``."""
        better = {f"val/{name}": metric for metric in self.metrics for name in metric.names}
        improved = {}
        for key, value in values.items():
            if key not in better:  # the spread over members (val/psnr_std, ...) has no best
                continue
            previous = self.best_metrics.get(key, float("nan"))
            if better[key].is_better(key[len("val/"):], value, previous):
                self.best_metrics[key] = improved[f"best/{key}"] = value
        if not improved or not self.trainer.is_global_zero:
            return
        for logger in self.loggers:
            summary = getattr(getattr(logger, "experiment", None), "summary", None)
            if summary is not None and hasattr(summary, "update"):
                summary.update(improved)

    # --- the loss guard and resumes ---------------------------------------------------------------------------------
    def _check_loss_guard_while_fitting(self) -> None:
        if self._trainer is not None and self.trainer.state.fn == "fit":
            self.loss_guard.check(self.global_step)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Refuse to write weights updated from a non-finite loss; keep the best metrics so far."""
        self._check_loss_guard_while_fitting()
        checkpoint[BEST_METRICS_KEY] = dict(self.best_metrics)

    def on_validation_start(self) -> None:
        """Stop before validating weights updated from a non-finite loss."""
        self._check_loss_guard_while_fitting()

    def on_train_end(self) -> None:
        """A fit does not end normally on weights updated from a non-finite loss."""
        self.loss_guard.check(self.global_step)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """The best metrics so far; refuse to resume on another signal (file, shape, channels), naming what differs.

        A module that ``evaluates_other_signals`` validates on any signals of the trained shape and channels.
        """
        self.best_metrics = dict(checkpoint.get(BEST_METRICS_KEY, {}))
        self.restored_step = checkpoint.get("global_step")
        validating = self._trainer is not None and self.trainer.state.fn == "validate"
        if validating and self.evaluates_other_signals:
            check_evaluated_signal(checkpoint, self.signal)
        else:
            check_resumed_signal(checkpoint, self.signal)


def checked_component(option: str, built: nn.Module, base: type) -> nn.Module:
    """``built`` once it is a ``base`` (:class:`Encoder`, :class:`CoordinateNetwork`); else a clear error naming it."""
    if not isinstance(built, base):
        kind = type(built)
        raise InputError(f"model {option} {kind.__module__}.{kind.__qualname__} is not an "
                         f"{base.__module__}.{base.__name__}: subclass it (docs/extending.md)")
    return built

