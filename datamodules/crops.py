"""Datasets of crops: many small signals (image patches, audio clips) cut from a few larger ones, for meta-learning.

Training and held-out crops come from different material: with several files the last ``holdout`` fraction of them
(sorted by name, at least one) is held out; with one file, its last ``holdout`` fraction along the first axis (rows
of an image, time of a recording). Every crop is a signal of its own, on its own [-1, 1] grid.

A training step's crops are drawn from a generator seeded by (seed, step): crop j of the global batch takes a
random training source and a random position in it. Under DDP every rank draws the same global batch and keeps its
own contiguous share, so N processes see exactly the crops one process sees. The held-out crops are drawn once
with a fixed seed (:data:`HELD_OUT_SEED`), the same whatever the run's seed, so runs compare on the same crops.

Batches carry a leading signal axis: ``coords [B, P, d]``, ``values [B, P, c]`` (P points per crop), and for the
methods that see a signal through a context of its points: ``order [B, P]``, a random permutation of each crop's
points (a context of n points is the first n; contexts of one crop are nested), and ``draw [B]``, a uniform number
in [0, 1) a method maps to a context size. Both come from the same generator as the crops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch
from torch import Tensor

from datamodules.base import SignalDataModule, sampling_seed
from inr.core import grids
from inr.core.errors import InputError
from inr.core.media import Media
from inr.core.signal import SignalSpec

#: seed of the held-out crops' positions (fixed: every run validates on the same crops).
HELD_OUT_SEED = 20221017


def split_sources(sources: Sequence[Tensor], names: Sequence[str], holdout: float,
                  ) -> tuple[list[Tensor], list[str], list[Tensor], list[str]]:
    """(training sources, their names, held-out sources, their names) from signals [*shape, c].

    Several sources: the last ``max(1, round(holdout * n))`` are held out. One source: its last ``holdout`` fraction
    along axis 0 (names get the row or sample range). ``holdout`` 1 holds everything out: a set only to evaluate on.
    """
    if not 0 < holdout <= 1:
        raise InputError(f"data holdout must be a fraction in (0, 1] of the material held out, got {holdout}")
    if holdout == 1:
        return [], [], list(sources), list(names)
    if len(sources) > 1:
        held = max(1, round(holdout * len(sources)))
        if held >= len(sources):
            raise InputError(f"data holdout {holdout} of {len(sources)} files leaves none for training; use more "
                             "files or a smaller holdout")
        cut = len(sources) - held
        return list(sources[:cut]), list(names[:cut]), list(sources[cut:]), list(names[cut:])
    source, name = sources[0], names[0]
    cut = round(source.shape[0] * (1 - holdout))
    return [source[:cut]], [f"{name}[:{cut}]"], [source[cut:]], [f"{name}[{cut}:]"]


class CropSetDataModule(SignalDataModule):
    """Base of the crop datasets: subclasses load ``sources`` ([*shape, c] tensors) and call :meth:`prepare_crops`.

    Args:
        crop: the crop's shape along the sources' axes (e.g. (32, 32) pixels, (1024,) samples).
        batch_size: crops per training step over all processes (each of N processes takes batch_size / N).
        val_crops: held-out crops validated (drawn once, fixed).
        holdout: fraction of the material held out (see the module docstring).
        seed: seed of the training crops; ``None`` takes the run's ``seed_everything``.
    """

    #: the single-signal DataModule that renders one crop (``inr render`` of a network fitted to one).
    single: str = ""

    def __init__(self, crop: Sequence[int], batch_size: int = 16, val_crops: int = 16, holdout: float = 0.2,
                 seed: int | None = None) -> None:
        if batch_size is None or batch_size < 1:
            raise InputError(f"data batch_size must be a positive number of crops per step, got {batch_size}")
        super().__init__(batch_size=batch_size, seed=seed)
        if val_crops < 1:
            raise InputError(f"data val_crops must be >= 1, got {val_crops}")
        self.crop = tuple(int(size) for size in crop)
        if any(size < 2 for size in self.crop):
            raise InputError(f"data crop {list(self.crop)}: every side needs at least 2 samples")
        self.val_crops = val_crops
        self.holdout = holdout
        self.train_sources: list[Tensor] = []
        self.val_sources: list[Tensor] = []
        self.train_names: list[str] = []
        self.val_names: list[str] = []
        self._held_out: dict[str, Tensor] = {}

    def prepare_crops(self, sources: Sequence[Tensor], names: Sequence[str]) -> None:
        """Split the sources [*shape, c] and check every one holds a crop; draw the held-out crops."""
        self.train_sources, self.train_names, self.val_sources, self.val_names = split_sources(
            sources, names, self.holdout)
        for source, name in zip([*self.train_sources, *self.val_sources], [*self.train_names, *self.val_names]):
            shape = tuple(source.shape[:-1])
            if len(shape) != len(self.crop) or any(side < size for side, size in zip(shape, self.crop)):
                raise InputError(f"{name} has shape {list(shape)}, smaller than the crop {list(self.crop)} (after "
                                 "the holdout split); use a smaller crop or holdout")
        channels = {int(source.shape[-1]) for source in [*self.train_sources, *self.val_sources]}
        if len(channels) > 1:
            raise InputError(f"the sources have different channel counts {sorted(channels)}; use files of one kind")
        generator = torch.Generator().manual_seed(HELD_OUT_SEED)
        self._held_out = self._cut(self.val_sources, self.val_crops, generator)

    @property
    def channels(self) -> int:
        """Value channels of every crop."""
        return int([*self.train_sources, *self.val_sources][0].shape[-1])

    def crop_spec(self, **fields) -> SignalSpec:
        """The description of one crop, rendered by :attr:`single` (what a network of the set represents)."""
        return SignalSpec(in_dim=len(self.crop), out_dim=self.channels, kind=self.kind, datamodule=self.single,
                          shape=self.crop, **fields)

    @property
    def held_out_spec(self) -> SignalSpec:
        """The held-out crops as members (one signal each), for the per-crop metrics."""
        return replace(self.signal_spec, members=self.val_crops, member_sources=tuple(self.held_out_origins()))

    def _cut(self, sources: Sequence[Tensor], count: int, generator: torch.Generator) -> dict[str, Tensor]:
        """``count`` crops of random sources at random positions.

        Returns ``values [count, P, c]``, ``origins [count, d]``, ``sources [count]`` (indices), and for context
        sampling a random ``order [count, P]`` of each crop's points and a uniform ``draw [count]`` in [0, 1).
        """
        which = torch.randint(len(sources), (count,), generator=generator)
        unit = torch.rand((count, len(self.crop)), generator=generator, dtype=torch.float64)
        crops, origins = [], []
        for index, fraction in zip(which.tolist(), unit):
            source = sources[index]
            room = torch.tensor([side - size + 1 for side, size in zip(source.shape[:-1], self.crop)])
            origin = (fraction * room).floor().long().clamp(max=room - 1)
            window = tuple(slice(int(start), int(start) + size) for start, size in zip(origin, self.crop))
            crops.append(source[window].reshape(-1, source.shape[-1]))
            origins.append(origin)
        points = crops[0].shape[0]
        order = torch.rand((count, points), generator=generator).argsort(dim=1)
        draw = torch.rand(count, generator=generator)
        return {"values": torch.stack(crops), "origins": torch.stack(origins), "sources": which, "order": order,
                "draw": draw}

    def share(self, rank: int, world: int) -> slice:
        """This process's contiguous share of a global batch of ``batch_size`` crops."""
        if self.batch_size % world:
            raise InputError(f"data batch_size {self.batch_size} crops does not split evenly over {world} processes; "
                             f"use a multiple of {world}")
        per = self.batch_size // world
        return slice(rank * per, (rank + 1) * per)

    def setup(self, stage: str) -> None:
        """Refuse to train on a set held out whole (``holdout`` 1: a set only to evaluate on)."""
        if stage == "fit" and not self.train_sources:
            raise InputError(f"data holdout {self.holdout} holds every file out: such a set is only evaluated on "
                             "(inr meta validate); set holdout below 1 to train")

    def sample(self, device: torch.device, step: int, rank: int) -> dict[str, Tensor]:
        """This process's crops of the global batch of ``step``: ``coords``, ``values``, ``order``, ``draw``.

        The crops are cut on the CPU (a few small copies) and moved to ``device``.
        """
        world = self.trainer.world_size if self.trainer is not None else 1
        generator = torch.Generator().manual_seed(sampling_seed(self.seed, step, 0))
        mine = self.share(rank, world)
        drawn = self._cut(self.train_sources, self.batch_size, generator)
        values = drawn["values"][mine].to(device)
        coords = grids.grid(self.crop).to(device)
        return {"coords": coords.expand(values.shape[0], *coords.shape), "values": values,
                "order": drawn["order"][mine].to(device), "draw": drawn["draw"][mine].to(device)}

    def validation_batch(self, device: torch.device) -> dict[str, Tensor]:
        """Every held-out crop: ``coords [V, P, d]``, ``values [V, P, c]``, its fixed ``order`` and ``draw``."""
        values = self._held_out["values"].to(device)
        coords = grids.grid(self.crop).to(device)
        return {"coords": coords.expand(values.shape[0], *coords.shape), "values": values,
                "order": self._held_out["order"].to(device), "draw": self._held_out["draw"].to(device)}

    def held_out_origins(self) -> list[str]:
        """Where each held-out crop was cut: ``name @ [origin]``."""
        return [f"{self.val_names[index]} @ {origin.tolist()}"
                for index, origin in zip(self._held_out["sources"].tolist(), self._held_out["origins"])]

    def crop_media(self, columns: dict[str, Tensor], step: int) -> list[Media]:
        """Pictures (or sounds) of the first held-out crops, one column per entry of ``columns`` ([V, P, c])."""
        return []
