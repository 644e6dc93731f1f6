"""A large image through ``inr fit`` and ``inr render`` as a user runs them, with the peak memory of each.

Writes a 4096 x 4096 RGB PNG (scikit-image's astronaut, upscaled: 16.8M pixels), fits SIREN 3 x 256 to it with
random batches of ``--batch-size`` pixels for ``--steps`` steps (one validation over every pixel at the end,
in chunks), then renders the checkpoint at the full resolution in chunks. Each command runs in its own process;
its peak resident memory (``ru_maxrss`` of that child) and, on a GPU, its peak allocated GPU memory are printed.
The signal itself is held once (coordinates + values: 20 bytes per pixel, 336 MB); everything else is bounded
by the batch and ``model.chunk_size``.

    python -m bench.large_signal [--size 4096] [--steps 20] [--batch-size 65536] [--accelerator cpu]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_image(path: Path, size: int) -> None:
    """An RGB uint8 PNG of ``size`` x ``size`` pixels (the astronaut, resized with antialiasing)."""
    import imageio.v3 as iio
    from skimage import data, transform

    image = transform.resize(data.astronaut(), (size, size), anti_aliasing=False, order=1)
    iio.imwrite(path, (image * 255).round().astype(np.uint8))


def run_measured(command: list[str]) -> tuple[float, float, str]:
    """Run ``command``; returns (seconds, peak resident MiB of that process, its output's last lines)."""
    env = {key: value for key, value in os.environ.items() if key != "WANDB_SERVICE"}
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{output[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, "\n".join(output.strip().splitlines()[-3:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=4096, help="image side in pixels")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=65536)
    parser.add_argument("--accelerator", default="auto")
    options = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="inr-large-"))
    image = root / f"astronaut{options.size}.png"
    write_image(image, options.size)
    python = [sys.executable, "-m", "bench.peak_memory"]
    fit = [*python, "inr.cli", "fit", "--config", "configs/image_siren.yaml", "--data.path", str(image),
           "--data.size", "null", "--data.batch_size", str(options.batch_size), "--trainer.max_steps",
           str(options.steps), "--trainer.val_check_interval", str(options.steps), "--trainer.logger", "false",
           "--trainer.accelerator", options.accelerator, "--trainer.default_root_dir", str(root / "runs"),
           "--trainer.enable_progress_bar", "false"]
    seconds, fit_mib, tail = run_measured(fit)
    print(f"fit: {options.size}^2 RGB ({options.size**2:,} pixels), {options.steps} steps of {options.batch_size:,} "
          f"random pixels + 1 full validation: {seconds:.0f} s, peak RSS {fit_mib:,.0f} MiB\n{tail}", flush=True)
    checkpoint = next((root / "runs").glob("**/checkpoints/last.ckpt"))
    device = "cuda" if options.accelerator in ("gpu", "cuda") else "cpu"
    render = [*python, "inr.cli", "render", str(checkpoint), "--out", str(root / "render.png"), "--device", device]
    seconds, render_mib, tail = run_measured(render)
    import imageio.v3 as iio

    shape = iio.imread(root / "render.png").shape  # fails if nothing was written
    print(f"render: {shape} in chunks of model.chunk_size: {seconds:.0f} s, peak RSS {render_mib:,.0f} MiB"
          f"\n{tail}")


if __name__ == "__main__":
    main()
