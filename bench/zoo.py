"""inr's zoo presets against the official FINER training loop, side by side in one run.

Every image is resized once (bilinear, antialiased, longer side ``--size``) and saved as an 8-bit PNG that both
loops read, so they fit the same pixels. For each preset of ``configs/zoo/`` inr's config runs through ``inr fit``;
for the models the official FINER code has (siren, finer, wire, gauss, pemlp) the official loop
(``bench/finer_reference.py``, its own copy of the official models) runs beside it. Both start from the same
seed (3407, the official ``setup_seed``) and report PSNR (prediction clipped to the value range, on which the
data range is taken) and SSIM (scikit-image's ``structural_similarity`` on the official prediction, inr's
``val/ssim``) at each ``--steps``, the parameter count and seconds per step.

    python -m bench.zoo --images ../shared/data/ffn/div2k/00.png ../shared/data/ffn/text/00.png --size 64

Writes ``bench/results/zoo.csv`` and prints a Markdown table (means over the images).
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch.callbacks import Callback

from bench import finer_reference
from datamodules.image import read_image, resize_longer_side, write_png
from inr.cli import build_cli

PRESETS = tuple(sorted(path.stem for path in (Path(__file__).parent.parent / "configs" / "zoo").glob("*.yaml")))
#: the presets the official FINER loop has a model for.
OFFICIAL = tuple(finer_reference.OFFICIAL_LR)
RESULTS = Path(__file__).parent / "results" / "zoo.csv"
DEFAULT_IMAGES = ("../shared/data/ffn/div2k/00.png", "../shared/data/ffn/text/00.png")


def real_parameters(model: torch.nn.Module) -> int:
    """Trainable real numbers of ``model`` (a complex parameter holds two)."""
    return sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters() if p.requires_grad)


def prepared_image(path: str, size: int, folder: Path) -> tuple[Path, np.ndarray]:
    """``path`` resized so its longer side is ``size``, as RGB uint8 [H, W, 3] saved to a PNG in ``folder``."""
    pixels = resize_longer_side(read_image(path), size)
    if pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    pixels = (pixels[..., :3] * 255).round().astype(np.uint8)
    out = folder / f"{Path(path).parent.name}_{Path(path).stem}_{size}.png"
    write_png(out, pixels)
    return out, pixels


def ssim(prediction: np.ndarray, pixels: np.ndarray) -> float:
    """scikit-image's SSIM of a prediction [H, W, C] in [0, 1] (clipped) against uint8 pixels."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(np.clip(prediction, 0, 1).astype(np.float64), pixels / 255.0,
                                       channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False, data_range=1.0))


def official_row(model: str, pixels: np.ndarray, steps: list[int]) -> dict[int, dict[str, float]]:
    """The official loop's clipped PSNR, official (unclipped) PSNR, SSIM and s/step at each of ``steps``."""
    rows = {}
    for count, result in finer_reference.fit(model, pixels, steps).items():
        prediction = np.clip(result["prediction"], 0, 1)
        mse = float(np.mean((prediction - pixels / 255.0) ** 2))
        rows[count] = {"psnr": -10 * np.log10(mse), "psnr_official": result["psnr_official"],
                       "ssim": ssim(result["prediction"], pixels), "seconds_per_step": result["seconds_per_step"],
                       "parameters": result["parameters"]}
    return rows


class _Record(Callback):
    def __init__(self) -> None:
        self.values: dict[int, dict[str, float]] = {}

    def on_validation_end(self, trainer, pl_module) -> None:
        metrics = trainer.callback_metrics
        if not trainer.sanity_checking and "val/psnr" in metrics:
            self.values[trainer.global_step] = {"psnr": float(metrics["val/psnr"]), "ssim": float(metrics["val/ssim"])}


def inr_row(model: str, image: Path, steps: list[int], root: str) -> dict[int, dict[str, float]]:
    """inr's preset through ``inr fit`` (seed 3407), validated at each of ``steps``."""
    interval = int(np.gcd.reduce(steps))
    cli = build_cli(["--config", f"configs/zoo/{model}.yaml", "--data.path", str(image), "--data.size", "null",
                     "--seed_everything", "3407", "--trainer.max_steps", str(max(steps)),
                     "--trainer.val_check_interval", str(interval), "--trainer.logger", "false",
                     "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", root,
                     "--checkpoint.save_top_k", "0", "--checkpoint.save_last", "false"], run=False)
    record = _Record()
    cli.trainer.callbacks.append(record)
    start = time.perf_counter()
    cli.trainer.fit(cli.model, cli.datamodule)
    seconds = (time.perf_counter() - start) / max(steps)  # validations included
    parameters = real_parameters(cli.model)
    return {count: {**record.values[count], "seconds_per_step": seconds, "parameters": parameters}
            for count in steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", nargs="+", default=list(DEFAULT_IMAGES))
    parser.add_argument("--size", type=int, default=64, help="longer side in pixels")
    parser.add_argument("--steps", type=int, nargs="+", default=[300, 1000])
    parser.add_argument("--models", nargs="+", choices=PRESETS, default=list(PRESETS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    options = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for path in options.images:
            image, pixels = prepared_image(path, options.size, Path(folder))
            for model in options.models:
                for loop in (["official"] if model in OFFICIAL else []) + ["inr"]:
                    results = (official_row(model, pixels, options.steps) if loop == "official"
                               else inr_row(model, image, options.steps, folder))
                    for count, values in results.items():
                        row = {"image": path, "size": options.size, "model": model, "loop": loop, "steps": count,
                               **values}
                        rows.append(row)
                        print(row, flush=True)
    options.out.parent.mkdir(parents=True, exist_ok=True)
    with open(options.out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=sorted({key for row in rows for key in row}))
        writer.writeheader()
        writer.writerows(rows)
    print("\n| model | parameters | loop | " + " | ".join(f"PSNR / SSIM @ {s}" for s in options.steps) + " | s/step |")
    print("|---|---:|---|" + "---|" * len(options.steps) + "---:|")
    for model in options.models:
        for loop in ("official", "inr"):
            mine = [row for row in rows if row["model"] == model and row["loop"] == loop]
            if not mine:
                continue
            cells = []
            for count in options.steps:
                at = [row for row in mine if row["steps"] == count]
                cells.append(f"{np.mean([r['psnr'] for r in at]):.2f} / {np.mean([r['ssim'] for r in at]):.3f}")
            print(f"| {model} | {mine[0]['parameters']} | {loop} | " + " | ".join(cells)
                  + f" | {np.mean([r['seconds_per_step'] for r in mine]):.3f} |")


if __name__ == "__main__":
    main()
