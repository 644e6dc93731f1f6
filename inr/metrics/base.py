"""The base of inr's validation metrics, and the alignment of a fit from derivatives before it is compared."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor
from torchmetrics import Metric

from inr.core.evaluation import Evaluation

Alignment = Literal["offset", "affine"]


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
    #: torchmetrics' attribute: whether larger values are better, one flag for every name or a dict by name.
    higher_is_better: ClassVar[bool | dict[str, bool]] = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(sync_on_compute=False, **kwargs)  # every rank evaluates the whole signal

    def is_better(self, name: str, value: float, than: float) -> bool:
        """Whether ``value`` of ``name`` beats ``than`` (NaN never does)."""
        if math.isnan(value):
            return False
        higher = self.higher_is_better
        if isinstance(higher, dict):
            higher = higher[name]
        return math.isnan(than) or (value > than if higher else value < than)


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

