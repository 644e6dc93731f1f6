"""INRModule: encoder + network + weighted losses + metrics, trained by Lightning.

The DataModule hands every training step a batch already on the device (``coords [N, d]``, ``values [N, c]``,
extras). The step splits it into chunks of at most ``chunk_size`` points and accumulates gradients chunk by
chunk (manual optimisation): memory is bounded by the chunk, and on CPU the activations stay below glibc's mmap
threshold so they are reused rather than mapped and zeroed anew every step (2-5x faster at 65k points).

Under DDP the chunks accumulate locally and the gradients are all-reduced once per step
(:mod:`~.distributed.gradient_sync`). The step never waits for the device except at logging steps: a non-finite loss is
noted on the device and raised there, before checkpoints and before validation (:mod:`inr.training.loss_guard`).

The module asks the DataModule for exactly the targets its losses (training) and metrics (validation) declare.
Validation evaluates the whole signal once (with derivatives when a metric needs them), hands the
:class:`inr.core.evaluation.Evaluation` to the metrics (:mod:`inr.metrics`) and then to the media callback
(:class:`inr.io.media_logger.MediaLogger`), which asks the DataModule to turn it into pictures and sounds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

import lightning as L
import torch
from lightning.pytorch.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from inr.core import diff
from inr.core.chunks import chunk_slices, evaluate_in_chunks
from inr.core.errors import InputError, UnsupportedSetupError
from inr.core.evaluation import Evaluation
from inr.core.media import Media
from inr.core.signal import SignalSpec
from inr.core.step import Step
from inr.losses import Loss, ValueLoss
from inr.metrics import SignalMetric, default_metrics
from inr.nn.encoders import Encoder, Identity
from inr.nn.members import build_members, member_seeds
from inr.nn.networks import CoordinateNetwork, Siren
from inr.training.base import SignalModule, checked_component
from inr.training.baselines import baseline_values
from inr.training.distributed import liveness
from inr.training.distributed.gradient_sync import (
    all_reduce_gradients,
    resolve_conjugate_gradients,
    without_gradient_reducer,
)
from inr.training.init_from import load_initial_state
from inr.training.lightning_private import compiler_failure
from inr.training.loss_guard import guarded_update
from inr.training.member_fitting import MemberFitting, member_chunks
from inr.training.member_metrics import log_member_table, summarise_members
from inr.training.member_shards import all_reduce_terms


def chunks(batch: dict[str, Tensor], size: int) -> Iterator[dict[str, Tensor]]:
    """Split every [N, ...] tensor of ``batch`` into consecutive pieces of at most ``size`` points.

    ``coords`` [N, d] holds N points; rays, ``coords`` [R, S, d], are split into whole rays (``size // S`` a piece).
    """
    per_row = batch["coords"].shape[1:-1].numel()
    for piece in chunk_slices(batch["coords"].shape[0], max(1, size // per_row)):
        yield {key: value[piece] for key, value in batch.items()}


class INRModule(MemberFitting, SignalModule):
    """An implicit neural representation: ``network(encoder(coords))``, fitted with a sum of weighted losses.

    Args:
        encoder: builds the coordinate encoder from the coordinate dimension (class_path + init_args in YAML).
        network: builds the network from (encoder out_dim, signal channels).
        losses: weighted loss terms; default a single ``ValueLoss``.
        metrics: validation metrics (:mod:`inr.metrics`); default the signal kind's
            (:func:`inr.metrics.default_metrics`: PSNR and SSIM for images, PSNR and SNR for audio, Chamfer distance
            and normal consistency for shapes; aligned PSNR/SSIM and derivative errors for images fitted from
            derivatives).
        optimizer: builds the optimizer from the parameters (default Adam, lr 1e-3); components that define
            ``parameter_groups()`` (the hash grid's table) train in their own groups (:meth:`configure_optimizers`).
        lr_scheduler: optional scheduler, stepped once per optimisation step.
        chunk_size: most points evaluated at once, in training (gradient accumulation) and rendering.
        signal: the DataModule's :class:`inr.core.signal.SignalSpec` (or its ``to_dict()``, as checkpoints store it);
            linked automatically by ``inr fit``.
        compile: run encoder + network through ``torch.compile`` (value losses only: torch.compile cannot take the
            double backward that derivative losses need).
        matmul_precision: ``torch.set_float32_matmul_precision`` while fitting: ``high`` allows TF32 matmuls on
            GPUs that have them, ``medium`` bf16; None leaves the process setting alone. Restored afterwards.
        init_from: a checkpoint whose encoder and network weights a new fit starts from (a learned initialisation
            exported by ``inr meta export``, or any ``inr fit`` checkpoint of one signal); every member of a folder
            fit starts from them. Read when fitting starts (a resume then restores its own weights); never when a
            checkpoint is only loaded (``inr render``).

    Mixed precision is Lightning's: ``--trainer.precision bf16-mixed`` trains under autocast, except the encoder and
    the network's input layer, which see the coordinates and run in full float32 (:mod:`inr.core.precision`);
    validation metrics are always computed in float32 from the float32 weights.
    """

    def __init__(
        self,
        encoder: Callable[[int], Encoder] = Identity,
        network: Callable[[int, int], CoordinateNetwork] = Siren,
        losses: list[Loss] | None = None,
        metrics: list[SignalMetric] | None = None,
        optimizer: OptimizerCallable = torch.optim.Adam,
        lr_scheduler: LRSchedulerCallable | None = None,
        chunk_size: int = 16384,
        signal: dict[str, Any] | SignalSpec | None = None,
        compile: bool = False,
        matmul_precision: Literal["highest", "high", "medium"] | None = None,
        init_from: str | None = None,
    ) -> None:
        losses = list(losses) if losses is not None else [ValueLoss()]
        super().__init__(signal, optimizer, lr_scheduler, [loss.name for loss in losses], "inr fit")
        if chunk_size < 1:
            raise InputError(f"model chunk_size must be >= 1 point, got {chunk_size}")
        self.chunk_size = chunk_size
        if self.signal.batched:
            # member k starts as the single run seeded with (the run's seed + k) would (inr.nn.members)
            def representation() -> tuple[nn.Module, nn.Module]:
                built = checked_component("encoder", encoder(self.signal.in_dim), Encoder)
                return built, checked_component("network", network(built.out_dim, self.signal.out_dim),
                                                CoordinateNetwork)

            self.encoder, self.network = build_members(representation, member_seeds(self.signal.members))
        else:
            self.encoder = checked_component("encoder", encoder(self.signal.in_dim), Encoder)
            self.network = checked_component("network", network(self.encoder.out_dim, self.signal.out_dim),
                                             CoordinateNetwork)
        self.losses = nn.ModuleList(losses)
        if len(self.losses) == 0:
            raise InputError("model losses is empty: give at least one loss (e.g. inr.losses.ValueLoss)")
        names = [loss.name for loss in self.losses]
        if len(set(names)) != len(names):
            raise InputError(f"model losses have repeated names {names}; each term is logged under its name")
        for loss in self.losses:
            loss.check_model(self)
        self.training_targets = sorted({target for loss in self.losses for target in loss.targets})
        truth = self.signal.meta.get("truth", True)  # False: the signal is known only through its measurements
        self.metrics = nn.ModuleList(metrics if metrics is not None else
                                     default_metrics(self.signal.kind, self.training_targets, truth=truth))
        metric_names = [name for metric in self.metrics for name in metric.names]
        if len(set(metric_names)) != len(metric_names):
            raise InputError(f"model metrics log repeated names {metric_names}; each value is logged under its name")
        self.validation_targets = sorted({"values", *(target for metric in self.metrics for target in metric.targets)})
        self.member_metrics: list[dict[str, Tensor]] = []  # the last validation's values per member
        self.last_evaluation: Evaluation | None = None  # kept for the media, until the callback asks
        self._throughput_mark: tuple[float, int] | None = None  # (host time, global step) of the last logging step
        needing = [loss.name for loss in self.losses if loss.needs_derivatives]
        self.needs_derivatives = bool(needing)
        if needing and not self.network.exact_input_derivatives:
            raise InputError(f"the losses {needing} train on derivatives, but autograd's input derivatives of "
                             f"{self.network.describe()} are not its own (for Finer: set scale_req_grad true)")
        self.progress_metrics: dict[str, float] = {}  # host-side values for the progress bar
        self._baseline_values: dict[str, float] | None = None  # the DataModule's baselines, scored once
        self.whole_signal = any(loss.whole_signal for loss in self.losses)  # a loss transforms the whole batch
        if compile and needing:
            raise InputError(f"model compile: true cannot train the derivative losses {needing}: torch.compile does "
                             "not support the double backward they need; set model.compile false")
        self._compiled = torch.compile(self._represent) if compile else None
        self.matmul_precision = matmul_precision
        self.init_from = init_from
        self._previous_matmul_precision: str | None = None
        # on the device with the model, so a step builds no weight tensor
        self.register_buffer("loss_weights", torch.tensor([loss.weight for loss in self.losses]), persistent=False)
        self.has_complex_parameters = any(parameter.is_complex() for parameter in self.parameters())

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
        """Members over processes, ``init_from``, ``matmul_precision``; the DataModule told the targets it provides."""
        super().setup(stage)
        trainer = self._trainer
        if stage == "fit":
            self.shard_over_processes(trainer)
        if stage == "fit" and self.init_from is not None:
            load_initial_state(self, self.init_from, members=self.signal.batched)
        if self.matmul_precision is not None:
            self._previous_matmul_precision = torch.get_float32_matmul_precision()
            torch.set_float32_matmul_precision(self.matmul_precision)
        datamodule = trainer.datamodule if trainer is not None else None
        if datamodule is not None and hasattr(datamodule, "provide"):
            users = {f"loss {type(loss).__name__}": loss.targets for loss in self.losses}
            users.update({f"metric {type(metric).__name__}": metric.targets for metric in self.metrics})
            datamodule.provide(training=self.training_targets, validation=self.validation_targets, users=users)

    def teardown(self, stage: str) -> None:
        """Evaluate every member again; restore the process's matmul precision."""
        self.unshard()
        if self._previous_matmul_precision is not None:
            torch.set_float32_matmul_precision(self._previous_matmul_precision)
            self._previous_matmul_precision = None

    @torch.no_grad()
    def predict_values(self, coords: Tensor, progress: bool = False) -> Tensor:
        """Evaluate coords [N, in_dim] in chunks of ``chunk_size`` (bounded memory) -> values [N, out_dim].

        Members (a batched signal): coords [K, N, in_dim], or [N, in_dim] for every member, -> [K, N, out_dim].
        """
        coords = coords.to(self.device)
        if not self.signal.batched:
            return evaluate_in_chunks(self, coords, self.chunk_size,
                                      empty=coords.new_empty((0, self.signal.out_dim)), progress=progress)
        members = self.active_spec.members
        if coords.dim() == 2:
            coords = coords.expand(members, *coords.shape)
        empty = coords.new_empty((members, 0, self.signal.out_dim))
        return evaluate_in_chunks(self, coords, self.chunk_size, empty=empty, progress=progress, members=True)

    def evaluate(self, batch: dict[str, Tensor]) -> Step:
        """Run the model on one chunk and wrap the result for the losses."""
        coords = batch["coords"]
        if self.needs_derivatives:
            coords = coords.detach().requires_grad_(True)
        return Step(coords, self(coords), batch)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        """One optimisation step over the whole batch, accumulated over chunks; no host sync but at logging steps.

        Under DDP the gradients are all-reduced once, after the last chunk, weighted by each rank's points.
        Members (tensors [K, N, ...]): each loss is the mean over all members' points, so the objective is it
        times K, the sum over members of each member's own mean loss (what each would minimise alone); the
        logged terms are the means over members.
        """
        optimizer = self.optimizers()
        optimizer.zero_grad(set_to_none=True)
        batched = self.signal.batched
        count = batch["coords"].shape[int(batched):-1].numel()  # points (of one member when batched)
        scale = self.active_spec.members if batched else 1
        terms = torch.zeros(len(self.losses), device=self.device)
        with without_gradient_reducer(self.trainer):
            size = batch["coords"].shape[:-1].numel() if self.whole_signal else self.chunk_size
            pieces = (member_chunks(batch, size) if batched else ((None, chunk) for chunk in chunks(batch, size)))
            for group, chunk in pieces:
                liveness.note_progress()
                if group is not None:
                    self._activate(group)
                step = self.evaluate(chunk)
                # share of the batch's points; for members, this piece's members' share of the summed objective
                share = chunk["coords"].shape[:-1].numel() / (count * scale)
                values = torch.stack([loss(step) for loss in self.losses])
                self.manual_backward((self.loss_weights * values).sum() * (share * scale))
                terms += values.detach() * share
        if batched:
            self._activate(None)
        if self.has_complex_parameters:
            resolve_conjugate_gradients(self.parameters())
        if self.sharded:  # members share nothing: no gradient crosses processes
            terms = all_reduce_terms(terms, scale)
        elif self.trainer.world_size > 1:
            terms = all_reduce_gradients(self.parameters(), count, terms)
        total = (terms * self.loss_weights).sum()
        learning_rate = guarded_update(self, optimizer, total, terms)
        if learning_rate is not None:  # a logging step
            metrics = {f"train/loss/{loss.name}": value for loss, value in zip(self.losses, terms.tolist())}
            metrics["train/loss"] = float(total)
            metrics["train/lr"] = learning_rate
            metrics.update(self._throughput(batch["coords"].shape[:-1].numel() * self.trainer.world_size))
            self.progress_metrics["train/loss"] = metrics["train/loss"]  # shown by inr.training.progress.ProgressBar
            self.log("train/loss", total, logger=False)  # callback_metrics; prog_bar would read it every step
            self.log_at_global_step(metrics)
        return total

    def _throughput(self, points_per_step: int) -> dict[str, float]:
        """``train/samples_per_second`` since the previous logging step; empty at the first one.

        Host clock: the device has just been read at a logging step, so the time includes the steps' work.
        """
        now, step = time.perf_counter(), self.global_step
        mark, self._throughput_mark = self._throughput_mark, (now, step)
        if mark is None or step <= mark[1] or now <= mark[0]:
            return {}
        return {"train/samples_per_second": points_per_step * (step - mark[1]) / (now - mark[0])}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Refuse to write weights updated from a non-finite loss; keep the best metrics; a shard writes all members."""
        super().on_save_checkpoint(checkpoint)
        if self.sharded:  # every rank saves (Lightning calls this hook on all)
            self.save_all_members(checkpoint)

    def on_train_end(self) -> None:
        """A fit does not end normally on weights updated from a non-finite loss; every rank ends with all members."""
        super().on_train_end()
        if self.sharded:
            self.gather_all_members()

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        """Evaluate the full signal, update the metrics and log ``val/<name>``; keep the evaluation for media.

        Every rank evaluates the whole signal, so the metrics are the same number whatever the number of ranks.
        """
        evaluation = self.evaluate_signal(batch, media=self._logs_media())
        if self.signal.batched:
            self.member_metrics = self.member_rows(evaluation)
            values = summarise_members(self.member_metrics)
        else:
            values = self.metric_values(evaluation)
        if self._baseline_values is None and not self.trainer.sanity_checking:
            datamodule = self.trainer.datamodule
            reconstructions = datamodule.baselines() if datamodule is not None else {}
            self._baseline_values = (self.member_baseline_values(reconstructions, batch) if self.signal.batched else
                                     baseline_values(reconstructions, self.signal, batch, self.metric_values,
                                                     self.global_step))
        self.report_validation(values, baseline=self._baseline_values)
        if self.signal.batched and self.trainer.is_global_zero and not self.trainer.sanity_checking:
            log_member_table(self.loggers, self.signal, self.member_metrics, self.global_step)
        self.last_evaluation = evaluation

    def validation_media(self, trainer: L.Trainer, wanted: bool) -> list[Media]:
        """The DataModule's media of the last evaluation (plus the extra points it names, e.g. SDF slices)."""
        evaluation, self.last_evaluation = self.last_evaluation, None
        datamodule = trainer.datamodule
        if not wanted or evaluation is None or not hasattr(datamodule, "media"):
            return []
        extra = {name: self.predict_values(coords) for name, coords in datamodule.media_coords().items()}
        return datamodule.media(evaluation, extra)

    def evaluate_signal(self, batch: dict[str, Tensor], media: bool = False) -> Evaluation:
        """The representation on the validation batch, with the derivatives the metrics need.

        With ``media``, a gradient is accompanied by the Laplacian (the media show both).
        """
        needs = {name for metric in self.metrics for name in metric.derivatives}
        gradient = laplacian = None
        if needs:
            with_laplacian = "laplacian" in needs or media
            prediction, gradient, laplacian = diff.evaluate_with_derivatives(
                self, batch["coords"], self.chunk_size, with_laplacian=with_laplacian, members=self.signal.batched)
        else:
            prediction = self.predict_values(batch["coords"])
        return Evaluation(spec=self.active_spec, batch=batch, prediction=prediction, predict=self.predict_values,
                          predict_member=self.member_predictor() if self.signal.batched else None,
                          gradient=gradient, laplacian=laplacian, step=self.global_step)

    def _logs_media(self) -> bool:
        """Whether this validation's media will be logged: rank zero, a logger, not the sanity check."""
        trainer = self.trainer
        return trainer.is_global_zero and trainer.logger is not None and not trainer.sanity_checking
