"""How a volume's detail splits between its axes: the energy-weighted mean frequency along each axis, MRI's signals.

Positional encoding puts its frequencies on the axes, the Gaussian mapping in random 3D directions; a volume whose
detail lies in one plane (the notebook's 3D Shepp-Logan slab is nearly constant along its last axis) suits the
first. Prints, for each signal (a phantom seed or a ``.npy``/NIfTI volume), mean |k| along x, y, z in cycles per side.

    BRAIN="$(python -c 'import nibabel.testing as t; print(t.data_path)')/anatomical.nii"  # nibabel's test volume
    python -m bench.axis_spectra --signals 8 9 10 11 "$BRAIN"
"""

from __future__ import annotations

import argparse

import numpy as np

from datamodules.mri import MRIDataModule
from inr.commands.measurements import is_phantom_seed, signal_name


def axis_mean_frequencies(volume: np.ndarray) -> list[float]:
    """Per axis of ``volume`` [n, n, n]: the mean |k| (cycles per side) of its spectrum's energy, the mean removed."""
    power = np.abs(np.fft.fftn(volume - volume.mean())) ** 2
    means = []
    for axis in range(3):
        profile = power.sum(axis=tuple(other for other in range(3) if other != axis))
        frequencies = np.abs(np.fft.fftfreq(volume.shape[axis], d=1 / volume.shape[axis]))
        means.append(float((frequencies * profile).sum() / profile.sum()))
    return means


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", nargs="+", default=["8", "9", "10", "11"])
    parser.add_argument("--size", type=int, default=32)
    args = parser.parse_args()
    print("| signal | mean abs k along x | y | z |\n|---|---|---|---|")
    for signal in args.signals:
        source = {"phantom_seed": int(signal)} if is_phantom_seed("mri", signal) else {"path": signal}
        volume = MRIDataModule(size=args.size, **source).volume.numpy()
        means = " | ".join(f"{value:.2f}" for value in axis_mean_frequencies(volume))
        print(f"| {signal_name('mri', signal)} | {means} |")


if __name__ == "__main__":
    main()
