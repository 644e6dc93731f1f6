"""Shared base of the signal DataModules.

The whole signal lives as tensors (``coords [N, d]`` in [-1, 1], ``values [N, c]``), moved once to the
training device. The train loader yields only placeholders; the batch itself is drawn on the device in
``on_after_batch_transfer`` from a generator seeded by (seed, global_step, rank), so there is no per-point
Python work, resume is exact and every DDP rank draws different points.

A DataModule supplies data and knows its file formats; it never calls the model. The module tells it which
targets its losses (training) and metrics (validation) read (``provide``), and it computes exactly those. For
media, it turns an :class:`inr.core.evaluation.Evaluation` into its signal's natural form (``media``).
"""

from __future__ import annotations

import hashlib
import itertools
import os
from typing import Any, ClassVar

import lightning as L
import torch
from lightning.pytorch.plugins.precision import DoublePrecision
from torch import Tensor
from torch.utils.data import DataLoader, IterableDataset

from inr.core.errors import InputError
from inr.core.evaluation import Evaluation
from inr.core.media import Media
from inr.core.signal import SignalSpec
from inr.io.files import input_file  # noqa: F401 - part of the DataModule author's API (docs/extending.md)


class _Placeholders(IterableDataset):
    """Endless stream of zeros: one per training step; the real batch is sampled on the device."""

    def __iter__(self):
        return itertools.repeat(0)


def sampling_seed(seed: int, step: int, rank: int) -> int:
    """A 63-bit generator seed mixed from (seed, step, rank)."""
    digest = hashlib.blake2b(f"{seed}:{step}:{rank}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


class SignalDataModule(L.LightningDataModule):
    """Base class: subclasses load the signal in ``__init__`` and describe it in ``signal_spec``.

    Args:
        batch_size: points per training step; ``None`` uses the full signal every step.
        seed: seed of the batch sampler; ``None`` takes the run's ``seed_everything`` (or 0).
    """

    #: name of the signal kind written in checkpoints (``image``, ``audio``, ``sdf``).
    kind: ClassVar[str] = "signal"
    #: the targets this DataModule can compute (batch entries besides ``coords``).
    available_targets: ClassVar[tuple[str, ...]] = ("values",)

    def __init__(self, batch_size: int | None = None, seed: int | None = None) -> None:
        super().__init__()
        if batch_size is not None and batch_size < 1:
            raise InputError(
                f"data batch_size must be a positive number of points (or null for full batch), got {batch_size}"
            )
        self.batch_size = batch_size
        self._seed = seed
        self._on_device: dict[str, Tensor] = {}
        self.training_targets: tuple[str, ...] = ("values",)
        self.validation_targets: tuple[str, ...] = ("values",)

    # --- what subclasses provide -------------------------------------------------------------------------------
    def signal_tensors(self) -> dict[str, Tensor]:
        """The full signal on the CPU: ``coords [N, d]`` and every target of ``computed_targets()``."""
        raise NotImplementedError

    @property
    def signal_spec(self) -> SignalSpec:
        """The description saved with the model (dims, shape, value range, source) so it renders without data."""
        raise NotImplementedError

    def spec(self, in_dim: int, out_dim: int, **fields: Any) -> SignalSpec:
        """A SignalSpec of this DataModule's kind and class path (for ``inr render``), with the given fields."""
        return SignalSpec(in_dim=in_dim, out_dim=out_dim, kind=self.kind,
                          datamodule=f"{type(self).__module__}.{type(self).__qualname__}", **fields)

    def baselines(self) -> dict[str, Tensor]:
        """Classical reconstructions from the same data, ``{name: values [N, c]}`` on the validation grid.

        Scored once by the run's metrics and logged as ``val/baseline/<name>/<metric>``. Default: none.
        """
        return {}

    def media_coords(self) -> dict[str, Tensor]:
        """Extra coordinates [n, d] by name at which the media callback evaluates the model. Default: none."""
        return {}

    def media(self, evaluation: Evaluation, extra: dict[str, Tensor]) -> list[Media]:
        """Pictures/sounds/meshes of a validation (``extra``: predictions at ``media_coords``). Default: none."""
        return []

    # --- targets ---------------------------------------------------------------------------------------------------
    def provide(self, training: list[str] | tuple[str, ...], validation: list[str] | tuple[str, ...],
                users: dict[str, tuple[str, ...]] | None = None) -> None:
        """Compute exactly these targets for training batches and the validation batch (called by the module).

        ``values`` is always computed (validation compares with it). A target this DataModule cannot compute is
        refused; ``users`` (who asks -> the targets it reads, e.g. ``{"loss GradientLoss": ("gradients",)}``) lets
        the message name who asked for it.
        """
        available = set(self.available_targets)
        unknown = sorted({*training, *validation} - available)
        if unknown:
            for user, targets in (users or {}).items():
                missing = [target for target in targets if target not in available]
                if missing:
                    raise InputError(f"{user} needs the target(s) {missing}, which {type(self).__name__} does not "
                                     f"provide (it provides {sorted(available)}); choose losses and metrics for "
                                     "this data")
            raise InputError(f"{type(self).__name__} cannot compute the target(s) {unknown}; it provides "
                             f"{sorted(available)}")
        training, validation = tuple(sorted(training)), tuple(sorted({"values", *validation}))
        if (training, validation) != (self.training_targets, self.validation_targets):
            self.training_targets, self.validation_targets = training, validation
            self._on_device = {}

    def computed_targets(self) -> list[str]:
        """Every target a batch may hold: ``values`` and those asked for training or validation."""
        return sorted({"values", *self.training_targets, *self.validation_targets})

    # --- shared machinery ----------------------------------------------------------------------------------------
    @property
    def seed(self) -> int:
        """Sampler seed: explicit, else ``seed_everything``'s, else 0."""
        if self._seed is not None:
            return self._seed
        return int(os.environ.get("PL_GLOBAL_SEED", 0))

    def on_device(self, device: torch.device) -> dict[str, Tensor]:
        """The full signal on ``device``, copied once and cached."""
        first = next(iter(self._on_device.values()), None)
        if first is None or first.device != device:
            self._on_device = {key: value.to(device) for key, value in self.signal_tensors().items()}
        return self._on_device

    def sample(self, device: torch.device, step: int, rank: int) -> dict[str, Tensor]:
        """A training batch on ``device``: ``coords`` and the training targets, nothing else.

        The full signal (this rank's shard under DDP), or ``batch_size`` random points drawn with replacement
        from a generator seeded by (seed, step, rank).
        """
        keep = ("coords", *self.training_targets)
        signal = {key: value for key, value in self.on_device(device).items() if key in keep}
        if self.batch_size is None:
            world = self.trainer.world_size if self.trainer is not None else 1
            # Full batch under DDP: each rank takes every world-th point (a view, no copy); the module weights each
            # rank's gradient by its points, so together the ranks take the full-batch step.
            if world == 1:
                return signal
            if signal["coords"].shape[0] < world:
                raise InputError(f"full-batch training on {world} processes needs at least {world} points; the signal "
                                 f"has {signal['coords'].shape[0]} (use fewer --trainer.devices)")
            return {key: value[rank::world] for key, value in signal.items()}
        count = signal["coords"].shape[0]
        generator = torch.Generator(device=device).manual_seed(sampling_seed(self.seed, step, rank))
        index = torch.randint(count, (self.batch_size,), generator=generator, device=device)
        return {key: value[index] for key, value in signal.items()}

    def train_dataloader(self) -> DataLoader:
        """Placeholders, one per step (see ``on_after_batch_transfer``)."""
        return DataLoader(_Placeholders(), batch_size=None)

    def val_dataloader(self) -> DataLoader:
        """One placeholder: validation evaluates the full signal."""
        return DataLoader([0], batch_size=None)

    def validation_batch(self, device: torch.device) -> dict[str, Tensor]:
        """The whole signal on ``device``: ``coords`` and the validation targets."""
        keep = ("coords", *self.validation_targets)
        return {key: value for key, value in self.on_device(device).items() if key in keep}

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> dict[str, Tensor]:
        """Replace the placeholder by the real batch, drawn on the device (float64 under ``precision 64-true``)."""
        device = self.trainer.strategy.root_device
        if self.trainer.training:
            batch = self.sample(device, self.trainer.global_step, self.trainer.global_rank)
        else:
            batch = self.validation_batch(device)
        return in_trainer_precision(batch, self.trainer)


def in_trainer_precision(batch: dict[str, Tensor], trainer) -> dict[str, Tensor]:
    """``batch`` with its floating tensors in float64 when the trainer runs in ``64-true``; as it is otherwise.

    Lightning converts a DataLoader's batch before ``on_after_batch_transfer``, which here draws the real batch; the
    other precisions keep coordinates and targets in float32 (the networks' input layers compute in float32).
    """
    if isinstance(trainer.precision_plugin, DoublePrecision):
        return trainer.precision_plugin.convert_input(batch)
    return batch
