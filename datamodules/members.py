"""Datasets of signals fitted at once: K signals of one shape as K members, tensors with a leading member axis.

A dataset DataModule holds one single-signal DataModule per file (the same readers, targets, media and renders as
a single fit) and stacks their tensors: ``coords [N, d]`` shared by all members, targets ``[K, N, ...]``. Batches
carry the member axis: ``coords [K, B, d]``, ``values [K, B, c]``.

Member k samples as the single run seeded ``seed + k`` would: full batch, or ``batch_size`` random points from a
generator seeded by (seed + k, step). So a batched fit of K files is, member by member, the K single fits.

On several processes each rank holds, samples and validates only its shard of the members
(:func:`inr.core.shards.shard_range`, the module's shard); a member's draws do not depend on which rank holds it.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from datamodules.base import SignalDataModule, sampling_seed
from inr.core.errors import InputError, MissingFileError
from inr.core.evaluation import Evaluation
from inr.core.media import Media
from inr.core.shards import shard_range
from inr.core.signal import SignalSpec

#: members whose media a validation logs (the first ones).
MEDIA_MEMBERS = 4


def signal_files(path: str | Sequence[str], suffixes: Sequence[str], what: str, limit: int | None = None) -> list[Path]:
    """The files of a dataset, sorted by name, at most ``limit`` of them.

    ``path`` is a folder (its files with one of ``suffixes``), a glob pattern or a list of files; ``what`` names
    them in errors ("image files").
    """
    if limit is not None and limit < 1:
        raise InputError(f"data limit must be >= 1 file (or null for all), got {limit}")
    if isinstance(path, str | Path):
        text = str(path)
        if any(char in text for char in "*?["):
            files = sorted(Path(match) for match in glob.glob(text) if Path(match).is_file())
            where = f"the pattern {text}"
        elif Path(text).is_dir():
            files = sorted(file for file in Path(text).iterdir()
                           if file.is_file() and file.name.lower().endswith(tuple(suffixes)))
            where = f"the folder {text} (looking for {', '.join(suffixes)})"
        elif Path(text).is_file():
            files, where = [Path(text)], text
        else:
            raise MissingFileError(f"data path {text}: no such folder or file")
    else:
        files, where = [Path(item) for item in path], "the list data.path"
        for file in files:
            if not file.is_file():
                raise MissingFileError(f"data path lists {file}, which is not a file")
    if not files:
        raise InputError(f"no {what} in {where}")
    return files[:limit] if limit is not None else files


class MembersDataModule(SignalDataModule):
    """Base of the dataset DataModules: subclasses build ``self.members`` (single-signal DataModules of one shape).

    Args:
        batch_size: random points per member per training step; ``None`` uses every point (full batch).
        seed: seed of the batch sampler (member k uses seed + k); ``None`` takes the run's ``seed_everything``.
    """

    def __init__(self, batch_size: int | None = None, seed: int | None = None) -> None:
        super().__init__(batch_size=batch_size, seed=seed)
        self.members: list[SignalDataModule] = []
        self.files: list[Path] = []
        self.source = ""
        self._cached_shard: tuple[slice, torch.device] | None = None  # what _on_device holds

    #: description entries (``meta``) every member must share, e.g. the sample rate of audio.
    shared_meta: tuple[str, ...] = ()

    def check_members(self) -> None:
        """Refuse members that differ in shape, channels or ``shared_meta`` from the first, naming the file."""
        first = self.members[0].signal_spec
        for file, member in zip(self.files, self.members):
            spec = member.signal_spec
            if (spec.shape, spec.out_dim) != (first.shape, first.out_dim):
                raise InputError(f"{file} has shape {list(spec.shape)} with {spec.out_dim} channel(s), but "
                                 f"{self.files[0]} has {list(first.shape)} with {first.out_dim}: the signals of a "
                                 "dataset share one shape (resize them first, or see the DataModule's options)")
            for key in self.shared_meta:
                if spec.meta.get(key) != first.meta.get(key):
                    raise InputError(f"{file} has {key} {spec.meta.get(key)}, but {self.files[0]} has "
                                     f"{first.meta.get(key)}: the signals of a dataset share it")

    @property
    def available_targets(self) -> tuple[str, ...]:  # type: ignore[override]
        """What every member can compute."""
        return type(self.members[0]).available_targets

    def provide(self, training, validation, users=None) -> None:
        """As a single DataModule, for every member too."""
        super().provide(training, validation, users)
        for member in self.members:
            member.provide(training, validation, users)

    def signal_tensors(self) -> dict[str, Tensor]:
        """``coords [N, d]`` (the members' shared grid) and every target stacked over members, ``[K, N, ...]``."""
        tensors = [member.signal_tensors() for member in self.members]
        stacked = {key: torch.stack([member[key] for member in tensors]) for key in tensors[0] if key != "coords"}
        return {"coords": tensors[0]["coords"], **stacked}

    @property
    def signal_spec(self) -> SignalSpec:
        """The members' description (of the single-signal DataModule, which renders each), with K and the files.

        Description entries that differ between members (a shape's normalising transform, an image's bit depth)
        are kept per member in ``member_meta``.
        """
        specs = [member.signal_spec for member in self.members]
        keys = sorted({key for spec in specs for key in spec.meta})
        differing = [key for key in keys if any(spec.meta.get(key) != specs[0].meta.get(key) for spec in specs)]
        member_meta = tuple({key: spec.meta.get(key) for key in differing} for spec in specs) if differing else ()
        return replace(specs[0], members=len(self.members), source=self.source, member_meta=member_meta,
                       member_sources=tuple(str(file) for file in self.files))

    @property
    def shard(self) -> slice:
        """The members this process holds: all of them, or its rank's shard under multi-process fitting."""
        trainer = self.trainer
        if trainer is None or trainer.world_size == 1 or trainer.state.fn != "fit":
            return slice(0, len(self.members))
        return shard_range(len(self.members), trainer.world_size, trainer.global_rank)

    def on_device(self, device: torch.device) -> dict[str, Tensor]:
        """This process's members on ``device`` (``coords [N, d]``, targets ``[K_shard, N, ...]``), cached."""
        shard = self.shard
        if self._cached_shard != (shard, device) or not self._on_device:
            signal = self.signal_tensors()
            self._on_device = {key: (value if key == "coords" else value[shard]).to(device)
                               for key, value in signal.items()}
            self._cached_shard = (shard, device)
        return self._on_device

    def sample(self, device: torch.device, step: int, rank: int) -> dict[str, Tensor]:
        """A training batch of this process's members: ``coords [K, B, d]`` and the training targets ``[K, B, ...]``.

        Full batch, or per member k ``batch_size`` points drawn with replacement from a generator seeded by
        (seed + k, step): the single run's draws, whichever rank holds the member.
        """
        signal = self.on_device(device)
        shard = self.shard
        coords, members = signal["coords"], len(range(len(self.members))[shard])
        targets = {key: signal[key] for key in self.training_targets}
        if self.batch_size is None:
            return {"coords": coords.expand(members, *coords.shape), **targets}
        count = coords.shape[0]
        generators = [torch.Generator(device=device).manual_seed(sampling_seed(self.seed + k, step, 0))
                      for k in range(len(self.members))[shard]]
        index = torch.stack([torch.randint(count, (self.batch_size,), generator=generator, device=device)
                             for generator in generators])
        rows = torch.arange(members, device=device)[:, None]
        return {"coords": coords[index], **{key: value[rows, index] for key, value in targets.items()}}

    def validation_batch(self, device: torch.device) -> dict[str, Tensor]:
        """Every point of every member: ``coords [K, N, d]`` and the validation targets ``[K, N, ...]``."""
        signal = self.on_device(device)
        coords = signal["coords"]
        targets = {key: signal[key] for key in self.validation_targets if key != "coords"}
        members = next(iter(targets.values())).shape[0]
        return {"coords": coords.expand(members, *coords.shape), **targets}

    def each_member(self, batch: Callable[[SignalDataModule], dict[str, Tensor]]) -> dict[str, Tensor]:
        """``batch(member)`` of every member of this process's shard, stacked along a leading member axis."""
        batches = [batch(member) for member in self.members[self.shard]]
        return {key: torch.stack([values[key] for values in batches]) for key in batches[0]}

    def baselines(self) -> dict[str, Tensor]:
        """Every member's classical reconstructions, stacked: ``{name: [K, N, c]}`` (empty when members have none)."""
        per_member = [member.baselines() for member in self.members]
        return {name: torch.stack([baselines[name] for baselines in per_member]) for name in per_member[0]}

    def media_coords(self) -> dict[str, Tensor]:
        """The first member's extra coordinates (shared by all: the members have one shape)."""
        return self.members[0].media_coords()

    def media(self, evaluation: Evaluation, extra: dict[str, Tensor]) -> list[Media]:
        """The first :data:`MEDIA_MEMBERS` members' media, each under ``<key>/<member index>``."""
        items: list[Media] = []
        for index, member in enumerate(self.members[:min(MEDIA_MEMBERS, evaluation.spec.members)]):
            own = {name: value[index] for name, value in extra.items()}
            for item in member.media(evaluation.member(index), own):
                items.append(replace(item, key=f"{item.key}/{index}"))
        return items

    @staticmethod
    def render_to_file(*args: Any, **kwargs: Any) -> str:
        """Not used: a member's spec names its single-signal DataModule, which renders it."""
        raise InputError("render one member at a time: inr render CKPT --member INDEX --out FILE")


class OwnPointsMembersDataModule(MembersDataModule):
    """Members whose points differ (shapes, each normalised and sampled on its own): no shared grid.

    Every batch is each member's own batch, stacked (``coords [K, B, d]``).
    """

    def sample(self, device: torch.device, step: int, rank: int) -> dict[str, Tensor]:
        """Each member's own training batch, as its single run draws it, stacked."""
        return self.each_member(lambda member: member.sample(device, step, 0))

    def validation_batch(self, device: torch.device) -> dict[str, Tensor]:
        """Each member's own validation batch, stacked."""
        return self.each_member(lambda member: member.validation_batch(device))

    def signal_tensors(self) -> dict[str, Tensor]:
        """Not used: each member samples its own points (see ``sample``)."""
        raise NotImplementedError(f"{type(self).__name__} samples each member's own points")

