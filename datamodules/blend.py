"""Gradient-domain image blending: one network fitted to a weighted composite of two images' derivatives.

SIREN (Sitzmann et al. 2020, Sec. 4.1, Fig. 4 "Poisson image editing") composes the gradient fields of two images
and fits a SIREN to the composite: where the images overlap, edges of both survive while their smooth shading
is left to the Poisson solution. Here the composite target is ``(1 - w) * T(first) + w * T(second)`` for every
target T (values, Sobel gradients, Laplacians), with w a constant ``weight`` or a gray ``mask`` image.
Validation compares the fit with the same composite of the *values* (the naive cross-fade / cut-and-paste):
for a constant weight the two coincide up to the constant, so ``psnr_aligned`` measures the solver; for a mask
it measures how far the seamless result departs from the cut-and-paste.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch.nn import functional as F

from datamodules.image import ImageDataModule, image_derivatives, read_image
from inr.core.errors import InputError
from inr.core.signal import SignalSpec


def sample_second_image() -> np.ndarray:
    """scikit-image's astronaut (512 x 512 RGB) as float32 [H, W, 3] in [0, 1]."""
    from skimage import data

    return data.astronaut().astype(np.float32) / 255.0


def fit_image(pixels: np.ndarray, height: int, width: int, channels: int, name: str) -> np.ndarray:
    """Resize [h, w, c] (bilinear, antialiased; aspect ratio not kept) to [height, width] and match ``channels``.

    Gray is repeated to colour; colour to gray takes the channel mean; an alpha channel is dropped.
    """
    if pixels.shape[-1] in (2, 4):
        pixels = pixels[..., :-1]
    if pixels.shape[-1] != channels:
        if channels == 1:
            pixels = pixels.mean(axis=-1, keepdims=True)
        elif pixels.shape[-1] == 1:
            pixels = np.repeat(pixels, channels, axis=-1)
        else:
            raise InputError(f"{name} has {pixels.shape[-1]} channels; the first image has {channels}")
    if pixels.shape[:2] == (height, width):
        return pixels.astype(np.float32)
    image = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32)).permute(2, 0, 1)[None]
    resized = F.interpolate(image, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
    return resized[0].permute(1, 2, 0).clamp(0, 1).numpy()


class BlendDataModule(ImageDataModule):
    """Two images blended in the gradient domain (or the Laplacian / value domain: whatever the losses ask for).

    The first image fixes the size and channels; the second image and the mask are resized to it.

    Args:
        path: first image (background); ``None`` uses scikit-image's cameraman.
        second: second image (foreground); ``None`` uses scikit-image's astronaut.
        mask: gray image whose values in [0, 1] weight the second image per pixel; ``None`` uses ``weight``.
        weight: constant weight of the second image in [0, 1] when there is no ``mask``.
        size: resize the first image so its longer side has this many pixels; ``None`` keeps its size.
        batch_size: random pixels per training step; ``None`` uses every pixel every step (full batch).
        seed: seed of the batch sampler; ``None`` takes the run's ``seed_everything``.
    """

    def __init__(
        self,
        path: str | None = None,
        second: str | None = None,
        mask: str | None = None,
        weight: float = 0.5,
        size: int | None = None,
        batch_size: int | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(path=path, size=size, batch_size=batch_size, seed=seed)
        if mask is None and not 0.0 <= weight <= 1.0:
            raise InputError(f"data weight must lie in [0, 1], got {weight}")
        self.second_path = second
        self.mask_path = mask
        self.first = self.pixels
        shape = (self.height, self.width, self.channels)
        second_pixels = sample_second_image() if second is None else read_image(second)
        self.second = fit_image(second_pixels, *shape, name=f"second image {second or 'skimage.data.astronaut'}")
        if mask is None:
            self.weights = np.full((self.height, self.width, 1), weight, dtype=np.float32)
        else:
            self.weights = fit_image(read_image(mask), self.height, self.width, 1, name=f"mask {mask}")
        self.pixels = (1 - self.weights) * self.first + self.weights * self.second  # reference for metrics

    def image_targets(self) -> dict[str, np.ndarray]:
        """The composite of both images' values, Sobel gradients and Laplacians (not the composite's derivatives)."""
        weights = self.weights
        targets = {}
        first_gradients, first_laplacians = image_derivatives(self.to_values(self.first))
        second_gradients, second_laplacians = image_derivatives(self.to_values(self.second))
        targets["values"] = self.to_values(self.pixels)
        targets["gradients"] = (1 - weights[..., None]) * first_gradients + weights[..., None] * second_gradients
        targets["laplacians"] = (1 - weights) * first_laplacians + weights * second_laplacians
        return targets

    @property
    def signal_spec(self) -> SignalSpec:
        """The image spec, with the sources of the blend."""
        spec = super().signal_spec
        second = self.second_path or "skimage.data.astronaut"
        return dataclasses.replace(spec, source=f"blend of {spec.source} and {second}")
