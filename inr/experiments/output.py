"""Where experiment results go: a CSV, a PNG and an offline (unless asked otherwise) W&B run."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from inr.core.errors import InputError


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """Write ``rows`` (dicts with the same keys) as CSV; floats with 6 significant digits."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not rows:
        raise InputError(f"no rows to write to {path}")
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({key: f"{value:.6g}" if isinstance(value, float) else value for key, value in row.items()})
    return path


def pyplot():
    """The pyplot module on the non-interactive Agg backend (imported lazily: only plotting needs it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def log_to_wandb(out: Path, name: str, files: dict[str, Path], summary: dict[str, float] | None = None) -> Path:
    """Log PNGs (as images) and CSVs (as tables) to a W&B run under ``out/wandb``; returns the run folder.

    The run is :class:`inr.io.wandb_logger.WandbLogger`'s: offline unless the environment asks for online logging.
    """
    import wandb

    from inr.io.wandb_logger import WandbLogger

    run = WandbLogger(project="inr", name=name, save_dir=str(out), group="experiments").experiment
    payload: dict[str, Any] = {}
    for key, path in files.items():
        if path.suffix == ".png":
            payload[key] = wandb.Image(str(path))
        elif path.suffix == ".csv":
            with open(path) as handle:
                rows = list(csv.reader(handle))
            payload[key] = wandb.Table(columns=rows[0], data=rows[1:])
    run.log(payload)
    for key, value in (summary or {}).items():
        run.summary[key] = value
    run_dir = Path(run.dir).parent
    run.finish()
    return run_dir
