"""PSNR at chosen steps: the official SIREN loop (plain PyTorch) and inr's configs, side by side in one run.

    python bench/psnr_curves.py --steps 100 250 500 --configs configs/image_siren.yaml configs/image_relu.yaml

Prints a markdown table and writes bench/results/psnr_curves.csv and a PSNR-curve picture.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback

from bench.reference import PlainSiren, cameraman_tensors, plain_step, psnr_unit_range
from inr.cli import build_cli


def reference_curve(steps: list[int], every: int, seed: int = 0) -> tuple[dict[int, float], float]:
    """Official-notebook SIREN fit; returns {step: psnr} at multiples of ``every`` and the mean s/step."""
    torch.manual_seed(seed)
    coords, values = cameraman_tensors(256)
    model = PlainSiren()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    curve, elapsed = {}, 0.0
    for step in range(1, max(steps) + 1):
        start = time.perf_counter()
        plain_step(model, optimizer, coords, values, chunk=16384)
        elapsed += time.perf_counter() - start
        if step % every == 0 or step in steps:
            with torch.no_grad():
                curve[step] = psnr_unit_range(model(coords), values)
    return curve, elapsed / max(steps)


class _RecordPSNR(Callback):
    def __init__(self):
        self.curve: dict[int, float] = {}
        self.started = None

    def on_validation_end(self, trainer, pl_module):
        if "val/psnr" in trainer.callback_metrics:
            self.curve[trainer.global_step] = float(trainer.callback_metrics["val/psnr"])


def inr_curve(config: str, steps: list[int], every: int, root: str) -> tuple[dict[int, float], float]:
    """Fit ``config`` through inr's CLI in this process; returns {step: val/psnr} and the mean s/step."""
    args = ["--config", config, "--trainer.max_steps", str(max(steps)), "--trainer.val_check_interval", str(every),
            "--trainer.default_root_dir", root, "--trainer.enable_progress_bar", "false", "--trainer.logger", "false",
            "--checkpoint.save_top_k", "0", "--checkpoint.save_last", "false"]
    cli = build_cli(args, run=False)
    record = _RecordPSNR()
    cli.trainer.callbacks.append(record)
    start = time.perf_counter()
    cli.trainer.fit(cli.model, cli.datamodule)
    return record.curve, (time.perf_counter() - start) / max(steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, nargs="+", default=[100, 250, 500])
    parser.add_argument("--every", type=int, default=50, help="evaluate every this many steps (for the curve)")
    parser.add_argument("--configs", nargs="+", default=["configs/image_siren.yaml"])
    parser.add_argument("--no-reference", action="store_true")
    parser.add_argument("--out", default="bench/results")
    options = parser.parse_args()
    curves, times = {}, {}
    if not options.no_reference:
        curves["official SIREN loop"], times["official SIREN loop"] = reference_curve(options.steps, options.every)
        print("reference", curves["official SIREN loop"], flush=True)
    for config in options.configs:
        name = Path(config).stem
        curves[name], times[name] = inr_curve(config, options.steps, options.every, f"/tmp/inr-bench/{name}")
        print(name, curves[name], flush=True)
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    print("\n| run | " + " | ".join(f"step {s}" for s in options.steps) + " | s/step |")
    print("|---|" + "---|" * (len(options.steps) + 1))
    with open(out / "psnr_curves.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["run", "step", "psnr_db"])
        for name, curve in curves.items():
            writer.writerows([name, step, f"{psnr:.3f}"] for step, psnr in sorted(curve.items()))
            cells = " | ".join(f"{curve.get(s, float('nan')):.1f}" for s in options.steps)
            print(f"| {name} | {cells} | {times[name]:.2f} |")
    _plot(curves, out / "psnr_curves.png")


def _plot(curves: dict[str, dict[int, float]], path: Path) -> None:
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no picture")
        return
    figure, axes = plt.subplots(figsize=(6, 4))
    for name, curve in curves.items():
        steps = sorted(curve)
        axes.plot(steps, [curve[s] for s in steps], label=name, marker=".")
    axes.set_xlabel("step")
    axes.set_ylabel("PSNR (dB)")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
