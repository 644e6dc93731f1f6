"""The CT picture of docs/measurements.md: truth, FBP, grid optimisation and inr from the same 20 projections.

    python -m bench.ct_figure --phantom 8 --size 128 --steps 1000 --out docs/figures/ct_shepp.png
"""

from __future__ import annotations

import argparse
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from inr.cli import build_cli  # noqa: E402
from inr.core import grids  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phantom", type=int, default=8)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--config", default="configs/ct/shepp_gaussian.yaml")
    parser.add_argument("--out", default="docs/figures/ct_shepp.png")
    args = parser.parse_args()
    cli = build_cli(["fit", "--config", args.config, "--data.phantom_seed", str(args.phantom), "--data.size",
                     str(args.size), "--data.baseline_steps", str(args.steps), "--trainer.max_steps", str(args.steps),
                     "--trainer.val_check_interval", str(args.steps), "--trainer.logger", "false",
                     "--trainer.enable_progress_bar", "false", "--checkpoint.save_top_k", "0",
                     "--checkpoint.save_last", "false", "--trainer.default_root_dir", "runs/ct_figure"])
    data, size = cli.datamodule, args.size
    with torch.no_grad():
        fit = cli.model.predict_values(grids.grid((size, size))).clamp(0, 1).reshape(size, size).cpu()
    baselines = data.baselines()
    panels = {"truth": data.slice, "filtered back-projection": baselines["fbp"].reshape(size, size).clamp(0, 1),
              "grid optimisation": baselines["grid"].reshape(size, size), "inr (Gaussian features)": fit}
    figure, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.5))
    for axis, (title, image) in zip(axes, panels.items()):
        psnr = "" if title == "truth" else f"\n{-10 * math.log10(float((image - data.slice).square().mean())):.2f} dB"
        axis.imshow(image.numpy(), cmap="gray", vmin=0, vmax=1)
        axis.set_title(title + psnr, fontsize=10)
        axis.axis("off")
    figure.suptitle(f"Shepp-Logan phantom {args.phantom}, {size} x {size}, from {len(data.angles)} projections")
    figure.tight_layout()
    figure.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
