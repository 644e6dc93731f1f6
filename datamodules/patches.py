"""Image patches for meta-learning: square crops of a folder of images, held-out patches from other images.

Each patch is a signal f(y, x) -> channels on its own [-1, 1] grid, values mapped onto ``value_range`` as
:class:`datamodules.image.ImageDataModule` maps one image (see :mod:`datamodules.crops` for the split and the
sampling).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from datamodules.crops import CropSetDataModule
from datamodules.image import checked_image_options, read_image, resize_longer_side, values_to_pixels
from datamodules.image_folder import IMAGE_SUFFIXES
from datamodules.members import signal_files
from inr.core.errors import InputError
from inr.core.media import Media, Picture
from inr.core.signal import SignalSpec

#: held-out patches shown in the validation media.
MEDIA_PATCHES = 4


class ImagePatchDataModule(CropSetDataModule):
    """Random ``patch`` x ``patch`` crops of a folder of images; the last ``holdout`` of the files held out.

    Args:
        path: a folder (its image files, sorted by name), a glob pattern or a list of files; one file is split by
            rows (its last ``holdout`` rows held out).
        patch: side of the square patches in pixels.
        size: resize each image first (bilinear, antialiased) so its longer side has this many pixels; ``None``
            keeps its size.
        limit: use only the first this many files (sorted by name); ``None`` uses all.
        value_range: (low, high) the pixels [0, 1] are mapped onto.
        crop_set: ``batch_size`` (patches per step), ``val_crops``, ``holdout`` (of the files, or of one file's
            rows) and ``seed``, as :class:`CropSetDataModule` takes them.
    """

    kind = "image"
    single = "datamodules.image.ImageDataModule"

    def __init__(
        self,
        path: str | list[str],
        patch: int = 32,
        size: int | None = None,
        limit: int | None = None,
        value_range: tuple[float, float] = (-1.0, 1.0),
        **crop_set: Any,
    ) -> None:
        super().__init__((patch, patch), **crop_set)
        self.value_range = checked_image_options(size, value_range)
        self.path = path if isinstance(path, str) else f"{len(path)} listed files"
        files = signal_files(path, IMAGE_SUFFIXES, "image files", limit)
        sources = []
        for file in files:
            pixels = read_image(file)
            pixels = pixels if size is None else resize_longer_side(pixels, size)
            low, high = self.value_range
            sources.append(torch.from_numpy(np.ascontiguousarray(low + pixels * (high - low), dtype=np.float32)))
        self.prepare_crops(sources, [str(file) for file in files])

    @property
    def signal_spec(self) -> SignalSpec:
        """One patch: (patch, patch) pixels, rendered as an image."""
        return self.crop_spec(source=f"patches of {self.path}", value_range=self.value_range,
                              meta={"bit_depth": 8})

    def crop_media(self, columns: dict[str, Tensor], step: int) -> list[Media]:
        """The first held-out patches (rows) in each of ``columns`` [V, P, c] (left to right), as one picture.

        Patches are scaled up 4x (nearest) so they are visible; columns are separated by a white line.
        """
        height, width = self.crop
        rows = []
        for index in range(min(MEDIA_PATCHES, self.val_crops)):
            cells = []
            for values in columns.values():
                pixels = values_to_pixels(values[index], height, width, value_range=self.value_range)
                pixels = np.repeat(np.repeat(pixels, 4, axis=0), 4, axis=1)
                if pixels.shape[-1] == 1:
                    pixels = np.repeat(pixels, 3, axis=-1)
                cells.extend([pixels, np.full((pixels.shape[0], 2, 3), 255, np.uint8)])
            rows.extend([np.concatenate(cells[:-1], axis=1), np.full((2, cells[0].shape[1] * len(columns)
                                                                          + 2 * (len(columns) - 1), 3), 255, np.uint8)])
        caption = " | ".join(columns) + f" (held-out patches, step {step})"
        return [Picture("val/patches", [np.concatenate(rows[:-1], axis=0)], [caption])]


def read_patch_signal(spec: SignalSpec, path: str) -> Tensor:
    """An image file as one patch of ``spec``: resized to its (height, width), values [height * width, c].

    The values are in the spec's value range, as the patches the model was trained on.
    """
    from datamodules.image import resize_to

    pixels = read_image(path)
    channels = pixels.shape[-1]
    if channels != spec.out_dim:
        raise InputError(f"{path} has {channels} channel(s), the model's signals {spec.out_dim}")
    low, high = spec.value_range
    pixels = resize_to(pixels, tuple(spec.shape))
    return torch.from_numpy(np.ascontiguousarray(low + pixels * (high - low), dtype=np.float32)).reshape(-1, channels)
