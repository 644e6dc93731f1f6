"""Image metrics: PSNR, SSIM (of the raw or the aligned fit), and the errors of the derivatives a fit trained on."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from inr.core.errors import InputError
from inr.core.evaluation import Evaluation
from inr.metrics.base import ComparedWithValues, MeanOverEvaluations, compared

#: pixels left out at each border of the SSIM map: half the 11-pixel Gaussian window (scikit-image's crop).
SSIM_BORDER = 5


class PSNR(ComparedWithValues):
    """Peak signal-to-noise ratio (dB) of the clipped prediction, data range = the signal's value range.

    Args:
        alignment: as for :class:`ComparedWithValues`; logged as ``psnr_aligned`` when given.
    """

    name = "psnr"
    higher_is_better = True

    def update(self, evaluation: Evaluation) -> None:
        """PSNR of this evaluation, via ``torchmetrics.functional.image.peak_signal_noise_ratio``."""
        from torchmetrics.functional.image import peak_signal_noise_ratio

        low, high = evaluation.spec.value_range
        prediction = compared(evaluation, self.alignment).clamp(low, high)
        self.add(peak_signal_noise_ratio(prediction, evaluation.target("values"), data_range=high - low))


class SSIM(ComparedWithValues):
    """Structural similarity of an image (Wang et al. 2004): Gaussian window sigma 1.5 (11 x 11), K1 0.01, K2 0.03.

    The SSIM map of torchmetrics (reflect-padded), averaged over channels and over the pixels at least
    ``SSIM_BORDER`` from the border: scikit-image's ``structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False)``, to float precision. An image smaller than the window along a side uses the
    largest odd window that fits (sigma scaled alike) and averages the whole map; one under 3 pixels has no SSIM
    (NaN). The signal's shape gives (height, width).

    Args:
        alignment: as for :class:`ComparedWithValues`; logged as ``ssim_aligned`` when given.
    """

    name = "ssim"
    higher_is_better = True

    def update(self, evaluation: Evaluation) -> None:
        """SSIM of this evaluation, via ``torchmetrics.functional.image.structural_similarity_index_measure``."""
        shape = evaluation.spec.shape
        if shape is None or len(shape) != 2:
            raise InputError(f"SSIM needs an image (a signal of shape [height, width]), got shape {shape}")
        low, high = evaluation.spec.value_range
        prediction = compared(evaluation, self.alignment).clamp(low, high)
        self.add(image_ssim(prediction, evaluation.target("values"), shape, high - low))


def image_ssim(prediction: Tensor, truth: Tensor, shape: tuple[int, ...], data_range: float) -> Tensor:
    """SSIM (see :class:`SSIM`) of one image: prediction and truth [H * W, C] on a grid of ``shape`` (H, W)."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    def image(values: Tensor) -> Tensor:
        return values.float().reshape(*shape, -1).permute(2, 0, 1)[None]  # [1, C, H, W]

    window = min(2 * SSIM_BORDER + 1, min(shape) - (1 - min(shape) % 2))  # odd, at most the shorter side
    if window < 3:
        return torch.tensor(math.nan)
    _, full = structural_similarity_index_measure(
        image(prediction), image(truth), data_range=data_range, return_full_image=True,
        kernel_size=window, sigma=1.5 * window / (2 * SSIM_BORDER + 1),
    )
    if min(shape) > 2 * SSIM_BORDER:
        full = full[..., SSIM_BORDER:-SSIM_BORDER, SSIM_BORDER:-SSIM_BORDER]
    return full.mean()


class DerivativeError(MeanOverEvaluations):
    """Error of a derivative of the fit against the DataModule's target, the value of the matching loss.

    ``gradient``: mean over points and channels of |grad f - ``gradients``|^2 (:class:`GradientLoss`), logged as
    ``gradient_mse``; ``laplacian``: mean of (Laplacian f - ``laplacians``)^2 (:class:`LaplacianLoss`), logged as
    ``laplacian_mse``.

    Args:
        derivative: ``gradient`` or ``laplacian``.
    """

    higher_is_better = False

    def __init__(self, derivative: Literal["gradient", "laplacian"] = "gradient") -> None:
        super().__init__()
        if derivative not in ("gradient", "laplacian"):
            raise InputError(f"DerivativeError derivative must be 'gradient' or 'laplacian', got {derivative!r}")
        self.derivative = derivative
        self.names, self.targets, self.derivatives = (f"{derivative}_mse",), (f"{derivative}s",), (derivative,)

    def update(self, evaluation: Evaluation) -> None:
        """Error of this evaluation's derivative."""
        error = (getattr(evaluation, self.derivative) - evaluation.target(self.targets[0])).square()
        self.add((error.sum(dim=-1) if self.derivative == "gradient" else error).mean())

