"""Validation metrics of K members: one row of values per member, summarised as mean, std, min and max.

The summary is logged as ``val/<name>`` (the mean over members: what checkpoints monitor and the progress bar
shows) beside ``val/<name>_std``, ``_min`` and ``_max``; the rows go to a W&B Table ``val/members`` (one row per
signal, its file named) on loggers that take tables.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from inr.core.signal import SignalSpec

#: the statistics over members logged beside each metric's mean.
SPREAD = ("std", "min", "max")
#: key of the per-member table.
TABLE_KEY = "val/members"


def summarise_members(rows: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    """``{name: mean, name_std, name_min, name_max}`` over the members' values (NaNs left out; all NaN: NaN)."""
    summary: dict[str, Tensor] = {}
    for name in rows[0] if rows else ():
        values = torch.stack([row[name].detach().double().cpu() for row in rows])
        finite = values[~values.isnan()]
        if finite.numel() == 0:
            summary.update({name: torch.tensor(float("nan"))} | {f"{name}_{s}": torch.tensor(float("nan"))
                                                                  for s in SPREAD})
            continue
        std = finite.std(unbiased=False)
        summary.update({name: finite.mean().float(), f"{name}_std": std.float(), f"{name}_min": finite.min().float(),
                        f"{name}_max": finite.max().float()})
    return summary


def member_table(spec: SignalSpec, rows: list[dict[str, Tensor]],
                 first_index: int = 0) -> tuple[list[str], list[list[Any]]]:
    """Columns ``member, source, <metrics...>`` and one row per member (its global index and file)."""
    names = list(rows[0]) if rows else []
    sources = spec.member_sources or (spec.source,) * len(rows)
    data = [[first_index + index, sources[index], *(float(row[name]) for name in names)]
            for index, row in enumerate(rows)]
    return ["member", "source", *names], data


def log_member_table(loggers: list[Any], spec: SignalSpec, rows: list[dict[str, Tensor]], step: int) -> None:
    """Send the per-member table to every logger that has ``log_table`` (W&B)."""
    columns, data = member_table(spec, rows)
    for logger in loggers:
        if hasattr(logger, "log_table"):
            logger.log_table(key=TABLE_KEY, columns=columns, data=data, step=step)
