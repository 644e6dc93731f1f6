"""The MRI picture of docs/measurements.md: truth, zero-filled inverse FFT and each mapping's fit, one phantom.

Reads the reconstructions ``inr experiment measurements --modality mri`` leaves in its fit folders
(``<runs>/<method>_<phantom>/reconstruction.npy``); the truth and the zero-filled baseline come from the same
phantom and k-space mask. Top row: the middle slice across the last axis (the head's cross-section: the notebook's
volume is the slab z in [-0.25, 0.25] of the 3D phantom); bottom row: its absolute error.

    python -m bench.mri_figure --runs runs/mri_table --phantom 10 --out docs/figures/mri_shepp.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from datamodules.mri import MRIDataModule  # noqa: E402
from inr.core.error_maps import psnr_db  # noqa: E402

METHODS = {"none": "no mapping", "basic": "basic", "pe": "positional encoding", "gaussian": "Gaussian"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs/mri_table")
    parser.add_argument("--phantom", type=int, default=10)
    parser.add_argument("--out", default="docs/figures/mri_shepp.png")
    args = parser.parse_args()
    fits = {title: np.load(path) for method, title in METHODS.items()
            if (path := Path(args.runs) / f"{method}_{args.phantom}" / "reconstruction.npy").exists()}
    if not fits:
        raise SystemExit(f"no reconstructions of phantom {args.phantom} under {args.runs}: run "
                         f"inr experiment measurements --modality mri --signals [{args.phantom}] --out {args.runs}")
    size = next(iter(fits.values())).shape[0]
    data = MRIDataModule(size=size, phantom_seed=args.phantom)
    truth = data.volume.numpy()
    panels = {"truth": truth, "zero-filled inverse FFT": data.baselines()["zero_filled"].reshape(truth.shape).numpy(),
              **fits}
    middle, brightest = size // 2, float(truth.max())
    figure, axes = plt.subplots(2, len(panels), figsize=(2.6 * len(panels), 5.4))
    for column, (title, volume) in enumerate(panels.items()):
        image = volume[:, :, middle].clip(0, 1)
        subtitle = "" if title == "truth" else f"\n{psnr_db(float(np.square(volume.clip(0, 1) - truth).mean())):.2f} dB"
        axes[0, column].imshow(image, cmap="gray", vmin=0, vmax=brightest)
        axes[0, column].set_title(title + subtitle, fontsize=9)
        axes[1, column].imshow(np.abs(image - truth[:, :, middle]), cmap="magma", vmin=0, vmax=0.25)
        for row in (0, 1):
            axes[row, column].axis("off")
    axes[1, 0].set_title("|error| of the middle slice (0 to 0.25)", fontsize=8, loc="left")
    figure.suptitle(f"3D Shepp-Logan phantom {args.phantom}, {size}^3, from {data.sampled_fraction:.1%} of k-space "
                    f"(middle slice)")
    figure.tight_layout()
    figure.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
