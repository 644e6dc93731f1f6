"""COIN (Dupont et al. 2021) as a plain PyTorch loop beside inr's float16 mode, same image, network and steps.

    OMP_NUM_THREADS=1 python -m bench.coin_reference --folder ../shared/data/ffn/div2k --images 4 --size 256

The plain loop: a SIREN of COIN's shape (sine layers x width, w0 = 30, a linear output) fitted to the RGB image at
full batch with Adam, its weights cast to float16, bpp = parameters x 16 / pixels (COIN's count: no header). inr:
``inr fit`` with the same network and optimiser, ``inr compress --mode float16``, ``inr decompress`` to PNG; its bpp
is the file's. Both PSNRs are of 8-bit decoded images against the same 8-bit reference (``inr experiment rd``'s).
Both start from the same weights (the same seed and initialisation), but a deep SIREN at lr 1e-3 amplifies the
last-bit differences of two implementations' arithmetic over thousands of steps, so one image's difference is noisy:
the table gives each image's and their mean per network.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch

from bench.reference import PlainSiren
from inr.cli import build_cli
from inr.commands.rd import quality, reference_images
from inr.commands.render import render_model
from inr.training.compression import Compression, compress_checkpoint, load_compressed


def plain_coin(reference: np.ndarray, layers: int, width: int, steps: int, lr: float) -> tuple[float, float, float]:
    """(PSNR dB, bpp, seconds) of the plain loop: fit, float16 weights, 8-bit output."""
    height, width_px, channels = reference.shape
    axis_y, axis_x = torch.linspace(-1, 1, height), torch.linspace(-1, 1, width_px)
    coords = torch.stack(torch.meshgrid(axis_y, axis_x, indexing="ij"), dim=-1).reshape(-1, 2)
    values = torch.from_numpy(reference.reshape(-1, channels).astype(np.float32) / 255 * 2 - 1)
    torch.manual_seed(0)
    model = PlainSiren(hidden_features=width, hidden_layers=layers - 1, out_features=channels)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    start = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        (model(coords) - values).square().mean().backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(parameter.half().float())
        decoded = ((model(coords).clamp(-1, 1) + 1) / 2 * 255).round().reshape(reference.shape).numpy()
    params = sum(parameter.numel() for parameter in model.parameters())
    return quality(decoded.astype(np.uint8), reference)[0], params * 16 / (height * width_px), seconds


def inr_coin(path: Path, layers: int, width: int, steps: int, lr: float) -> tuple[float, float, float]:
    """(PSNR dB, bpp of the file, seconds) of inr: fit, ``--mode float16``, decode to an 8-bit PNG."""
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        build_cli(["fit", "--config", "configs/image_siren.yaml", "--data.path", str(path), "--data.size", "null",
                   "--model.network.init_args.hidden", str(width), "--model.network.init_args.layers",
                   str(layers - 1), "--model.optimizer.init_args.lr", str(lr), "--trainer.max_steps", str(steps),
                   "--trainer.val_check_interval", str(steps), "--trainer.logger", "false",
                   "--trainer.enable_progress_bar", "false", "--checkpoint.save_top_k", "0",
                   "--trainer.default_root_dir", root])
        seconds = time.perf_counter() - start
        file = Path(root) / "coin.inrz"
        size, _ = compress_checkpoint(Path(root) / "checkpoints" / "last.ckpt", file, Compression("float16"))
        render_model(load_compressed(file), str(Path(root) / "decoded.png"))
        decoded = iio.imread(Path(root) / "decoded.png")
    reference = iio.imread(path)
    return quality(decoded, reference)[0], size * 8 / math.prod(reference.shape[:2]), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default="../shared/data/ffn/div2k")
    parser.add_argument("--images", type=int, default=1, help="the first this many images of the folder")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--shapes", nargs="+", default=["5x20", "5x30", "10x28"], help="COIN's layers x width")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--out", default="runs/bench_coin")
    args = parser.parse_args()
    references = reference_images(args.folder, args.size, args.images, Path(args.out))
    print("| network | image | plain PSNR dB | plain bpp (params x 16) | inr PSNR dB | inr bpp (file) | "
          "difference dB |\n|---|---|---|---|---|---|---|")
    for shape in args.shapes:
        layers, width = (int(part) for part in shape.split("x"))
        differences = []
        for reference_path in references:
            reference = iio.imread(reference_path)
            plain = plain_coin(reference, layers, width, args.steps, args.lr)
            mine = inr_coin(reference_path, layers, width, args.steps, args.lr)
            differences.append(mine[0] - plain[0])
            print(f"| {layers} x {width} | {reference_path.stem} | {plain[0]:.2f} | {plain[1]:.3f} | {mine[0]:.2f} | "
                  f"{mine[1]:.3f} | {differences[-1]:+.2f} |", flush=True)
        spread = float(np.std(differences))
        print(f"| {layers} x {width} | mean of {len(references)} | | | | | {np.mean(differences):+.2f} "
              f"(+- {spread:.2f}) |", flush=True)


if __name__ == "__main__":
    main()
