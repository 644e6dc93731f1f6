"""Video fits of bikes.mp4 through ``inr fit`` beside a plain PyTorch loop of the same setup, temporal
super-resolution, and the memory of a full-clip fit.

    python -m bench.video_reference                 # fits and temporal super-resolution (README table)
    python -m bench.video_reference --memory        # peak memory: full clip vs one frame, full-clip render

Fits: ``configs/video_siren.yaml`` and ``configs/video_relu_pe.yaml`` (160 x 68, the first 50 frames, 16,384 random
points per step), validated on the configs' 4 frames at each ``--steps``, and a plain loop (bench/reference.py's
independent SIREN, the clip decoded by PyAV, random pixel indices from its own generator, Adam 1e-4) measured on the
same frames. Temporal super-resolution: each config fitted on every second frame (``--data.stride 2``) and
evaluated at the frames in between, which it never saw, against the true frames.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch.callbacks import Callback

from bench.reference import PlainSiren
from inr.io.video_files import read_video

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT.parent / "shared" / "data" / "bikes.mp4"
RESULTS = Path(__file__).parent / "results"
SIZE, FRAMES, BATCH = 160, 50, 16384


def frame_psnr(prediction: torch.Tensor, truth: torch.Tensor) -> float:
    """Mean over frames of each frame's PSNR (dB), values in [-1, 1] (prediction clipped): [F, P, C] each."""
    mse = (prediction.clamp(-1, 1).double() - truth.double()).square().mean(dim=(1, 2))
    return float((10 * torch.log10(4 / mse)).mean())


def frame_ssim(prediction: torch.Tensor, truth: torch.Tensor, size: tuple[int, int]) -> float:
    """Mean over frames of each frame's SSIM (inr's image SSIM)."""
    from inr.metrics import image_ssim

    return float(np.mean([float(image_ssim(p.clamp(-1, 1), t, size, 2.0)) for p, t in zip(prediction, truth)]))


class _Record(Callback):
    def __init__(self) -> None:
        self.values: dict[int, dict[str, float]] = {}

    def on_validation_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            metrics = trainer.callback_metrics
            self.values[trainer.global_step] = {"psnr": float(metrics["val/psnr"]), "ssim": float(metrics["val/ssim"])}


def inr_fit(config: str, steps: list[int], root: str, *extra: str):
    """``inr fit`` of ``config`` on bikes, validated at each of ``steps``; (cli, {step: metrics}, s/step)."""
    from inr.cli import build_cli

    interval = int(np.gcd.reduce(steps))
    cli = build_cli(["--config", config, "--data.path", str(CLIP), "--data.size", str(SIZE), "--data.frames",
                     str(FRAMES), "--trainer.max_steps", str(max(steps)), "--trainer.val_check_interval", str(interval),
                     "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
                     "--trainer.default_root_dir", root, "--checkpoint.save_top_k", "0", "--checkpoint.save_last",
                     "false", *extra], run=False)
    record = _Record()
    cli.trainer.callbacks.append(record)
    start = time.perf_counter()
    cli.trainer.fit(cli.model, cli.datamodule)
    return cli, {step: record.values[step] for step in steps}, (time.perf_counter() - start) / max(steps)


def plain_siren(steps: list[int], val_frames: list[int]) -> tuple[dict[int, dict[str, float]], float]:
    """The same SIREN fit as a plain PyTorch loop; PSNR/SSIM on ``val_frames`` at each of ``steps``."""
    clip, _ = read_video(CLIP, frames=FRAMES, size=SIZE)
    frames, height, width, channels = clip.shape
    values = torch.from_numpy(clip).float().reshape(-1, channels) / 127.5 - 1
    axes = [torch.linspace(-1, 1, size) for size in (frames, height, width)]
    torch.manual_seed(0)
    model = PlainSiren(in_features=3, hidden_features=256, hidden_layers=3, out_features=channels)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    generator = torch.Generator().manual_seed(1)
    pixels = height * width

    def coords_of(index: torch.Tensor) -> torch.Tensor:
        t, rest = index // pixels, index % pixels
        return torch.stack([axes[0][t], axes[1][rest // width], axes[2][rest % width]], dim=-1)

    val_index = (torch.tensor(val_frames)[:, None] * pixels + torch.arange(pixels)[None]).reshape(-1)
    results, start = {}, time.perf_counter()
    for step in range(1, max(steps) + 1):
        index = torch.randint(frames * pixels, (BATCH,), generator=generator)
        loss = (model(coords_of(index)) - values[index]).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step in steps:
            with torch.no_grad():
                prediction = torch.cat([model(coords_of(chunk)) for chunk in val_index.split(16384)])
            truth = values[val_index].reshape(len(val_frames), pixels, channels)
            prediction = prediction.reshape(len(val_frames), pixels, channels)
            results[step] = {"psnr": frame_psnr(prediction, truth),
                             "ssim": frame_ssim(prediction, truth, (height, width))}
    return results, (time.perf_counter() - start) / max(steps)


def held_back_psnr(cli) -> tuple[float, float]:
    """PSNR / SSIM at the frames between the kept ones of a stride-2 fit (frames 1, 3, ..., 47 of bikes)."""
    model = cli.model.eval()
    kept = cli.datamodule.frames
    clip, _ = read_video(CLIP, frames=2 * kept - 1, size=SIZE)
    between = clip[1::2]
    count, height, width, channels = between.shape
    plane = torch.stack(torch.meshgrid(torch.linspace(-1, 1, height), torch.linspace(-1, 1, width), indexing="ij"),
                        dim=-1).reshape(-1, 2)
    predictions = []
    for k in range(count):
        t = -1 + 2 * (k + 0.5) / (kept - 1)  # halfway between kept frames k and k + 1
        coords = torch.cat([torch.full((plane.shape[0], 1), t), plane], dim=1)
        predictions.append(model.predict_values(coords))
    prediction = torch.stack(predictions)
    truth = torch.from_numpy(between).float().reshape(count, -1, channels) / 127.5 - 1
    return frame_psnr(prediction, truth), frame_ssim(prediction, truth, (height, width))


def fits(steps: list[int]) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in ("video_siren", "video_relu_pe"):
            cli, values, seconds = inr_fit(f"configs/{name}.yaml", steps, folder)
            val_frames = cli.datamodule.val_frames
            for step, metrics in values.items():
                rows.append({"run": name, "loop": "inr", "steps": step, **metrics, "seconds_per_step": seconds})
                print(rows[-1], flush=True)
        plain, seconds = plain_siren(steps, val_frames)
        for step, metrics in plain.items():
            rows.append({"run": "video_siren", "loop": "plain", "steps": step, **metrics, "seconds_per_step": seconds})
            print(rows[-1], flush=True)
        for name in ("video_siren", "video_relu_pe"):
            cli, values, seconds = inr_fit(f"configs/{name}.yaml", [max(steps)], folder, "--data.stride", "2",
                                           "--data.frames", str(FRAMES // 2))
            psnr, ssim = held_back_psnr(cli)
            rows.append({"run": f"{name} stride 2", "loop": "inr held-back frames", "steps": max(steps), "psnr": psnr,
                         "ssim": ssim, "seconds_per_step": seconds})
            rows.append({"run": f"{name} stride 2", "loop": "inr kept frames", "steps": max(steps),
                         **values[max(steps)], "seconds_per_step": seconds})
            print(rows[-2], rows[-1], flush=True)
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "video_reference.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print("\n| run | loop | steps | PSNR (dB) | SSIM | s/step |\n|---|---|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['run']} | {row['loop']} | {row['steps']} | {row['psnr']:.2f} | {row['ssim']:.4f} | "
              f"{row['seconds_per_step']:.3f} |")


def _peak_mib(command: list[str]) -> float:
    """Run ``command`` and return its peak resident memory in MiB (its own rusage)."""
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "WANDB_MODE": "offline"},
                                   stdout=subprocess.DEVNULL, stderr=log, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        if status != 0:
            log.seek(0)
            raise SystemExit(f"{' '.join(command)} failed:\n{log.read()[-3000:]}")
    return usage.ru_maxrss / 1024


def memory() -> None:
    """Peak RSS of 10 random-batch steps on the full clip vs a one-frame clip, and of a full-clip render.

    SIREN 3 x 64 here (its activations for a 16,384-point batch are a few MiB): what is measured is the clip.
    """
    with tempfile.TemporaryDirectory() as folder:
        def fit(frames: str, root: str) -> list[str]:
            return [sys.executable, "-m", "inr.cli", "fit", "--config", "configs/video_siren.yaml", "--data.path",
                    str(CLIP), "--data.size", "null", "--data.frames", frames, "--data.val_frames", "1",
                    "--trainer.max_steps", "10", "--trainer.val_check_interval", "10", "--trainer.logger", "false",
                    "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", root,
                    "--model.network.init_args.hidden", "64"]  # the data's memory is measured, not the network's

        full = _peak_mib(fit("null", f"{folder}/full"))
        one = _peak_mib(fit("1", f"{folder}/one"))
        (checkpoint,) = Path(folder, "full").glob("**/last.ckpt")
        render = _peak_mib([sys.executable, "-m", "inr.cli", "render", str(checkpoint), "--out",
                            f"{folder}/clip.mp4", "--device", "cpu"])
    clip_mib = 640 * 272 * 3 * 250 / 2**20
    result = {"full_clip_fit_mib": full, "one_frame_fit_mib": one, "difference_mib": full - one,
              "decoded_clip_mib": clip_mib, "full_clip_render_mib": render}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "video_memory.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, nargs="+", default=[250, 500])
    parser.add_argument("--memory", action="store_true", help="measure peak memory instead of fitting")
    options = parser.parse_args()
    if not CLIP.is_file():
        raise SystemExit(f"{CLIP} not found (see ../shared/data/README.md)")
    memory() if options.memory else fits(sorted(options.steps))


if __name__ == "__main__":
    main()
