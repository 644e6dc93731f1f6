"""Many CT slices fitted at once (one network per slice): a folder of slice images, or Shepp-Logan phantoms by seed.

Every slice is scanned as :class:`datamodules.ct.CTDataModule` scans one (same size, angles and samples, so the
members share their rays and differ in their projections). Training batches are each member's own rays, stacked:
``coords [K, R, S, 2]``, ``ray_lengths [K, R, S]``, ``projections [K, R, 1]``; member k draws them as the single run
seeded ``seed + k`` does. The classical baselines are scored for every member (the means are logged).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from datamodules.ct import CTDataModule
from datamodules.image_folder import IMAGE_SUFFIXES
from datamodules.members import MembersDataModule, signal_files
from datamodules.phantoms import phantom_seeds_or_files


class CTFolderDataModule(MembersDataModule):
    """Slices of one size seen through the same parallel-beam scan, each fitted by its own network.

    Args:
        path: a folder of square slice images (sorted by name), a glob pattern or a list of files.
        phantom_seeds: instead of ``path``, one perturbed Shepp-Logan phantom per seed (the paper: 8 phantoms).
        limit: use only the first this many files (sorted by name); ``None`` uses all.
        size: side of every slice and number of detector bins per view.
        views: projection angles, evenly over [0, pi); ignored when ``angles`` is given.
        angles: the projection angles in radians, each in [0, pi).
        samples: points per ray; ``None``: ``size``.
        baseline_steps: Adam steps of each slice's grid-optimisation baseline; 0 skips it.
        batch_size: rays per slice per training step; ``None`` uses every ray.
        seed: seed of the ray sampler (slice k uses seed + k); ``None`` takes the run's ``seed_everything``.
    """

    kind = "ct"

    def __init__(self, path: str | list[str] | None = None, phantom_seeds: list[int] | None = None,
                 limit: int | None = None, size: int = 128, views: int = 20, angles: list[float] | None = None,
                 samples: int | None = None, baseline_steps: int = 1000, batch_size: int | None = None,
                 seed: int | None = None) -> None:
        super().__init__(batch_size=batch_size, seed=seed)
        seeds = phantom_seeds_or_files(path, phantom_seeds, limit, "slice images")
        scan = {"size": size, "views": views, "angles": angles, "samples": samples,
                "baseline_steps": baseline_steps, "batch_size": batch_size}
        if seeds:
            self.files = [Path(f"Shepp-Logan phantom (seed {phantom})") for phantom in seeds]
            self.source = f"{len(seeds)} Shepp-Logan phantoms (seeds {', '.join(map(str, seeds))})"
            self.members = [CTDataModule(phantom_seed=phantom, seed=self.seed + index, **scan)
                            for index, phantom in enumerate(seeds)]
        else:
            self.files = signal_files(path, IMAGE_SUFFIXES, "slice images", limit)
            self.source = path if isinstance(path, str) else f"{len(self.files)} listed files"
            self.members = [CTDataModule(str(file), seed=self.seed + index, **scan)
                            for index, file in enumerate(self.files)]
        self.check_members()

    def sample(self, device: torch.device, step: int, rank: int) -> dict[str, Tensor]:
        """Each member's own rays (as its single run draws them), stacked: ``coords [K, R, S, 2]`` and targets."""
        return self.each_member(lambda member: member.sample(device, step, 0))
