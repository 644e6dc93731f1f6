"""What a command prints of a run's numbers: the validation table and the closing line of a fit."""

from __future__ import annotations

import math
from pathlib import Path

from inr.training.member_metrics import SPREAD


def _number(value: float) -> str:
    """A metric value in at most 10 characters: 4 decimals, or 4 significant digits when small or large."""
    if math.isnan(value) or value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4f}"
    return f"{value:.4g}"


def split_spread(values: dict[str, float]) -> dict[str, dict[str, float]]:
    """``{key: {"value": v}}`` per metric, with ``std``, ``min``, ``max`` where ``key_std``... were reported too."""
    rows: dict[str, dict[str, float]] = {}
    for key, value in values.items():
        base, _, suffix = key.rpartition("_")
        if suffix in SPREAD and base in values:
            rows.setdefault(base, {})[suffix] = value
        else:
            rows.setdefault(key, {})["value"] = value
    return rows


def metrics_table(values: dict[str, float], title: str) -> str:
    """Every value as a table under ``title``: one row per metric; over many signals mean, std, min and max.

    ``values``: ``{"val/psnr": 31.2, "val/psnr_std": 0.4, ...}`` as a validation logged them.
    """
    rows = split_spread(values)
    spread = any(len(row) > 1 for row in rows.values())
    columns = ["mean", *SPREAD] if spread else ["value"]
    width = max([len("metric"), *(len(key) for key in rows)])
    lines = [title, f"{'metric':<{width}}" + "".join(f"{column:>12}" for column in columns)]
    for key, row in rows.items():
        cells = [row.get("value"), *(row.get(statistic) for statistic in SPREAD)][: len(columns)]
        lines.append(f"{key:<{width}}" + "".join(f"{'' if cell is None else _number(cell):>12}" for cell in cells))
    rule = "-" * max(len(line) for line in lines)
    return "\n".join([rule, lines[0], rule, lines[1], *lines[2:], rule])


def fit_summary(monitor: str | None, best: float | None, best_path: str | None, checkpoints: str | None,
                wandb_run: Path | None) -> list[str]:
    """The closing lines of a fit: the best value of the main metric and its checkpoint, the folders of the run."""
    lines = []
    if monitor and best is not None and not math.isnan(best):
        where = f" ({best_path})" if best_path else ""
        lines.append(f"best {monitor} {_number(best)}{where}")
    if checkpoints:
        lines.append(f"checkpoints in {checkpoints}")
    if wandb_run is not None:
        lines.append(f"W&B offline run in {wandb_run}; upload it with: wandb sync {wandb_run}")
    return lines
