"""Peak memory of a hash-grid fit through ``inr fit``: bounded by the table, the signal and one chunk.

Fits ``configs/zoo/hash_grid.yaml`` (16 levels x 2 features, 2^19 rows per level, N_min 16) with the finest level
at the image size (``max_resolution`` = 2048: its 4 finest levels hash) to a 2048 x 2048 RGB PNG (scikit-image's
astronaut, upscaled) with random batches of ``--batch-size`` pixels for ``--steps`` steps, validation off, then
the same command on a 64 x 64 image. Each fit runs in its own process; its peak resident memory (``ru_maxrss``)
is printed next to estimates of what scales with the options:

- table: parameters + gradient + Adam's two moments, 4 x rows x features x 4 bytes (the same for both images);
- signal: coordinates + values held once, 20 bytes per pixel;
- chunk: the encoder's per-point working memory over one chunk of ``model.chunk_size`` points (int64 corner rows
  and their temporaries, float32 weights, gathered features and products), a rough upper estimate.

    python -m bench.hash_grid_memory [--steps 30] [--batch-size 65536] [--accelerator cpu]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench.large_signal import run_measured, write_image
from inr.nn.hash_grid import HashGrid

CONFIG = "configs/zoo/hash_grid.yaml"
CHUNK_SIZE = 16384  # INRModule's default chunk_size
MIB = 2**20


def table_bytes(grid: HashGrid) -> int:
    """Parameters, gradient and Adam's exp_avg and exp_avg_sq of the table, float32, in bytes."""
    return 4 * grid.table.numel() * 4


def chunk_bytes(grid: HashGrid, points: int) -> int:
    """Rough working memory of encoding ``points`` points, in bytes.

    Per point, level and corner: (d + 4) int64 tensors (per-axis vertices, dense rows, hashed rows, chosen rows, the
    saved rows) and float32 weights, gathered features, their product and its gradient (2 + 2F values).
    """
    corners = grid.levels * 2**grid.in_dim
    return points * corners * (8 * (grid.in_dim + 4) + 4 * (2 + 2 * grid.features))


def fit_command(image: Path, root: Path, options: argparse.Namespace) -> list[str]:
    return [sys.executable, "-m", "bench.peak_memory", "inr.cli", "fit", "--config", CONFIG,
            "--data.path", str(image), "--data.size", "null", "--data.batch_size", str(options.batch_size),
            "--model.encoder.init_args.max_resolution", "2048", "--trainer.max_steps", str(options.steps),
            "--trainer.val_check_interval", str(options.steps), "--trainer.limit_val_batches", "0",
            "--trainer.logger", "false", "--trainer.accelerator", options.accelerator,
            "--trainer.default_root_dir", str(root), "--trainer.enable_progress_bar", "false"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=65536)
    parser.add_argument("--accelerator", default="cpu")
    options = parser.parse_args()
    grid = HashGrid(2, max_resolution=2048)
    root = Path(tempfile.mkdtemp(prefix="inr-hash-grid-"))
    rows = []
    for size in (2048, 64):
        image = root / f"astronaut{size}.png"
        write_image(image, size)
        seconds, peak_mib, tail = run_measured(fit_command(image, root / f"runs{size}", options))
        print(tail, flush=True)
        rows.append((size, seconds, peak_mib, 20 * size * size / MIB))
    table_mib = table_bytes(grid) / MIB
    chunk_mib = chunk_bytes(grid, min(options.batch_size, CHUNK_SIZE)) / MIB
    print(f"\nHashGrid 2D: {grid.levels} levels x {grid.features} features, {grid.table.shape[0]:,} rows "
          f"({sum(grid.dense)} dense levels, {grid.levels - sum(grid.dense)} hashed), {options.steps} steps of "
          f"{options.batch_size:,} random pixels, {options.accelerator}\n")
    print("| image | s | peak RSS MiB | table x4 MiB | signal MiB | chunk MiB | RSS - 64^2 run MiB |")
    print("|---|---|---|---|---|---|---|")
    for size, seconds, peak_mib, signal_mib in rows:
        print(f"| {size} x {size} | {seconds:.0f} | {peak_mib:,.0f} | {table_mib:,.0f} | {signal_mib:,.1f} | "
              f"{chunk_mib:,.0f} | {peak_mib - rows[-1][2]:,.0f} |")


if __name__ == "__main__":
    main()
