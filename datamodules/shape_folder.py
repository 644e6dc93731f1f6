"""A folder of shapes (meshes or oriented point clouds) as K signed distance functions fitted at once.

Every shape is read, normalised and sampled as :class:`datamodules.pointcloud.PointCloudDataModule` reads one;
each keeps its own normalising transform (``member_meta``), so a member's mesh renders in its own coordinates.
Unlike images, the members' points differ: batches hold ``coords [K, 2B, 3]`` (B on each surface, B uniform in
the cube), member k drawn as the single run seeded ``seed + k`` draws them.
"""

from __future__ import annotations

from typing import Any

from datamodules.members import OwnPointsMembersDataModule, signal_files
from datamodules.pointcloud import SUPPORTED, PointCloudDataModule
from inr.core.errors import InputError


class ShapeFolderDataModule(OwnPointsMembersDataModule):
    """Shapes, each fitted by its own SDF network, all in one batched pass.

    Args:
        path: a folder (its mesh / point-cloud files, sorted by name), a glob pattern or a list of files.
        limit: use only the first this many files (sorted by name); ``None`` uses all.
        batch_size: on-surface points per shape per training step; as many off-surface points are added.
        seed: seed of the batch sampler (shape k uses seed + k); ``None`` takes the run's ``seed_everything``.
        sampling: how every shape is normalised and sampled, as :class:`PointCloudDataModule` takes it
            (``surface_points`` on each mesh's faces, ``scale_to``, ``val_points`` per shape).
    """

    kind = "sdf"

    def __init__(
        self,
        path: str | list[str],
        limit: int | None = None,
        batch_size: int = 10000,
        seed: int | None = None,
        **sampling: Any,
    ) -> None:
        super().__init__(batch_size=batch_size, seed=seed)
        self.files = signal_files(path, SUPPORTED, "shape files", limit)
        self.source = path if isinstance(path, str) else f"{len(self.files)} listed files"
        # seeded as the single runs (surface samples too): shape k as the run seeded seed + k
        self.members = [PointCloudDataModule(str(file), batch_size=batch_size, seed=self.seed + index, **sampling)
                        for index, file in enumerate(self.files)]
        for file, member in zip(self.files, self.members):
            if member.mesh is None and len(member.points) < member.val_points:
                raise InputError(f"{file} is a point cloud of {len(member.points)} points, fewer than data "
                                 f"val_points {member.val_points}: set val_points to at most the smallest cloud's "
                                 "size")
        self.check_members()
