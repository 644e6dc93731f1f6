"""What one validation computed for the whole signal: handed to the metrics, then to the media callback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from torch import Tensor

from inr.core.signal import SignalSpec
from inr.core.targets import Targets


@dataclass
class Evaluation(Targets):
    """The representation evaluated on the DataModule's validation batch.

    Args:
        spec: the signal's description (value range, natural shape, kind).
        batch: the validation batch: ``coords [N, d]`` and the targets the metrics asked for (``values [N, c]``,
            ``gradients [N, c, d]``, ``normals [N, d]``...), on the model's device.
        prediction: the representation at ``batch["coords"]``, [N, c] (float32, no graph).
        predict: the representation at any coords [n, d] -> [n, c], evaluated in bounded chunks, no graph (for
            metrics that need other points, e.g. a mesh from a grid).
        gradient: d prediction / d coords [N, c, d] when a metric asked for it, else None.
        laplacian: Laplacian of each channel [N, c] when a metric asked for it, else None.
        step: the optimiser steps taken (the x axis of the logged values).
        predict_member: for members, (member index, coords [n, d]) -> that member's values [n, c], evaluating it
            alone; None evaluates every member and picks one.
        extras: what metrics computed and media may show (e.g. ``aligned`` [N, c], ``mesh``).
    """

    missing_target: ClassVar[str] = "this metric needs the validation batch's {key!r}"

    spec: SignalSpec
    batch: dict[str, Tensor]
    prediction: Tensor
    predict: Callable[[Tensor], Tensor]
    gradient: Tensor | None = None
    laplacian: Tensor | None = None
    step: int = 0
    extras: dict[str, Any] = field(default_factory=dict)
    predict_member: Callable[[int, Tensor], Tensor] | None = None

    def member(self, index: int) -> Evaluation:
        """Member ``index``'s own evaluation (a single signal) when the spec is batched; itself otherwise.

        A batched evaluation holds ``batch`` entries, ``prediction`` and derivatives with a leading member axis
        [K, ...] and ``predict`` maps coords [n, d] to [K, n, c].
        """
        if not self.spec.batched:
            self.spec.member(index)  # refuses any index but 0
            return self

        def predict(coords: Tensor) -> Tensor:
            if self.predict_member is not None:
                return self.predict_member(index, coords)
            return self.predict(coords)[index]

        def pick(value: Tensor | None) -> Tensor | None:
            return None if value is None else value[index]

        return Evaluation(spec=self.spec.member(index), batch={key: value[index] for key, value in self.batch.items()},
                          prediction=self.prediction[index], predict=predict, gradient=pick(self.gradient),
                          laplacian=pick(self.laplacian), step=self.step)


