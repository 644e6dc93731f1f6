"""Validation metrics: torchmetrics objects the module owns, one list per run, chosen per modality by default.

Each metric takes the :class:`inr.core.evaluation.Evaluation` of the whole signal, declares the batch ``targets`` and
the ``derivatives`` it needs (so the DataModule computes exactly those and the module differentiates only when
asked) and returns named values, logged as ``val/<name>``. Every process evaluates the whole signal, so the values
are the same on every rank and are not synchronised. ``higher_is_better`` (torchmetrics' attribute: one
flag, or one per name) tells the run summary which extreme of each value is its best.

Defaults (:func:`default_metrics`): images PSNR and SSIM (of the fit aligned to the image when the losses train on
derivatives, plus the derivative errors), audio PSNR and SNR, shapes Chamfer distance and normal consistency.

One file per modality: :mod:`~inr.metrics.image`, :mod:`~inr.metrics.audio`, :mod:`~inr.metrics.video`,
:mod:`~inr.metrics.shape`, on the base in :mod:`~inr.metrics.base`; every class is importable from here (the class
paths configs and checkpoints use, ``inr.metrics.PSNR``).
"""

from __future__ import annotations

from collections.abc import Sequence

from inr.metrics.audio import SNR
from inr.metrics.base import Alignment, ComparedWithValues, MeanOverEvaluations, SignalMetric, align, compared
from inr.metrics.image import PSNR, SSIM, SSIM_BORDER, DerivativeError, image_ssim
from inr.metrics.measurement import KSpaceResidual, ProjectionResidual
from inr.metrics.shape import OccupancyIoU, SurfaceDistance
from inr.metrics.video import FrameMetric, FramePSNR, FrameSSIM

__all__ = ["PSNR", "SNR", "SSIM", "SSIM_BORDER", "Alignment", "ComparedWithValues", "DerivativeError", "FrameMetric",
           "FramePSNR", "FrameSSIM", "KSpaceResidual", "MeanOverEvaluations", "OccupancyIoU", "ProjectionResidual",
           "SignalMetric", "SurfaceDistance", "align", "compared", "default_metrics", "image_ssim"]


def default_metrics(kind: str, loss_targets: Sequence[str] = ("values",), truth: bool = True) -> list[SignalMetric]:
    """The metrics of a signal ``kind`` (``image``, ``audio``, ``sdf``) trained on ``loss_targets``.

    ``truth`` False: the signal itself is unknown (measured projections or k-space only): just the residuals.

    An image fitted from its gradients or Laplacians is compared after alignment (see :func:`compared`) and
    reports the errors of the derivatives it was trained on.
    """
    if kind == "image":
        if "laplacians" in loss_targets:
            return [PSNR(), PSNR("affine"), SSIM("affine"), DerivativeError("gradient"), DerivativeError("laplacian")]
        if "gradients" in loss_targets:
            return [PSNR(), PSNR("offset"), SSIM("offset"), DerivativeError("gradient")]
        return [PSNR(), SSIM()]
    if kind == "audio":
        return [PSNR(), SNR()]
    if kind == "sdf":
        return [SurfaceDistance()]
    if kind == "video":
        return [FramePSNR(), FrameSSIM()]
    if kind == "ct":
        return [PSNR(), SSIM(), ProjectionResidual()] if truth else [ProjectionResidual()]
    if kind == "mri":
        return [PSNR(), KSpaceResidual()]
    if kind == "occupancy":
        return [OccupancyIoU()]
    return [PSNR()]

