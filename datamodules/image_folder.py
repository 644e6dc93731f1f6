"""A folder of images as K signals fitted at once (one network per image): ``inr fit`` of a whole dataset.

Every image is read as :class:`datamodules.image.ImageDataModule` reads one (same options, targets, media and
renders); they must share one size and channel count after ``size``, or ``resize`` makes them match the first.
"""

from __future__ import annotations

from datamodules.image import ImageDataModule, resize_to
from datamodules.members import MembersDataModule, signal_files
from inr.core.errors import InputError

#: file types read from a folder (a glob or a list may name any image file).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp")


class ImageFolderDataModule(MembersDataModule):
    """Images of one size, each fitted by its own network, all in one batched pass.

    Args:
        path: a folder (its image files, sorted by name), a glob pattern (``data/*.png``) or a list of files.
        limit: use only the first this many files (sorted by name); ``None`` uses all.
        size: resize (bilinear, antialiased) so the longer side has this many pixels; ``None`` keeps the size.
        resize: resize every image to the first one's height and width (aspect ratio not kept) instead of refusing
            images of another size.
        batch_size: random pixels per image per training step; ``None`` uses every pixel (full batch).
        seed: seed of the batch sampler (image k uses seed + k); ``None`` takes the run's ``seed_everything``.
        value_range: (low, high) the pixels [0, 1] are mapped onto, as for a single image.
    """

    kind = "image"

    def __init__(
        self,
        path: str | list[str],
        limit: int | None = None,
        size: int | None = None,
        resize: bool = False,
        batch_size: int | None = None,
        seed: int | None = None,
        value_range: tuple[float, float] = (-1.0, 1.0),
    ) -> None:
        super().__init__(batch_size=batch_size, seed=seed)
        self.files = signal_files(path, IMAGE_SUFFIXES, "image files", limit)
        self.source = path if isinstance(path, str) else f"{len(self.files)} listed files"
        self.members = [ImageDataModule(str(file), size=size, value_range=value_range) for file in self.files]
        if resize:
            first = self.members[0]
            for file, member in zip(self.files[1:], self.members[1:]):
                if member.channels != first.channels:
                    raise InputError(f"{file} has {member.channels} channel(s), {self.files[0]} has "
                                     f"{first.channels}: resize does not change channels")
                member.pixels = resize_to(member.pixels, (first.height, first.width))
                member.height, member.width = first.height, first.width
        self.check_members()
