"""INRModule: encoder + network + weighted losses + metrics, trained by Lightning.

The DataModule hands every training step a batch already on the device (``coords [N, d]``, ``values [N, c]``,
extras). The step splits it into chunks of at most ``chunk_size`` points and accumulates gradients chunk by
chunk (manual optimisation): memory is bounded by the chunk, and on CPU the activations stay below glibc's mmap
threshold so they are reused rather than mapped and zeroed anew every step (2-5x faster at 65k points).

Under DDP the chunks accumulate locally and the gradients are all-reduced once per step
(:mod:`inr.gradient_sync`). The step never waits for the device except at logging steps: a non-finite loss is
noted on the device and raised there, before checkpoints and before validation (:mod:`inr.loss_guard`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, Literal

import lightning as L
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from lightning.pytorch.strategies import DDPStrategy
from torch import Tensor, nn

from inr import liveness
from inr.chunks import chunk_slices, evaluate_in_chunks
from inr.encoders import Encoder, Identity
from inr.errors import InputError, UnsupportedSetupError
from inr.gradient_sync import all_reduce_gradients
from inr.lightning_private import compiler_failure, instantiated_by_cli
from inr.loss_guard import NonFiniteLossGuard
from inr.losses import Loss, ValueLoss
from inr.networks import Siren
from inr.signal import SignalSpec
from inr.step import Step

_NOT_PRIMITIVE = ["encoder", "network", "losses", "optimizer", "lr_scheduler"]


def chunks(batch: dict[str, Tensor], size: int) -> Iterator[dict[str, Tensor]]:
    """Split every [N, ...] tensor of ``batch`` into consecutive pieces of at most ``size`` points."""
    for piece in chunk_slices(batch["coords"].shape[0], size):
        yield {key: value[piece] for key, value in batch.items()}


class INRModule(L.LightningModule):
    """An implicit neural representation: ``network(encoder(coords))``, fitted with a sum of weighted losses.

    Args:
        encoder: builds the coordinate encoder from the coordinate dimension (class_path + init_args in YAML).
        network: builds the network from (encoder out_dim, signal channels).
        losses: weighted loss terms; default a single ``ValueLoss``.
        optimizer: builds the optimizer from the parameters (default Adam, lr 1e-3).
        lr_scheduler: optional scheduler, stepped once per optimisation step.
        chunk_size: most points evaluated at once, in training (gradient accumulation) and rendering.
        signal: the DataModule's :class:`inr.signal.SignalSpec` (or its ``to_dict()``, as checkpoints store it);
            linked automatically by ``inr fit``.
        compile: run encoder + network through ``torch.compile`` (value losses only: torch.compile cannot take the
            double backward that derivative losses need).
        matmul_precision: ``torch.set_float32_matmul_precision`` while fitting: ``high`` allows TF32 matmuls on
            GPUs that have them, ``medium`` bf16; None leaves the process setting alone. Restored afterwards.

    Mixed precision is Lightning's: ``--trainer.precision bf16-mixed`` trains under autocast, except the encoder and
    the network's input layer, which see the coordinates and run in full float32 (:mod:`inr.precision`);
    validation metrics are always computed in float32 from the float32 weights.
    """

    def __init__(
        self,
        encoder: Callable[[int], Encoder] = Identity,
        network: Callable[[int, int], nn.Module] = Siren,
        losses: list[Loss] | None = None,
        optimizer: OptimizerCallable = torch.optim.Adam,
        lr_scheduler: LRSchedulerCallable | None = None,
        chunk_size: int = 16384,
        signal: dict[str, Any] | SignalSpec | None = None,
        compile: bool = False,
        matmul_precision: Literal["highest", "high", "medium"] | None = None,
    ) -> None:
        super().__init__()
        # Under LightningCLI the hyperparameters are the primitive config (class_path/init_args), so checkpoints
        # load with weights_only=True and rebuild the model alone; built directly, keep only the primitives.
        by_cli = instantiated_by_cli()
        self.save_hyperparameters(ignore=None if by_cli else [*_NOT_PRIMITIVE, "signal"])
        if signal is None:
            raise InputError("INRModule needs `signal` (the DataModule's signal_spec); `inr fit` links it from --data")
        self.signal = signal if isinstance(signal, SignalSpec) else SignalSpec.from_dict(signal)
        if not by_cli:
            self.hparams["signal"] = self.signal.to_dict()
        if chunk_size < 1:
            raise InputError(f"model chunk_size must be >= 1 point, got {chunk_size}")
        self.chunk_size = chunk_size
        self.encoder = encoder(self.signal.in_dim)
        self.network = network(self.encoder.out_dim, self.signal.out_dim)
        self.losses = nn.ModuleList(losses if losses is not None else [ValueLoss()])
        if len(self.losses) == 0:
            raise InputError("model losses is empty: give at least one loss (e.g. inr.losses.ValueLoss)")
        names = [loss.name for loss in self.losses]
        if len(set(names)) != len(names):
            raise InputError(f"model losses have repeated names {names}; each term is logged under its name")
        for loss in self.losses:
            loss.check_model(self)
        self.needs_derivatives = any(loss.needs_derivatives for loss in self.losses)
        self.loss_guard = NonFiniteLossGuard(names)
        self.progress_metrics: dict[str, float] = {}  # host-side values for the progress bar
        if compile and self.needs_derivatives:
            needing = [loss.name for loss in self.losses if loss.needs_derivatives]
            raise InputError(f"model compile: true cannot train the derivative losses {needing}: torch.compile does "
                             "not support the double backward they need; set model.compile false")
        self._compiled = torch.compile(self._represent) if compile else None
        self.matmul_precision = matmul_precision
        self._previous_matmul_precision: str | None = None
        # on the device with the model, so a step builds no weight tensor
        self.register_buffer("loss_weights", torch.tensor([loss.weight for loss in self.losses]), persistent=False)
        self.optimizer_factory = optimizer
        self.scheduler_factory = lr_scheduler
        self.value_range = self.signal.value_range
        self.automatic_optimization = False

    def forward(self, coords: Tensor) -> Tensor:
        """Evaluate the representation: coords [..., in_dim] -> values [..., out_dim]."""
        if not self.training and torch.is_autocast_enabled(coords.device.type):
            # float32 metrics under mixed-precision training (validation runs in eval mode). Disabled per call
            # (per chunk): one autocast context around a whole chunked evaluation held memory per chunk.
            with torch.autocast(coords.device.type, enabled=False):
                return self._represent(coords)
        if self._compiled is not None and not coords.requires_grad:
            try:
                return self._compiled(coords)
            except compiler_failure() as error:  # e.g. no C++ compiler for inductor on CPU
                reason = (str(error).strip().splitlines() or [""])[0]
                raise UnsupportedSetupError(f"model.compile: torch.compile could not build the model ({reason}); "
                                   "set --model.compile false") from error
        return self._represent(coords)

    def _represent(self, coords: Tensor) -> Tensor:
        return self.network(self.encoder(coords))

    def setup(self, stage: str) -> None:
        """Refuse multi-process strategies other than DDP; apply ``matmul_precision`` for the run."""
        trainer = self._trainer
        if stage == "fit" and trainer is not None and trainer.world_size > 1 and not isinstance(
            trainer.strategy, DDPStrategy
        ):
            raise InputError(f"trainer strategy {type(trainer.strategy).__name__} is not supported on several "
                             "processes: inr fits with DDP (--trainer.strategy ddp), whose gradients it reduces itself")
        if self.matmul_precision is not None:
            self._previous_matmul_precision = torch.get_float32_matmul_precision()
            torch.set_float32_matmul_precision(self.matmul_precision)

    def teardown(self, stage: str) -> None:
        """Restore the process's matmul precision."""
        if self._previous_matmul_precision is not None:
            torch.set_float32_matmul_precision(self._previous_matmul_precision)
            self._previous_matmul_precision = None

    @torch.no_grad()
    def predict_values(self, coords: Tensor, progress: bool = False) -> Tensor:
        """Evaluate coords [N, in_dim] in chunks of ``chunk_size`` (bounded memory) -> values [N, out_dim]."""
        coords = coords.to(self.device)
        return evaluate_in_chunks(self, coords, self.chunk_size, empty=coords.new_empty((0, self.signal.out_dim)),
                                  progress=progress)

    def evaluate(self, batch: dict[str, Tensor]) -> Step:
        """Run the model on one chunk and wrap the result for the losses."""
        coords = batch["coords"]
        if self.needs_derivatives:
            coords = coords.detach().requires_grad_(True)
        return Step(coords, self(coords), batch)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        """One optimisation step over the whole batch, accumulated over chunks; no host sync but at logging steps.

        Under DDP the gradients are all-reduced once, after the last chunk, weighted by each rank's points.
        """
        optimizer = self.optimizers()
        optimizer.zero_grad(set_to_none=True)
        count = batch["coords"].shape[0]
        terms = torch.zeros(len(self.losses), device=self.device)
        with self._without_gradient_reducer():
            for chunk in chunks(batch, self.chunk_size):
                liveness.note_progress()
                step = self.evaluate(chunk)
                share = chunk["coords"].shape[0] / count
                values = torch.stack([loss(step) for loss in self.losses])
                self.manual_backward((self.loss_weights * values).sum() * share)
                terms += values.detach() * share
        if self.trainer.world_size > 1:
            terms = all_reduce_gradients(self.parameters(), count, terms)
        total = (terms * self.loss_weights).sum()
        self.loss_guard.observe(self.global_step, total, terms)
        logging_step = self.global_step % self.trainer.log_every_n_steps == 0
        if logging_step:
            self.loss_guard.check(self.global_step)  # before the update: a first bad loss here changes no weight
        optimizer.step()
        scheduler = self.lr_schedulers()
        if scheduler is not None:
            scheduler.step()
        if logging_step:
            metrics = {f"train/loss/{loss.name}": value for loss, value in zip(self.losses, terms.tolist())}
            metrics["train/loss"] = float(total)
            self.progress_metrics["train/loss"] = metrics["train/loss"]  # shown by inr.progress.ProgressBar
            self.log("train/loss", total, logger=False)  # callback_metrics; prog_bar would read it every step
            self.log_at_global_step(metrics)
        return total

    def _without_gradient_reducer(self) -> contextlib.AbstractContextManager:
        """DDP's ``no_sync`` while chunks accumulate (the step reduces once itself); nothing on one process."""
        if self.trainer.world_size > 1:  # a DDP strategy: setup refuses the others
            return self.trainer.strategy.block_backward_sync()
        return contextlib.nullcontext()

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Refuse to write weights updated from a non-finite loss."""
        if self._trainer is not None and self.trainer.state.fn == "fit":
            self.loss_guard.check(self.global_step)

    def on_validation_start(self) -> None:
        """Stop before validating weights updated from a non-finite loss."""
        if self._trainer is not None and self.trainer.state.fn == "fit":
            self.loss_guard.check(self.global_step)

    def on_train_end(self) -> None:
        """A fit does not end normally on weights updated from a non-finite loss."""
        self.loss_guard.check(self.global_step)

    def log_at_global_step(self, metrics: dict[str, Tensor | float]) -> None:
        """Send metrics to every logger at x = global_step (optimiser steps taken), the axis users read.

        Lightning's own logging uses the count of batches before the step, one less than global_step.
        """
        values = {key: float(value) for key, value in metrics.items()}
        for logger in self.loggers:
            logger.log_metrics(values, step=self.global_step)

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        """Let the DataModule evaluate the full signal (metrics, and media on rank zero); log ``val/<name>``.

        Every rank evaluates the whole signal, so the metrics are the same number whatever the number of ranks.
        """
        datamodule = self.trainer.datamodule
        log_media = self.trainer.is_global_zero and self.logger is not None and not self.trainer.sanity_checking
        metrics = datamodule.evaluate(self, batch, logger=self.logger if log_media else None)
        for name, value in metrics.items():
            self.log(f"val/{name}", value, prog_bar=name == "psnr", logger=False)
        if not self.trainer.sanity_checking:
            self.log_at_global_step({f"val/{name}": value for name, value in metrics.items()})

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Refuse to resume on a different signal (other file, size or channels), naming what differs."""
        saved = checkpoint.get("hyper_parameters", {}).get("signal")
        if saved is None:
            return
        differing = SignalSpec.from_dict(saved).differences(self.signal)
        if differing:
            details = "; ".join(f"{key}: checkpoint {then!r}, now {now!r}" for key, then, now in differing)
            raise InputError(f"cannot resume on different data ({details}); use the run's own --data options")

    def configure_optimizers(self) -> Any:
        """Build the optimizer (and scheduler) from the configured factories."""
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer)}}
