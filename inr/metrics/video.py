"""Video metrics: PSNR and SSIM of each validation frame, averaged over the frames."""

from __future__ import annotations

import torch
from torch import Tensor

from inr.core.errors import InputError
from inr.core.evaluation import Evaluation
from inr.metrics.base import MeanOverEvaluations
from inr.metrics.image import image_ssim


class FrameMetric(MeanOverEvaluations):
    """A per-frame metric of a video, averaged over the validation frames (the batch holds whole frames in order).

    The values of each frame are kept in ``evaluation.extras["<name>_per_frame"]`` [F].
    """

    higher_is_better = True

    def frames(self, evaluation: Evaluation) -> tuple[Tensor, Tensor, tuple[int, int]]:
        """Prediction and truth as [F, H * W, C] (prediction clipped), and (H, W)."""
        shape = evaluation.spec.shape
        if shape is None or len(shape) != 3:
            raise InputError(f"{type(self).__name__} needs a video (a signal of shape [frames, height, width]), "
                             f"got shape {shape}")
        low, high = evaluation.spec.value_range
        pixels = shape[1] * shape[2]
        channels = evaluation.prediction.shape[-1]
        prediction = evaluation.prediction.clamp(low, high).reshape(-1, pixels, channels)
        return prediction, evaluation.target("values").reshape(-1, pixels, channels), (shape[1], shape[2])

    def per_frame(self, prediction: Tensor, truth: Tensor, size: tuple[int, int], data_range: float) -> Tensor:
        """The metric of one frame."""
        raise NotImplementedError

    def update(self, evaluation: Evaluation) -> None:
        """The metric of every validation frame; their mean."""
        prediction, truth, size = self.frames(evaluation)
        low, high = evaluation.spec.value_range
        values = torch.stack([self.per_frame(p, t, size, high - low) for p, t in zip(prediction, truth)])
        evaluation.extras[f"{self.names[0]}_per_frame"] = values
        self.add(values.mean())


class FramePSNR(FrameMetric):
    """PSNR (dB) of each validation frame of a video (clipped prediction), averaged over the frames."""

    names = ("psnr",)

    def per_frame(self, prediction: Tensor, truth: Tensor, size: tuple[int, int], data_range: float) -> Tensor:
        """10 log10(range^2 / MSE) of one frame."""
        mse = (prediction.double() - truth.double()).square().mean()
        return (10 * torch.log10(data_range**2 / mse)).float()


class FrameSSIM(FrameMetric):
    """SSIM of each validation frame of a video (as :class:`SSIM` of an image), averaged over the frames."""

    names = ("ssim",)

    def per_frame(self, prediction: Tensor, truth: Tensor, size: tuple[int, int], data_range: float) -> Tensor:
        """SSIM of one frame."""
        return image_ssim(prediction, truth, size, data_range)

