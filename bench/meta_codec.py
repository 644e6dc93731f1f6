"""What a learned initialisation buys a codec: the same SIREN fitted from SIREN's initialisation and from a
meta-learned one, both coded at 8 bits (the latter as differences from the init), at equal steps, on held-out images.

    OMP_NUM_THREADS=1 python -m bench.meta_codec --init init.ckpt --images 13 14 15 --steps 25 100 300 1000

``init.ckpt``: ``inr meta fit --config configs/meta/maml_siren_codec.yaml`` then ``inr meta export``; the images are
``--folder``'s files of those stems (those held out of the meta-training), centre-cropped and resized to ``--size``
as ``inr experiment rd`` prepares them. Prints, per step count, the mean over the images of each route's bpp (the
file's), PSNR (8-bit) and encoding seconds (fit + quantise + code), and their PSNR difference.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from inr.commands.compress import compress_fitted, fitted
from inr.commands.rd import quality, reference_images
from inr.commands.render import render_model
from inr.training.compression import Compression, load_compressed


def encode(image: Path, init: str, steps: int, learned: bool, lr: float, out: Path) -> tuple[float, float, float]:
    """(bpp, PSNR dB, encoding seconds) of ``image`` fitted ``steps`` steps with the init's network, from the init
    (``learned``) or from SIREN's initialisation, coded at 8 bits to ``out``."""
    start = time.perf_counter()
    how, coded_against = Compression("quantised", 8), init if learned else None
    with fitted(str(image), None, how, steps=steps, lr=lr, init=init, start_from_init=learned) as fit:
        cli, header, state, _ = fit
        result = compress_fitted(cli, header, state, str(out), how, coded_against)
    seconds = time.perf_counter() - start
    render_model(load_compressed(out, init=coded_against), str(out.with_suffix(".png")))
    psnr = quality(iio.imread(out.with_suffix(".png")), iio.imread(image))[0]
    return result["bpp"], psnr, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--init", required=True, help="the learned initialisation (inr meta export)")
    parser.add_argument("--folder", default="../shared/data/ffn/div2k")
    parser.add_argument("--images", nargs="+", default=["13", "14", "15"], help="file stems (held-out images)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, nargs="+", default=[25, 100, 300, 1000])
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--out", default="runs/bench_meta_codec")
    args = parser.parse_args()
    root = Path(args.out)
    images = [path for path in reference_images(args.folder, args.size, None, root) if path.stem in args.images]
    print("| steps | SIREN init: bpp / PSNR dB / s | learned init: bpp / PSNR dB / s | learned - SIREN dB |\n"
          "|---|---|---|---|", flush=True)
    for steps in args.steps:
        results = {learned: np.array([encode(image, args.init, steps, learned, args.lr,
                                             root / f"{image.stem}_{steps}_{'meta' if learned else 'siren'}.inrz")
                                      for image in images]).mean(axis=0)
                   for learned in (False, True)}
        plain, meta = results[False], results[True]
        print(f"| {steps} | {plain[0]:.3f} / {plain[1]:.2f} / {plain[2]:.1f} | {meta[0]:.3f} / {meta[1]:.2f} / "
              f"{meta[2]:.1f} | {meta[1] - plain[1]:+.2f} |", flush=True)


if __name__ == "__main__":
    main()
