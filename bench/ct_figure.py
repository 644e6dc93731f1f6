"""The CT picture of docs/measurements.md: truth, the classical baselines and inr's fits, one phantom.

Reads the reconstructions ``inr experiment measurements --modality ct`` leaves in its fit folders
(``<runs>/<method>_<phantom>/reconstruction.npy``, from one or more ``--runs`` folders); filtered back-projection
and the grid optimisation are computed from the same 20 projections. Top row: the slices; bottom row: the absolute
error.

    python -m bench.ct_figure --runs runs/ct_report_pe runs/ct_report_gaussian --phantom 8 \
        --out docs/figures/ct_shepp.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from datamodules.ct import CTDataModule  # noqa: E402
from inr.core.error_maps import psnr_db  # noqa: E402

METHODS = {"none": "no mapping", "basic": "basic", "pe": "positional encoding", "gaussian": "Gaussian",
           "hash_grid": "hash grid"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", default=["runs/measurements"])
    parser.add_argument("--phantom", type=int, default=8)
    parser.add_argument("--baseline_steps", type=int, default=1000, help="the grid optimisation's steps")
    parser.add_argument("--out", default="docs/figures/ct_shepp.png")
    args = parser.parse_args()
    fits = {title: np.load(path) for method, title in METHODS.items() for runs in args.runs
            if (path := Path(runs) / f"{method}_{args.phantom}" / "reconstruction.npy").exists()}
    if not fits:
        raise SystemExit(f"no reconstructions of phantom {args.phantom} under {' '.join(args.runs)}: run "
                         f"inr experiment measurements --modality ct --signals [{args.phantom}] --out FOLDER")
    size = next(iter(fits.values())).shape[0]
    data = CTDataModule(size=size, phantom_seed=args.phantom, baseline_steps=args.baseline_steps)
    truth = data.slice.numpy()
    baselines = {name: data.baselines()[key].reshape(size, size).numpy()
                 for key, name in (("fbp", "filtered back-projection"), ("grid", "grid optimisation"))}
    panels = {"truth": truth, **baselines, **fits}
    figure, axes = plt.subplots(2, len(panels), figsize=(2.6 * len(panels), 5.4))
    for column, (title, image) in enumerate(panels.items()):
        image = image.clip(0, 1)
        subtitle = "" if title == "truth" else f"\n{psnr_db(float(np.square(image - truth).mean())):.2f} dB"
        axes[0, column].imshow(image, cmap="gray", vmin=0, vmax=1)
        axes[0, column].set_title(title + subtitle, fontsize=9)
        axes[1, column].imshow(np.abs(image - truth), cmap="magma", vmin=0, vmax=0.25)
        for row in (0, 1):
            axes[row, column].axis("off")
    axes[1, 0].set_title("|error| (0 to 0.25)", fontsize=8, loc="left")
    figure.suptitle(f"Shepp-Logan phantom {args.phantom}, {size} x {size}, from {len(data.angles)} projections")
    figure.tight_layout()
    figure.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
