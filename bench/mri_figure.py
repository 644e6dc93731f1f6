"""The MRI picture of docs/measurements.md: truth, zero-filled inverse FFT and each mapping's fit, one phantom.

Reads the reconstructions ``inr experiment measurements --modality mri`` leaves in its fit folders
(``<runs>/<method>_<phantom>/reconstruction.npy``); the truth and the zero-filled baseline come from the same
phantom and k-space mask. Top row: the middle slice across the last axis (the head's cross-section: the notebook's
volume is the slab z in [-0.25, 0.25] of the 3D phantom); bottom row: its absolute error.

    python -m bench.mri_figure --runs runs/mri_table --phantom 10 --out docs/figures/mri_shepp.png
"""

from __future__ import annotations

import argparse

from bench.error_figure import clipped_psnr, reconstructions, save_error_figure
from datamodules.mri import MRIDataModule

METHODS = {"none": "no mapping", "basic": "basic", "pe": "positional encoding", "gaussian": "Gaussian"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs/mri_table")
    parser.add_argument("--phantom", type=int, default=10)
    parser.add_argument("--out", default="docs/figures/mri_shepp.png")
    args = parser.parse_args()
    fits = reconstructions([args.runs], METHODS, args.phantom, "mri")
    size = next(iter(fits.values())).shape[0]
    data = MRIDataModule(size=size, phantom_seed=args.phantom)
    truth = data.volume.numpy()
    volumes = {"zero-filled inverse FFT": data.baselines()["zero_filled"].reshape(truth.shape).numpy(), **fits}
    middle = size // 2  # PSNR over the whole volume, pictures of its middle slice
    images = {"truth": (truth[:, :, middle], None),
              **{name: (volume[:, :, middle], clipped_psnr(volume, truth)) for name, volume in volumes.items()}}
    save_error_figure(images, truth[:, :, middle], float(truth.max()), "|error| of the middle slice (0 to 0.25)",
                      f"3D Shepp-Logan phantom {args.phantom}, {size}^3, from {data.sampled_fraction:.1%} of k-space "
                      f"(middle slice)", args.out)


if __name__ == "__main__":
    main()
