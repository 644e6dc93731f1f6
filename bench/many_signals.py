"""Many small SIRENs at once: inr's batched fit against plain PyTorch loops, in one run.

K crops of 32 x 32 pixels are cut from the shared natural and text images (``../shared/data/ffn/``; crop positions
from a fixed seed) and written as PNGs; each is fitted by its own SIREN 3 x 64 (hidden 64, 3 hidden layers, w0 30,
Adam 1e-4, full batch). Measured in samples (pixels x steps) per second of training:

- ``inr``: ``inr fit`` on the folder (:class:`datamodules.image_folder.ImageFolderDataModule`), the members vmapped
  in groups of ``chunk_size`` points (``--chunk-size``, inr's default 16384: 16 crops per piece), logging every 50
  steps, no validation during the timed steps;
- ``sequential``: a plain PyTorch loop fitting the members one after another in one process, each with its own
  ``nn.Module`` SIREN and Adam (what a script without batching does);
- ``bmm``: a plain PyTorch loop over stacked weights [K, in, out] with ``torch.baddbmm`` and one Adam: the best a
  hand-written batched loop does.

Each (loop, K) runs in its own process so its peak resident memory is its own. Every loop times the same steps
after the same warm-up steps.

    python -m bench.many_signals                     # K = 1, 16, 64, 256, 1024; sequential at K = 256
    python -m bench.many_signals --counts 16 --steps 5 --warmup 2 --sequential-count 16   # a quick check
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
IMAGES = (ROOT.parent / "shared" / "data" / "ffn" / "div2k", ROOT.parent / "shared" / "data" / "ffn" / "text")
RESULTS = Path(__file__).parent / "results" / "many_signals.csv"
CROP, HIDDEN, LAYERS, OMEGA, LR = 32, 64, 3, 30.0, 1e-4


def write_crops(count: int, folder: Path, seed: int = 0) -> list[Path]:
    """``count`` RGB crops of CROP x CROP from the shared images (cycled), as PNGs in ``folder``."""
    import imageio.v3 as iio

    sources = sorted(path for folder_ in IMAGES for path in folder_.glob("*.png"))
    if not sources:
        raise SystemExit(f"no images under {IMAGES[0]} / {IMAGES[1]} (see ../shared/data/README)")
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    images = [iio.imread(path)[..., :3] for path in sources]
    paths = []
    for index in range(count):
        image = images[index % len(images)]
        top, left = (int(rng.integers(0, size - CROP + 1)) for size in image.shape[:2])
        paths.append(folder / f"crop_{index:05d}.png")
        iio.imwrite(paths[-1], image[top : top + CROP, left : left + CROP])
    return paths


def crop_targets(paths: list[Path]) -> tuple[torch.Tensor, torch.Tensor]:
    """coords [N, 2] on SIREN's (y, x) grid and values [K, N, 3] in [-1, 1] of the crops."""
    import imageio.v3 as iio

    from inr.core.grids import grid

    values = np.stack([iio.imread(path)[..., :3].reshape(-1, 3) for path in paths]).astype(np.float32) / 127.5 - 1
    return grid((CROP, CROP)), torch.from_numpy(values)


def siren_weights(count: int, seed: int) -> list[torch.Tensor]:
    """SIREN 2 -> HIDDEN x (LAYERS + 1) -> 3 for ``count`` members with the SIREN initialisation, stacked."""
    generator = torch.Generator().manual_seed(seed)
    sizes = [2] + [HIDDEN] * (LAYERS + 1) + [3]
    weights = []
    for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        bound = 1 / fan_in if layer == 0 else math.sqrt(6 / fan_in) / OMEGA
        weight = (torch.rand(count, fan_in, fan_out, generator=generator) * 2 - 1) * bound
        bias = (torch.rand(count, 1, fan_out, generator=generator) * 2 - 1) / math.sqrt(fan_in)
        weights += [weight.requires_grad_(), bias.requires_grad_()]
    return weights


def bmm_loop(paths: list[Path], steps: int, warmup: int) -> float:
    """Seconds per step of the hand-written batched loop."""
    coords, values = crop_targets(paths)
    count = len(paths)
    weights = siren_weights(count, 0)
    optimizer = torch.optim.Adam(weights, lr=LR)
    inputs = coords.expand(count, *coords.shape)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        hidden = inputs
        for index in range(0, len(weights) - 2, 2):
            hidden = torch.sin(OMEGA * torch.baddbmm(weights[index + 1], hidden, weights[index]))
        output = torch.baddbmm(weights[-1], hidden, weights[-2])
        loss = (output - values).square().mean(dim=(1, 2)).sum()
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def sequential_loop(paths: list[Path], steps: int, warmup: int) -> float:
    """Seconds per step (all members) of fitting the members one after another, each its own module and Adam."""
    from torch import nn

    coords, values = crop_targets(paths)

    class Sine(nn.Module):
        def __init__(self, fan_in: int, fan_out: int, first: bool) -> None:
            super().__init__()
            self.linear = nn.Linear(fan_in, fan_out)
            bound = 1 / fan_in if first else math.sqrt(6 / fan_in) / OMEGA
            nn.init.uniform_(self.linear.weight, -bound, bound)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.sin(OMEGA * self.linear(x))

    total = 0.0
    for member in range(len(paths)):
        torch.manual_seed(member)
        layers = [Sine(2, HIDDEN, True)] + [Sine(HIDDEN, HIDDEN, False) for _ in range(LAYERS)]
        model = nn.Sequential(*layers, nn.Linear(HIDDEN, 3))
        optimizer = torch.optim.Adam(model.parameters(), lr=LR)
        target = values[member]

        def step() -> None:
            optimizer.zero_grad(set_to_none=True)
            loss = (model(coords) - target).square().mean()  # noqa: B023 - this member's model and target
            loss.backward()
            optimizer.step()  # noqa: B023

        for _ in range(warmup):
            step()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        total += time.perf_counter() - start
    return total / steps


def inr_loop(paths: list[Path], steps: int, warmup: int, root: str, chunk_size: int) -> float:
    """Seconds per step of ``inr fit`` on the folder of crops (timed from the end of the warm-up steps)."""
    from lightning.pytorch.callbacks import Callback

    from inr.cli import build_cli

    marks: dict[int, float] = {}

    class Clock(Callback):
        def on_train_batch_end(self, trainer, *args) -> None:
            marks[trainer.global_step] = time.perf_counter()

    total = warmup + steps
    cli = build_cli([
        "--config", str(ROOT / "configs" / "image_siren.yaml"),
        "--data", "datamodules.image_folder.ImageFolderDataModule",
        "--data.path", str(paths[0].parent), "--data.size", "null", "--model.network.init_args.hidden", str(HIDDEN),
        "--model.network.init_args.layers", str(LAYERS), "--model.chunk_size", str(chunk_size),
        "--trainer.max_steps", str(total), "--trainer.val_check_interval", str(total), "--trainer.logger", "false",
        "--trainer.log_every_n_steps", "50", "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir",
        root, "--checkpoint.save_top_k", "0", "--checkpoint.save_last", "false", "--trainer.limit_val_batches", "0",
    ], run=False)
    cli.trainer.callbacks.append(Clock())
    cli.trainer.fit(cli.model, cli.datamodule)
    return (marks[total] - marks[warmup]) / steps


def measure(loop: str, count: int, steps: int, warmup: int, chunk_size: int) -> dict[str, float]:
    """Run one (loop, K) in this process: seconds per step, samples per second, peak RSS in MiB."""
    with tempfile.TemporaryDirectory() as folder:
        paths = write_crops(count, Path(folder) / "crops")
        if loop == "inr":
            seconds = inr_loop(paths, steps, warmup, folder, chunk_size)
        elif loop == "bmm":
            seconds = bmm_loop(paths, steps, warmup)
        else:
            seconds = sequential_loop(paths, steps, warmup)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds_per_step": seconds, "samples_per_second": count * CROP * CROP / seconds, "peak_rss_mib": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 16, 64, 256, 1024], help="values of K")
    parser.add_argument("--sequential-count", type=int, default=256, help="K of the one-after-another loop")
    parser.add_argument("--steps", type=int, default=10, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--chunk-size", type=int, default=16384, help="inr's model.chunk_size (points per piece)")
    parser.add_argument("--loops", nargs="+", default=["sequential", "bmm", "inr"], help="the loops to run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--one", nargs=2, metavar=("LOOP", "K"), help=argparse.SUPPRESS)  # a child's measurement
    options = parser.parse_args()
    if options.one:
        loop, count = options.one[0], int(options.one[1])
        print(json.dumps(measure(loop, count, options.steps, options.warmup, options.chunk_size)))
        return
    runs = [("sequential", options.sequential_count)] if "sequential" in options.loops else []
    runs += [(loop, count) for count in options.counts for loop in ("bmm", "inr") if loop in options.loops]
    rows = []
    for loop, count in runs:
        child = subprocess.run([sys.executable, "-m", "bench.many_signals", "--one", loop, str(count), "--steps",
                                str(options.steps), "--warmup", str(options.warmup), "--chunk-size",
                                str(options.chunk_size)], capture_output=True, text=True,
                               cwd=ROOT, env={**os.environ, "WANDB_MODE": "offline"})
        if child.returncode != 0:
            raise SystemExit(f"{loop} K={count} failed:\n{child.stderr[-3000:]}")
        row = {"loop": loop, "K": count, **json.loads(child.stdout.strip().splitlines()[-1])}
        rows.append(row)
        print(row, flush=True)
    options.out.parent.mkdir(parents=True, exist_ok=True)
    with open(options.out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    sequential = rows[0]["samples_per_second"]
    print(f"\nthreads {torch.get_num_threads()}; sequential loop (K = {options.sequential_count}): "
          f"{sequential:,.0f} samples/s\n")
    print("| K | inr samples/s | bmm samples/s | inr / sequential | inr / bmm | inr peak RSS (MiB) "
          "| bmm peak RSS (MiB) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for count in options.counts:
        mine = next(row for row in rows if row["loop"] == "inr" and row["K"] == count)
        best = next(row for row in rows if row["loop"] == "bmm" and row["K"] == count)
        print(f"| {count} | {mine['samples_per_second']:,.0f} | {best['samples_per_second']:,.0f} | "
              f"{mine['samples_per_second'] / sequential:.2f} | "
              f"{mine['samples_per_second'] / best['samples_per_second']:.2f} | {mine['peak_rss_mib']:.0f} | "
              f"{best['peak_rss_mib']:.0f} |")


if __name__ == "__main__":
    main()
