"""Step time of inr (through the Trainer, as users run it) against a plain PyTorch loop of the same model and loss.

Both run in one benchmark run, alternating in rounds, each loop in a fresh process per round (so one loop's
allocations do not shape the next one's heap). Cases (``--case``):

- ``image``: SIREN image fit, cameraman 256 x 256, full batch of 65,536 pixels, value loss (``image_siren.yaml``);
- ``gradient`` / ``laplacian``: Poisson reconstruction, cameraman 128 x 128 full batch, gradient / Laplacian
  loss (``poisson_gradient.yaml`` / ``poisson_laplacian.yaml``);
- ``sdf``: SIREN SDF, 10k surface points with normals + 10k uniform per step, the four SIREN terms
  (``sdf_siren.yaml``, generated shape); the plain loop draws its batch on the device each step as well;
- ``ct``: CT through projections, 256 rays x 128 samples per step, ReLU MLP on Gaussian features, the line-integral
  loss (``ct/shepp_gaussian.yaml``); both loops draw the same rays each step.

All but ``ct`` use SIREN 3 x 256; all use Adam. The plain loop (``bench/plain_losses.py``, derivatives by
torch.autograd.grad as in the official SIREN code) is timed both as usually written (one backward over the whole
batch) and chunked (16k points per backward, gradient accumulation), and inr is compared with the faster of the two
("the plain loop at its best"). inr uses chunked gradient accumulation (``model.chunk_size``, 16,384 by default):
full-batch activations above glibc's mmap threshold would otherwise be mapped, zeroed and unmapped every step.
``--allocator-tunables`` re-runs everything in a child process with GLIBC_TUNABLES raising that threshold, to show
the unchunked plain loop at its best too (inr keeps ``--chunk-size``: chunked steps stayed the faster ones with the
tunables set).

Both loops run on one device, ``--device`` (default: ``cuda`` when a GPU is visible, else ``cpu``); inr on one
process there (``--trainer.devices 1``). On a GPU every timed step ends with ``torch.cuda.synchronize``, so a step's
time includes its kernels, not only their launch.

    python -m bench.step_time [--case image|gradient|laplacian|sdf|ct] [--rounds 3] [--steps 5] [--compile]
                              [--allocator-tunables] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
from lightning.pytorch.callbacks import Callback

from bench.plain_losses import (
    gradient_loss,
    laplacian_loss,
    plain_step,
    projection_loss,
    sdf_batch,
    sdf_loss,
    value_loss,
)
from inr.cli import build_cli
from inr.core.devices import resolve_device
from inr.training.lightning_private import logger_started

CASES = {
    "image": ("configs/image_siren.yaml", value_loss),
    "gradient": ("configs/poisson_gradient.yaml", gradient_loss),
    "laplacian": ("configs/poisson_laplacian.yaml", laplacian_loss),
    "sdf": ("configs/sdf_siren.yaml", sdf_loss),
    "ct": ("configs/ct/shepp_gaussian.yaml", projection_loss),
}
TUNABLES = "glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=4294967296"


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (a GPU's kernels); nothing on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class StepTimer(Callback):
    """Wall time between consecutive training-batch ends: everything Lightning does per step, kernels included."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._last: float | None = None

    def on_train_start(self, trainer, pl_module) -> None:
        self._last = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        synchronize(pl_module.device)
        now = time.perf_counter()
        if self._last is not None:
            self.times.append(now - self._last)
        self._last = now


def inr_round(config: str, steps: int, root: str, device: torch.device, model=None, chunk_size: int = 16384,
              compile: bool = False, logger: bool = True, extra: list[str] = ()):
    """``steps + 1`` training steps of ``config`` through the Trainer on one ``device`` (the first is not timed).

    ``extra`` options go to the CLI after the others (e.g. a smaller ``--data.size``).
    """
    accelerator = "gpu" if device.type == "cuda" else "cpu"
    args = ["--config", config, "--model.compile", str(compile).lower(), "--model.chunk_size", str(chunk_size),
            "--trainer.accelerator", accelerator, "--trainer.devices", "1",
            *([] if logger else ["--trainer.logger", "false"]),
            "--trainer.max_steps", str(steps + 1),
            "--trainer.val_check_interval", "100000",
            "--trainer.default_root_dir", root, "--trainer.enable_progress_bar", "false",
            "--trainer.enable_model_summary", "false", "--checkpoint.save_last", "false",
            "--checkpoint.save_top_k", "0", *extra]
    cli = build_cli(args, run=False)
    if model is not None:
        cli.model = model
    timer = StepTimer()
    cli.trainer.callbacks.append(timer)
    cli.trainer.fit(cli.model, cli.datamodule)
    if cli.trainer.logger is not None and logger_started(cli.trainer.logger):
        cli.trainer.logger.experiment.finish()
    return cli, timer.times


def plain_round(network, loss_fn, next_batch, steps: int, chunk: int | None, device: torch.device) -> list[float]:
    """``steps`` timed plain-PyTorch steps (after one warm-up step); ``next_batch()`` gives each step's batch."""
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-4)
    plain_step(network, optimizer, loss_fn, next_batch(), chunk)
    times = []
    for _ in range(steps):
        synchronize(device)
        start = time.perf_counter()
        plain_step(network, optimizer, loss_fn, next_batch(), chunk)
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


def batch_source(case: str, datamodule, device: torch.device):
    """A function returning the plain loop's batch on ``device``: the full signal, or (SDF) a fresh draw there."""
    if case == "ct":  # a fresh draw of rays each step, as inr's DataModule draws them
        steps = iter(range(10**9))
        return lambda: datamodule.sample(device, next(steps), 0)
    signal = {key: value.to(device) for key, value in datamodule.signal_tensors().items()}
    if case != "sdf":
        return lambda: signal
    generator = torch.Generator(device=device).manual_seed(0)
    return lambda: sdf_batch(signal["coords"], signal["normals"], datamodule.batch_size, generator)


LOOPS = ("inr", "plain (unchunked)", "plain (chunked 16k)")


def worker(case: str, loop: str, steps: int, chunk_size: int, compile: bool, logger: bool, device: str) -> None:
    """Time ``steps`` steps of one loop in this (fresh) process on ``device``; print them as one JSON line."""
    os.environ.setdefault("WANDB_MODE", "offline")
    config, loss_fn = CASES[case]
    root = tempfile.mkdtemp(prefix="inr-bench-")
    place = torch.device(device)
    if loop == "inr":
        settings = {"chunk_size": chunk_size, "compile": compile, "logger": logger}
        cli, _ = inr_round(config, 1, root, place, **settings)  # warm-up
        _, times = inr_round(config, steps, root, place, model=cli.model, **settings)
    else:
        cli = build_cli(["--config", config, "--trainer.logger", "false"], run=False)
        network = torch.nn.Sequential(cli.model.encoder, cli.model.network).to(place)
        cli.datamodule.provide(training=cli.model.training_targets, validation=cli.model.validation_targets)
        chunk = None if loop == "plain (unchunked)" else 16384
        times = plain_round(network, loss_fn, batch_source(case, cli.datamodule, place), steps, chunk, place)
    samples = batch_source(case, cli.datamodule, place)()["coords"].shape[0]
    print("TIMES " + json.dumps({"times": times, "samples": samples, "threads": torch.get_num_threads()}), flush=True)


def child_env() -> dict[str, str]:
    """Environment for a child benchmark process: offline W&B, its own W&B service (not this process's)."""
    env = {key: value for key, value in os.environ.items() if key != "WANDB_SERVICE"}
    env.setdefault("WANDB_MODE", "offline")
    return env


def speed_flags(chunk_size: int, compile: bool, logger: bool, device: str) -> list[str]:
    """The command-line flags that give a child benchmark process this run's inr settings and device."""
    return ["--chunk-size", str(chunk_size), *(["--compile"] if compile else []), *([] if logger else ["--no-logger"]),
            "--device", device]


def run(case: str, rounds: int, steps: int, chunk_size: int, compile: bool = False, logger: bool = True,
        device: str = "cpu") -> None:
    """Alternate the loops in rounds, each loop in a fresh process, and print the table and the ratio.

    Fresh processes keep one loop's allocations from shaping the next one's heap: in one process, timings depended
    on which loop ran before (glibc's dynamic mmap threshold and heap trimming), by up to 15%.
    """
    config = CASES[case][0]
    results: dict[str, list[float]] = {loop: [] for loop in LOOPS}
    env = child_env()
    for round_index in range(rounds):
        for loop in LOOPS:
            command = [sys.executable, "-m", "bench.step_time", "--worker", loop, "--case", case, "--steps",
                       str(steps), *speed_flags(chunk_size, compile, logger, device)]
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            report = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("TIMES "))[6:])
            results[loop] += report["times"]
        print(f"round {round_index + 1}/{rounds}: " + ", ".join(
            f"{name} {statistics.median(times[-steps:]):.3f} s" for name, times in results.items()), flush=True)
    samples, threads = report["samples"], report["threads"]
    medians = {name: statistics.median(times) for name, times in results.items()}
    best_plain = min(medians["plain (unchunked)"], medians["plain (chunked 16k)"])
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    print(f"\ncase {case} ({config}) on {device}, {samples} samples per step, torch threads {threads}, "
          f"GLIBC_TUNABLES={'set' if tunables else 'unset'}; inr chunk_size={chunk_size}"
          f"{', inr compiled' if compile else ''}{'' if logger else ', no logger'}")
    print("| loop | s/step (median) | samples/s |")
    print("|---|---|---|")
    for name, median in medians.items():
        print(f"| {name} | {median:.3f} | {samples / median:,.0f} |")
    print(f"\nratio inr / plain at its best ({case}): {medians['inr'] / best_plain:.3f} (goal <= 1.10)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=sorted(CASES), default="image")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per loop per round")
    parser.add_argument("--chunk-size", type=int, default=16384, help="inr's model.chunk_size (its default: 16384)")
    parser.add_argument("--compile", action="store_true", help="inr with --model.compile true (value loss only)")
    parser.add_argument("--no-logger", action="store_true", help="inr without its W&B logger")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when a GPU is visible)")
    parser.add_argument("--worker", choices=LOOPS, help=argparse.SUPPRESS)
    parser.add_argument("--allocator-tunables", action="store_true",
                        help="also run in a child with GLIBC_TUNABLES raising glibc's mmap threshold")
    options = parser.parse_args()
    device = str(resolve_device(options.device))
    if options.worker:
        worker(options.case, options.worker, options.steps, options.chunk_size, options.compile, not options.no_logger,
               device)
        return
    run(options.case, options.rounds, options.steps, options.chunk_size, options.compile, not options.no_logger,
        device)
    if options.allocator_tunables:
        print("\n--- again with GLIBC_TUNABLES (child process) ---", flush=True)
        command = [sys.executable, "-m", "bench.step_time", "--case", options.case, "--rounds",
                   str(options.rounds), "--steps", str(options.steps),
                   *speed_flags(options.chunk_size, options.compile, not options.no_logger, device)]
        subprocess.run(command, env={**child_env(), "GLIBC_TUNABLES": TUNABLES}, check=True)


if __name__ == "__main__":
    main()
