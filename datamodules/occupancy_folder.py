"""Many shapes' occupancy fitted at once (one network per shape): a folder of closed meshes or oriented point clouds.

Every shape is read, normalised and labelled as :class:`datamodules.occupancy.OccupancyDataModule` labels one; each
keeps its own normalising transform (``member_meta``), so a member's mesh renders in its own coordinates. The
members' points differ: batches hold ``coords [K, B, 3]`` and labels ``values [K, B, 1]``, member k drawn as the
single run seeded ``seed + k`` draws them.
"""

from __future__ import annotations

from typing import Any

from datamodules.members import OwnPointsMembersDataModule, signal_files
from datamodules.occupancy import OccupancyDataModule
from datamodules.pointcloud import SUPPORTED


class OccupancyFolderDataModule(OwnPointsMembersDataModule):
    """Shapes, each fitted by its own occupancy network, all in one batched pass.

    Args:
        path: a folder (its mesh / point-cloud files, sorted by name), a glob pattern or a list of files.
        limit: use only the first this many files (sorted by name); ``None`` uses all.
        batch_size: labelled points per shape per training step; ``None`` uses every point.
        seed: seed of the points and the batch sampler (shape k uses seed + k); ``None`` takes ``seed_everything``.
        labelling: how every shape is labelled, as :class:`OccupancyDataModule` takes it (``points``,
            ``val_points``, ``near_sigma``, ``scale_to``, ``uniform_in``, ``fresh_points``).
    """

    kind = "occupancy"

    def __init__(self, path: str | list[str], limit: int | None = None, batch_size: int | None = 32768,
                 seed: int | None = None, **labelling: Any) -> None:
        super().__init__(batch_size=batch_size, seed=seed)
        self.files = signal_files(path, SUPPORTED, "shape files", limit)
        self.source = path if isinstance(path, str) else f"{len(self.files)} listed files"
        self.members = [OccupancyDataModule(str(file), batch_size=batch_size, seed=self.seed + index, **labelling)
                        for index, file in enumerate(self.files)]
        self.check_members()
