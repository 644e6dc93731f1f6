"""CT at CPU scale: inr's Gaussian config (configs/ct/shepp_gaussian.yaml) and a plain PyTorch loop of it, one run.

    OMP_NUM_THREADS=1 python -m bench.measurement_table --phantoms 8 9 --size 128 --steps 1000

The plain loop uses the same operator (inr.core.rays), network shape, mapping, ray batches and steps as the config,
with its own code for the MLP, the features and the step. Both rows go to bench/results/ct_table.csv, the table
``inr experiment measurements --modality ct --results bench/results/ct_table.csv`` grows (the other mappings, the
baselines); prints inr's and the plain loop's PSNR per phantom and their difference.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch
from torch import nn

from datamodules.base import sampling_seed
from datamodules.ct import CTDataModule
from inr.commands.measurements import add_row, encoder_arguments, read_rows, run_measurements
from inr.core import grids
from inr.core.rays import line_integrals

RESULTS = Path(__file__).parent / "results"


class PlainGaussianMLP(nn.Module):
    """[sin 2 pi B u, cos 2 pi B u] (u = (x + 1) / 2, B ~ N(0, sigma^2) 256 x 2) into ReLU 3 x 256, a linear output."""

    def __init__(self, sigma: float, features: int = 256, width: int = 256, seed: int = 0) -> None:
        super().__init__()
        self.register_buffer("B", torch.randn(features, 2, generator=torch.Generator().manual_seed(seed)) * sigma)
        layers, fan_in = [], 2 * features
        for _ in range(3):
            layers += [nn.Linear(fan_in, width), nn.ReLU()]
            fan_in = width
        self.net = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        phases = 2 * math.pi * ((coords + 1) / 2) @ self.B.T
        return self.net(torch.cat([torch.sin(phases), torch.cos(phases)], dim=-1))


def config_sigma() -> float:
    """The Gaussian's sigma in the shipped CT config, which the plain loop uses too."""
    return float(encoder_arguments("ct", "gaussian")["sigma"])


def plain_fit(phantom: int, size: int, steps: int, rays: int | None = 256, lr: float = 1e-3) -> tuple[float, float]:
    """The Gaussian CT fit as a plain loop (``rays`` per step, ``None``: all): (PSNR of the clipped slice, s/step)."""
    data = CTDataModule(size=size, phantom_seed=phantom, baseline_steps=0)
    torch.manual_seed(0)
    model = PlainGaussianMLP(config_sigma())
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    points, lengths, measured = data.ray_points, data.ray_lengths, data.projections.reshape(-1, 1).float()
    elapsed = 0.0
    for step in range(steps):
        start = time.perf_counter()
        generator = torch.Generator().manual_seed(sampling_seed(0, step, 0))
        index = torch.randint(points.shape[0], (rays,), generator=generator) if rays else slice(None)
        optimizer.zero_grad(set_to_none=True)
        predicted = line_integrals(model(points[index]), lengths[index])
        (predicted - measured[index]).square().mean().backward()
        optimizer.step()
        elapsed += time.perf_counter() - start
    with torch.no_grad():
        fit = model(grids.grid((size, size))).clamp(0, 1).reshape(size, size)
    return -10 * math.log10(float((fit - data.slice).square().mean())), elapsed / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phantoms", type=int, nargs="+", default=[8, 9])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--root", default="runs/bench_measurements")
    args = parser.parse_args()
    path = RESULTS / "ct_table.csv"
    run_measurements("ct", args.phantoms, ["gaussian"], size=args.size, steps=args.steps, results=str(path),
                     out=args.root, wandb=False)
    rows = read_rows(path)
    print("\n| phantom | inr gaussian dB | plain loop dB | difference dB |\n|---|---|---|---|")
    for phantom in args.phantoms:
        psnr, seconds = plain_fit(phantom, args.size, args.steps)
        add_row(path, rows, {"signal": str(phantom), "method": "plain gaussian", "psnr": psnr, "ssim": math.nan,
                             "seconds": seconds * args.steps})
        inr = next(row["psnr"] for row in rows if row["signal"] == str(phantom) and row["method"] == "inr gaussian")
        print(f"| {phantom} | {inr:.2f} | {psnr:.2f} | {inr - psnr:+.2f} |")


if __name__ == "__main__":
    main()
