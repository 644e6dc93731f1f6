"""Many MRI volumes fitted at once (one network per volume): a folder of volumes, or 3D Shepp-Logan phantoms by seed.

Every volume is measured as :class:`datamodules.mri.MRIDataModule` measures one (same grid size and k-space mask),
so batches hold the shared grid for each member, ``coords [K, n^3, 3]``, and each member's measurement,
``kspace [K, M, 1, 2]`` at ``kspace_index [K, M]``. The zero-filled baseline is scored for every member.
"""

from __future__ import annotations

from pathlib import Path

from datamodules.members import MembersDataModule, signal_files
from datamodules.mri import VOLUME_SUFFIXES, MRIDataModule
from datamodules.phantoms import NOTEBOOK_Z_LIMIT, phantom_seeds_or_files


class MRIFolderDataModule(MembersDataModule):
    """Volumes of one grid size seen through the same k-space mask, each fitted by its own network.

    Args:
        path: a folder of volumes (``.npy``, ``.nii``, ``.nii.gz``; sorted by name), a glob pattern or a list.
        phantom_seeds: instead of ``path``, one perturbed 3D Shepp-Logan phantom per seed.
        limit: use only the first this many volumes; ``None`` uses all.
        size: side of every cubic grid.
        mask_samples: Gaussian draws of the shared k-space mask; ``None``: the paper's density.
        mask_seed: seed of the shared mask.
        phantom_z_limit: the phantoms' grids span z in [-limit, limit] of [-1, 1] (:class:`MRIDataModule`).
        phantom_rotated: turn each phantom by a random 3D rotation drawn from its seed (:class:`MRIDataModule`).
    """

    kind = "mri"

    def __init__(self, path: str | list[str] | None = None, phantom_seeds: list[int] | None = None,
                 limit: int | None = None, size: int = 48, mask_samples: int | None = None,
                 mask_seed: int = 0, phantom_z_limit: float = NOTEBOOK_Z_LIMIT, phantom_rotated: bool = False) -> None:
        super().__init__(batch_size=None, seed=None)
        seeds = phantom_seeds_or_files(path, phantom_seeds, limit, "volumes")
        scan = {"size": size, "mask_samples": mask_samples, "mask_seed": mask_seed}
        if seeds:
            self.source = f"{len(seeds)} 3D Shepp-Logan phantoms (seeds {', '.join(map(str, seeds))})"
            self.members = [MRIDataModule(phantom_seed=phantom, phantom_z_limit=phantom_z_limit,
                                          phantom_rotated=phantom_rotated, **scan) for phantom in seeds]
            self.files = [Path(member.signal_spec.source) for member in self.members]  # each its own name
        else:
            self.files = signal_files(path, VOLUME_SUFFIXES, "volume files", limit)
            self.source = path if isinstance(path, str) else f"{len(self.files)} listed files"
            self.members = [MRIDataModule(str(file), phantom_rotated=phantom_rotated, **scan) for file in self.files]
        self.check_members()
