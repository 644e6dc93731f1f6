"""Validation metrics: torchmetrics objects the module owns, one list per run, chosen per modality by default.

Each metric takes the :class:`inr.core.evaluation.Evaluation` of the whole signal, declares the batch ``targets`` and
the ``derivatives`` it needs (so the DataModule computes exactly those and the module differentiates only when
asked) and returns named values, logged as ``val/<name>``. Every process evaluates the whole signal, so the values
are the same on every rank and are not synchronised. ``higher_is_better`` tells the run summary which extreme
of each value is its best.

Defaults (:func:`default_metrics`): images PSNR and SSIM (of the fit aligned to the image when the losses train on
derivatives, plus the derivative errors), audio PSNR and SNR, shapes Chamfer distance and normal consistency.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor
from torchmetrics import Metric

from inr.core.errors import InputError
from inr.core.evaluation import Evaluation

Alignment = Literal["offset", "affine"]
#: pixels left out at each border of the SSIM map: half the 11-pixel Gaussian window (scikit-image's crop).
SSIM_BORDER = 5


def align(prediction: Tensor, truth: Tensor, gain: bool = False, coords: Tensor | None = None) -> Tensor:
    """Per channel, the least-squares fit to ``truth`` [N, c] of ``prediction`` [N, c] plus what it cannot know.

    Derivatives do not determine a signal's constant; the Laplacian loses its linear terms too (any ``a + b . x``
    has zero Laplacian) and, in practice, its scale. So a fit from derivatives is compared with the ground truth
    after adding the best constant (always), the best linear function of ``coords`` [N, d] (if given) and, with
    ``gain``, scaling it by the best factor.
    """
    columns = [torch.ones_like(prediction[:, :1])] + ([coords.to(prediction)] if coords is not None else [])
    aligned = []
    for channel in range(prediction.shape[1]):
        own = prediction[:, channel : channel + 1]
        basis = torch.cat(([own] if gain else []) + columns, dim=1).double().cpu()
        target = (truth[:, channel : channel + 1] - (0 if gain else own)).double().cpu()
        fit = basis @ torch.linalg.lstsq(basis, target, driver="gelsy").solution  # gelsy: rank-deficient is fine
        aligned.append(fit.to(prediction) + (0 if gain else own))
    return torch.cat(aligned, dim=1)


def compared(evaluation: Evaluation, alignment: Alignment | None) -> Tensor:
    """The prediction [N, c] a metric compares with the values: raw, or aligned (computed once per evaluation).

    ``offset`` adds the best constant per channel (a fit from gradients); ``affine`` also the best linear terms in
    the coordinates and a gain (a fit from Laplacians). The aligned prediction is kept in ``extras["aligned"]``.
    """
    if alignment is None:
        return evaluation.prediction
    key = f"aligned_{alignment}"
    if key not in evaluation.extras:
        affine = alignment == "affine"
        evaluation.extras[key] = align(evaluation.prediction, evaluation.target("values"), gain=affine,
                                       coords=evaluation.target("coords") if affine else None)
        evaluation.extras["aligned"] = evaluation.extras[key]
    return evaluation.extras[key]


class SignalMetric(Metric):
    """Base of inr's validation metrics: ``update(evaluation)``, ``compute() -> {name: value}``.

    Subclasses set ``names`` (what ``compute`` returns), ``targets`` and ``derivatives`` (what they need), and
    ``higher_is_better`` (one flag for all names, or a dict by name).
    """

    full_state_update = False
    #: the values ``compute`` returns, logged as ``val/<name>``.
    names: ClassVar[tuple[str, ...]] = ()
    #: validation batch entries needed besides ``coords``.
    targets: ClassVar[tuple[str, ...]] = ("values",)
    #: derivatives of the prediction needed: ``gradient`` and/or ``laplacian``.
    derivatives: ClassVar[tuple[str, ...]] = ()
    #: whether larger values are better: one flag, or one per name.
    better: ClassVar[dict[str, bool]] = {}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(sync_on_compute=False, **kwargs)  # every rank evaluates the whole signal

    def is_better(self, name: str, value: float, than: float) -> bool:
        """Whether ``value`` of ``name`` beats ``than`` (NaN never does)."""
        if math.isnan(value):
            return False
        return math.isnan(than) or (value > than if self.better.get(name, True) else value < than)


class MeanOverEvaluations(SignalMetric):
    """A metric whose value is the mean of one number per evaluation (usually one per validation)."""

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def add(self, value: Tensor) -> None:
        """Add one evaluation's value (a 0-d tensor)."""
        self.total += value.detach().double()
        self.count += 1

    def compute(self) -> dict[str, Tensor]:
        """``{name: mean}`` (NaN before any update)."""
        mean = self.total / self.count if self.count > 0 else torch.tensor(math.nan, dtype=torch.float64)
        return {self.names[0]: mean.float()}


class ComparedWithValues(MeanOverEvaluations):
    """A metric of the prediction against ``values``, raw or aligned (logged as ``<name>`` or ``<name>_aligned``).

    Args:
        alignment: compare the raw prediction (None) or the one aligned to the values (``offset``: best constant;
            ``affine``: also linear terms and gain; see :func:`compared`).
    """

    #: the logged name of the raw comparison.
    name: ClassVar[str] = ""

    def __init__(self, alignment: Alignment | None = None) -> None:
        super().__init__()
        self.alignment = alignment
        self.names = (self.name if alignment is None else f"{self.name}_aligned",)


class PSNR(ComparedWithValues):
    """Peak signal-to-noise ratio (dB) of the clipped prediction, data range = the signal's value range.

    Args:
        alignment: as for :class:`ComparedWithValues`; logged as ``psnr_aligned`` when given.
    """

    name = "psnr"
    better = {"psnr": True, "psnr_aligned": True}

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
    better = {"ssim": True, "ssim_aligned": True}

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


class FrameMetric(MeanOverEvaluations):
    """A per-frame metric of a video, averaged over the validation frames (the batch holds whole frames in order).

    The values of each frame are kept in ``evaluation.extras["<name>_per_frame"]`` [F].
    """

    better = {"psnr": True, "ssim": True}

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


class SNR(MeanOverEvaluations):
    """Signal-to-noise ratio (dB) of the clipped prediction, averaged over channels.

    Per channel 10 log10(sum target^2 / sum error^2), not zero-meaned (``torchmetrics``' ``signal_noise_ratio``).
    """

    names = ("snr",)
    better = {"snr": True}

    def update(self, evaluation: Evaluation) -> None:
        """SNR of this evaluation."""
        from torchmetrics.functional.audio import signal_noise_ratio

        low, high = evaluation.spec.value_range
        prediction = evaluation.prediction.clamp(low, high)
        self.add(signal_noise_ratio(prediction.T, evaluation.target("values").T, zero_mean=False).mean())


class DerivativeError(MeanOverEvaluations):
    """Error of a derivative of the fit against the DataModule's target, the value of the matching loss.

    ``gradient``: mean over points and channels of |grad f - ``gradients``|^2 (:class:`GradientLoss`), logged as
    ``gradient_mse``; ``laplacian``: mean of (Laplacian f - ``laplacians``)^2 (:class:`LaplacianLoss`), logged as
    ``laplacian_mse``.

    Args:
        derivative: ``gradient`` or ``laplacian``.
    """

    better = {"gradient_mse": False, "laplacian_mse": False}

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


class SurfaceDistance(SignalMetric):
    """Chamfer distance and normal consistency between the zero level set and the reference surface.

    The mesh is extracted on a ``resolution``^3 grid (:func:`inr.core.mesh.extract_mesh`); as many points as the
    validation batch holds on the reference surface (``coords`` with ``normals``) are sampled on it
    (:func:`inr.core.mesh.surface_metrics`, in the normalised cube). Both values are NaN while the SDF has no zero
    level set in the cube. The mesh is kept in ``extras["mesh"]`` for media.

    Args:
        resolution: grid points per axis of the extracted mesh.
    """

    names = ("chamfer", "normal_consistency")
    targets = ("normals",)
    better = {"chamfer": False, "normal_consistency": True}

    def __init__(self, resolution: int = 128) -> None:
        super().__init__()
        if resolution < 2:
            raise InputError(f"SurfaceDistance resolution must be >= 2, got {resolution}")
        self.resolution = resolution
        for name in self.names:
            self.add_state(name, default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, evaluation: Evaluation) -> None:
        """Extract the mesh and compare it with the reference points."""
        from inr.core.mesh import extract_mesh, sample_surface, surface_metrics

        mesh = extract_mesh(evaluation.predict, self.resolution)
        evaluation.extras["mesh"] = mesh
        reference = evaluation.target("coords").double().cpu().numpy()
        if len(mesh.faces) == 0:
            values = dict.fromkeys(self.names, math.nan)
        else:
            normals = evaluation.target("normals").double().cpu().numpy()
            values = surface_metrics(*sample_surface(mesh, len(reference), seed=0), reference, normals)
        for name in self.names:
            setattr(self, name, getattr(self, name) + values[name])
        self.count += 1

    def compute(self) -> dict[str, Tensor]:
        """``{chamfer, normal_consistency}``: means over the evaluations."""
        return {name: (getattr(self, name) / self.count.clamp(min=1)).float() for name in self.names}


def default_metrics(kind: str, loss_targets: Sequence[str] = ("values",)) -> list[SignalMetric]:
    """The metrics of a signal ``kind`` (``image``, ``audio``, ``sdf``) trained on ``loss_targets``.

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
    return [PSNR()]
