"""NTK spectra of a ReLU MLP, SIREN and a ReLU MLP on Gaussian Fourier features, side by side.

On a periodic 1D grid, each network's NTK (per-point normalised, averaged over seeds) is reduced to its stationary
profile (mean over circular diagonals) and the FFT magnitude of that profile: the slower the spectrum falls, the
higher the frequencies gradient descent learns quickly (Tancik et al. 2020, Fig. 3; Sitzmann et al. 2020).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from inr import grids
from inr.devices import resolve_device
from inr.encoders import GaussianFourier, Identity
from inr.experiments.output import log_to_wandb, pyplot, write_csv
from inr.networks import MLP, Siren
from inr.ntk import averaged_ntk, spectrum, stationary_profile


def models(width: int, depth: int, sigma: float, mapping_size: int) -> dict[str, callable]:
    """Factories ``seed -> model`` of the three networks compared, all with ``depth`` hidden layers."""
    return {
        "ReLU MLP": lambda seed: nn.Sequential(Identity(1), MLP(1, 1, hidden=width, layers=depth - 1)),
        "SIREN": lambda seed: nn.Sequential(Identity(1), Siren(1, 1, hidden=width, layers=depth - 1)),
        f"Gaussian FF (sigma={sigma:g}) + ReLU MLP": lambda seed: nn.Sequential(
            encoder := GaussianFourier(1, mapping_size, sigma=sigma, seed=seed),
            MLP(encoder.out_dim, 1, hidden=width, layers=depth - 1),
        ),
    }


def run_spectra(
    points: int = 256,
    width: int = 256,
    depth: int = 4,
    sigma: float = 10.0,
    mapping_size: int = 256,
    seeds: int = 2,
    out: str = "runs/experiments/spectra",
    wandb: bool = True,
    device: str | None = None,
) -> dict[str, Path]:
    """Write ``spectra.png`` (profiles and spectra) and ``spectra.csv`` (frequency, magnitude per network).

    Args:
        points: grid points on [-1, 1) (x = 2u - 1, u = i / points).
        width: hidden width of every network.
        depth: hidden layers of every network.
        sigma: Gaussian Fourier feature scale (cycles over the range).
        mapping_size: Gaussian Fourier features.
        seeds: initialisations (and Gaussian B draws) averaged.
        out: output folder.
        wandb: also log the picture and table to a W&B run.
        device: where the kernels are computed (``cpu``, ``cuda``, ...); default ``cuda`` when a GPU is visible.

    Returns:
        The written files by key.
    """
    x = grids.grid((points,), periodic=True).to(resolve_device(device))
    folder = Path(out)
    profiles, spectra = {}, {}
    for name, factory in models(width, depth, sigma, mapping_size).items():
        kernel = averaged_ntk(factory, x, seeds=seeds, normalize=True).cpu()
        profiles[name] = stationary_profile(kernel)
        spectra[name] = spectrum(profiles[name])
    rows = [
        {"frequency": k, **{name: float(values[k]) for name, values in spectra.items()}}
        for k in range(points // 2 + 1)
    ]
    files = {"spectra": write_csv(folder / "spectra.csv", rows)}
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    offsets = (torch.arange(points) - points // 2) / points
    for name in profiles:
        axes[0].plot(offsets, torch.roll(profiles[name], points // 2), label=name)
        axes[1].semilogy(spectra[name].clamp_min(1e-8), label=name)
    axes[0].set(title="normalised NTK, mean over x: K(x, x + d)", xlabel="d (unit domain)")
    axes[1].set(title="spectrum |FFT| (normalised)", xlabel="frequency (cycles over the range)")
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(folder / "spectra.png", dpi=110)
    plt.close(figure)
    files["picture"] = folder / "spectra.png"
    if wandb:
        log_to_wandb(folder, "spectra", files)
    return files
