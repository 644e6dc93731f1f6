"""Classical baselines in the same run: the DataModule's reconstructions from the same data, scored by the metrics."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from inr.core import grids
from inr.core.evaluation import Evaluation
from inr.core.signal import SignalSpec


def baseline_values(reconstructions: dict[str, Tensor], spec: SignalSpec, batch: dict[str, Tensor],
                    score: Callable[[Evaluation], dict[str, Tensor]], step: int) -> dict[str, float]:
    """``{"baseline/<name>/<metric>": value}`` of each reconstruction ``[N, c]`` on the validation grid.

    ``score`` maps an :class:`Evaluation` to metric values (the module's ``metric_values``); a metric that evaluates
    other points (the projection residual) sees the reconstruction linearly interpolated between grid points.
    """
    values: dict[str, float] = {}
    device = batch["coords"].device
    for name, reconstruction in reconstructions.items():
        on_grid = reconstruction.to(device).float()
        field = on_grid.reshape(*spec.shape, -1)
        evaluation = Evaluation(spec=spec, batch=batch, prediction=on_grid, step=step,
                                predict=lambda coords, field=field: grids.interpolate(field, coords.to(device)))
        values.update({f"baseline/{name}/{key}": float(value) for key, value in score(evaluation).items()})
    return values
