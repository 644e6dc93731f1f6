"""Fits through a measurement at CPU scale (Tancik et al. 2020, Table 1): inr's four mappings over phantoms, with the
classical baselines from the same measurements and, for CT, a plain PyTorch loop of the Gaussian config, in one run.

    OMP_NUM_THREADS=1 python -m bench.measurement_table --modality ct --phantoms 8 9 --size 128 --steps 1000
    OMP_NUM_THREADS=1 python -m bench.measurement_table --modality mri --phantoms 8 --size 32 --steps 1000
    python -m bench.measurement_table --modality ct --phantoms 8 9 10 11 12 13 14 15 --paper-scale   # on a GPU

Prints a markdown table (mean +- std over the phantoms, the paper's numbers beside) and writes
bench/results/<modality>_table.csv. The CT plain loop uses the same operator (inr.core.rays), network shape, mapping,
ray batches and steps as configs/ct/shepp_gaussian.yaml, with its own code for the MLP, the features and the step.
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from pathlib import Path

import torch
from torch import nn

from datamodules.base import sampling_seed
from datamodules.ct import CTDataModule
from inr.cli import build_cli
from inr.core import grids
from inr.core.rays import line_integrals

#: Table 1 of the paper, PSNR dB: 2D CT on Shepp-Logan phantoms (512 x 512), 3D MRI on ATLAS volumes (96^3).
PAPER = {"ct": {"none": 16.75, "basic": 23.31, "pe": 26.89, "gaussian": 28.33},
         "mri": {"none": 26.14, "basic": 28.58, "pe": 32.23, "gaussian": 34.51}}
#: the classical baselines each modality's DataModule scores in the same run.
BASELINES = {"ct": ("fbp", "grid"), "mri": ("zero_filled",)}
ENCODINGS = ("none", "basic", "pe", "gaussian")
RESULTS = Path(__file__).parent / "results"


#: the paper's scale (Tancik et al. 2020, supplement): CT 512^2 with every ray every step, MRI 96^3.
PAPER_SCALE = {"ct": (512, ["--data.batch_size", "null"]), "mri": (96, [])}


def inr_fit(modality: str, encoding: str, phantom: int, size: int, steps: int, root: Path,
            extra: list[str] = ()) -> dict[str, float]:
    """One inr fit of ``configs/<modality>/shepp_<encoding>.yaml``; its last validation's values (with baselines)."""
    extra = [*extra, *(["--data.baseline_steps", str(steps)] if modality == "ct" else [])]
    cli = build_cli(["fit", "--config", f"configs/{modality}/shepp_{encoding}.yaml", "--data.phantom_seed",
                     str(phantom), "--data.size", str(size), *extra, "--trainer.max_steps", str(steps),
                     "--trainer.val_check_interval", str(steps), "--trainer.logger", "false",
                     "--trainer.enable_progress_bar", "false", "--checkpoint.save_top_k", "0",
                     "--checkpoint.save_last", "false",
                     "--trainer.default_root_dir", str(root / f"{encoding}_{phantom}")])
    return dict(cli.model.validation_report)


class PlainGaussianMLP(nn.Module):
    """[sin 2 pi B u, cos 2 pi B u] (u = (x + 1) / 2, B ~ N(0, sigma^2) 256 x 2) into ReLU 3 x 256, a linear output."""

    def __init__(self, sigma: float = 4.0, features: int = 256, width: int = 256, seed: int = 0) -> None:
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


def plain_fit(phantom: int, size: int, steps: int, rays: int | None = 256, lr: float = 1e-3) -> tuple[float, float]:
    """The Gaussian CT fit as a plain loop (``rays`` per step, ``None``: all): (PSNR of the clipped slice, s/step)."""
    data = CTDataModule(size=size, phantom_seed=phantom, baseline_steps=0)
    torch.manual_seed(0)
    model = PlainGaussianMLP()
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
    parser.add_argument("--modality", choices=sorted(BASELINES), default="ct")
    parser.add_argument("--phantoms", type=int, nargs="+", default=[8, 9])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--root", default="runs/bench_measurements")
    parser.add_argument("--paper-scale", action="store_true",
                        help="the paper's size and batches (CT 512^2, every ray; MRI 96^3): a GPU's work")
    args = parser.parse_args()
    extra: list[str] = []
    if args.paper_scale:
        args.size, extra = PAPER_SCALE[args.modality]
    rows = []
    nan = float("nan")
    for phantom in args.phantoms:
        for encoding in ENCODINGS:
            start = time.perf_counter()
            values = inr_fit(args.modality, encoding, phantom, args.size, args.steps, Path(args.root), extra)
            rows.append({"phantom": phantom, "method": f"inr {encoding}", "psnr": values["val/psnr"],
                         "ssim": values.get("val/ssim", nan), "seconds": time.perf_counter() - start})
            print(rows[-1], flush=True)
            if encoding == "gaussian":  # the baselines, scored in the same run
                for name in BASELINES[args.modality]:
                    rows.append({"phantom": phantom, "method": name, "psnr": values[f"val/baseline/{name}/psnr"],
                                 "ssim": values.get(f"val/baseline/{name}/ssim", nan), "seconds": nan})
        if args.modality == "ct":
            psnr, seconds = plain_fit(phantom, args.size, args.steps, rays=None if args.paper_scale else 256)
            rows.append({"phantom": phantom, "method": "plain gaussian", "psnr": psnr, "ssim": nan,
                         "seconds": seconds * args.steps})
            print(rows[-1], flush=True)
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / f"{args.modality}_table.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"\n| method | PSNR dB (mean +- std over {len(args.phantoms)}) | SSIM | paper |\n|---|---|---|---|")
    for method in dict.fromkeys(row["method"] for row in rows):
        values = torch.tensor([row["psnr"] for row in rows if row["method"] == method])
        ssim = torch.tensor([row["ssim"] for row in rows if row["method"] == method])
        paper = PAPER[args.modality].get(method.removeprefix("inr "), "")
        print(f"| {method} | {values.mean():.2f} +- {values.std(unbiased=False):.2f} | {ssim.mean():.3f} | {paper} |")


if __name__ == "__main__":
    main()
