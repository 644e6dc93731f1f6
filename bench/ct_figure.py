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

from bench.error_figure import clipped_psnr, reconstructions, save_error_figure
from datamodules.ct import CTDataModule

METHODS = {"none": "no mapping", "basic": "basic", "pe": "positional encoding", "gaussian": "Gaussian",
           "hash_grid": "hash grid"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", default=["runs/measurements"])
    parser.add_argument("--phantom", type=int, default=8)
    parser.add_argument("--baseline_steps", type=int, default=1000, help="the grid optimisation's steps")
    parser.add_argument("--out", default="docs/figures/ct_shepp.png")
    args = parser.parse_args()
    fits = reconstructions(args.runs, METHODS, args.phantom, "ct")
    size = next(iter(fits.values())).shape[0]
    data = CTDataModule(size=size, phantom_seed=args.phantom, baseline_steps=args.baseline_steps)
    truth = data.slice.numpy()
    computed = data.baselines()  # the grid optimisation runs its steps here, once
    baselines = {name: computed[key].reshape(size, size).numpy()
                 for key, name in (("fbp", "filtered back-projection"), ("grid", "grid optimisation"))}
    images = {"truth": (truth, None), **{name: (image, clipped_psnr(image, truth))
                                         for name, image in {**baselines, **fits}.items()}}
    save_error_figure(images, truth, 1.0, "|error| (0 to 0.25)",
                      f"Shepp-Logan phantom {args.phantom}, {size} x {size}, from {len(data.angles)} projections",
                      args.out)


if __name__ == "__main__":
    main()
