"""Step time of inr (through the Trainer, as users run it) against a plain PyTorch loop of the same model.

Both run in this process, alternating in rounds, on the SIREN image fit (cameraman 256 x 256, full batch of
65,536 pixels, SIREN 3 x 256, Adam). The plain loop is timed both as usually written (one backward over the whole
batch) and chunked (16k points per backward, gradient accumulation), and inr is compared with the faster of the
two ("the plain loop at its best"). inr uses chunked gradient accumulation (``model.chunk_size``, 16,384 by
default): the full-batch activations (64 MB each) are above glibc's mmap threshold, so an unchunked step maps,
zeroes and unmaps ~1.8 GB per step. ``--allocator-tunables`` re-runs everything in a child process with
GLIBC_TUNABLES raising that threshold, to show the unchunked plain loop at its best too; there inr runs with
``model.chunk_size`` 65536 (one chunk), the setting a user with those tunables would choose.

    python -m bench.step_time [--rounds 4] [--steps 5] [--allocator-tunables]
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch
from lightning.pytorch.callbacks import Callback

from bench.reference import plain_step
from inr.cli import build_cli

TUNABLES = "glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=4294967296"


class StepTimer(Callback):
    """Wall time between consecutive training-batch ends: everything Lightning does per step."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._last: float | None = None

    def on_train_start(self, trainer, pl_module) -> None:
        self._last = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.times.append(now - self._last)
        self._last = now


def inr_round(config: str, steps: int, root: str, model=None, chunk_size: int = 16384):
    """``steps + 1`` training steps of ``config`` through the Trainer (the first one is not timed)."""
    args = ["--config", config, "--model.chunk_size", str(chunk_size), "--trainer.max_steps", str(steps + 1),
            "--trainer.val_check_interval", "100000",
            "--trainer.default_root_dir", root, "--trainer.enable_progress_bar", "false",
            "--trainer.enable_model_summary", "false", "--checkpoint.save_last", "false",
            "--checkpoint.save_top_k", "0"]
    cli = build_cli(args, run=False)
    if model is not None:
        cli.model = model
    timer = StepTimer()
    cli.trainer.callbacks.append(timer)
    cli.trainer.fit(cli.model, cli.datamodule)
    if cli.trainer.logger is not None and getattr(cli.trainer.logger, "_experiment", None) is not None:
        cli.trainer.logger.experiment.finish()
    return cli, timer.times


def plain_round(network, coords, values, steps: int, chunk: int | None) -> list[float]:
    """``steps`` timed plain-PyTorch steps (after one warm-up step)."""
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-4)
    plain_step(network, optimizer, coords, values, chunk)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        plain_step(network, optimizer, coords, values, chunk)
        times.append(time.perf_counter() - start)
    return times


def run(config: str, rounds: int, steps: int, chunk_size: int) -> None:
    os.environ.setdefault("WANDB_MODE", "offline")
    root = tempfile.mkdtemp(prefix="inr-bench-")
    cli, _ = inr_round(config, 1, root, chunk_size=chunk_size)
    coords, values = (tensor.clone() for tensor in (cli.datamodule.signal_tensors()["coords"],
                                                     cli.datamodule.signal_tensors()["values"]))
    samples = coords.shape[0]
    results: dict[str, list[float]] = {"inr": [], "plain (unchunked)": [], "plain (chunked 16k)": []}
    for round_index in range(rounds):
        _, times = inr_round(config, steps, root, model=cli.model, chunk_size=chunk_size)
        results["inr"] += times
        network = copy.deepcopy(cli.model.network)
        results["plain (unchunked)"] += plain_round(network, cli.model.encoder(coords), values, steps, None)
        results["plain (chunked 16k)"] += plain_round(network, cli.model.encoder(coords), values, steps, 16384)
        print(f"round {round_index + 1}/{rounds}: " + ", ".join(
            f"{name} {statistics.median(times[-steps:]):.3f} s" for name, times in results.items()), flush=True)
    medians = {name: statistics.median(times) for name, times in results.items()}
    best_plain = min(medians["plain (unchunked)"], medians["plain (chunked 16k)"])
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    print(f"\nconfig {config}, {samples} samples per step, torch threads {torch.get_num_threads()}, "
          f"GLIBC_TUNABLES={'set' if tunables else 'unset'}; inr chunk_size={cli.model.chunk_size}")
    print("| loop | s/step (median) | samples/s |")
    print("|---|---|---|")
    for name, median in medians.items():
        print(f"| {name} | {median:.3f} | {samples / median:,.0f} |")
    print(f"\nratio inr / plain at its best: {medians['inr'] / best_plain:.3f} (goal <= 1.10)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="configs/image_siren.yaml")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per loop per round")
    parser.add_argument("--chunk-size", type=int, default=16384, help="inr's model.chunk_size (its default: 16384)")
    parser.add_argument("--allocator-tunables", action="store_true",
                        help="also run in a child with GLIBC_TUNABLES, where inr uses chunk_size 65536 (unchunked)")
    options = parser.parse_args()
    run(options.config, options.rounds, options.steps, options.chunk_size)
    if options.allocator_tunables:
        print("\n--- again with GLIBC_TUNABLES (child process) ---", flush=True)
        env = {**os.environ, "GLIBC_TUNABLES": TUNABLES}
        env.pop("WANDB_SERVICE", None)
        command = [sys.executable, "-m", "bench.step_time", "--config", options.config, "--rounds",
                   str(options.rounds), "--steps", str(options.steps), "--chunk-size", "65536"]
        subprocess.run(command, env=env, check=True)


if __name__ == "__main__":
    main()
