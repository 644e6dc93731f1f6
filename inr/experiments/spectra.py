"""NTK spectra of the networks of inr side by side: ReLU MLP, SIREN, Fourier features and the zoo.

On a periodic 1D grid, each network's NTK (per-point normalised, averaged over seeds) is reduced to its stationary
profile (mean over circular diagonals) and the FFT magnitude of that profile: the slower the spectrum falls, the
higher the frequencies gradient descent learns quickly (Tancik et al. 2020, Fig. 3; Sitzmann et al. 2020).
Every network has ``depth`` hidden layers of ``width`` (WIRE: complex width / sqrt 2) with its preset's constants
(``configs/zoo/``), on the raw coordinate unless its name says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from inr.core import grids
from inr.core.devices import resolve_device
from inr.core.errors import InputError
from inr.experiments.output import log_to_wandb, pyplot, write_csv
from inr.nn.encoders import Encoder, GaussianFourier, Identity, NerfPositionalEncoding
from inr.nn.hash_grid import HashGrid
from inr.nn.multiplicative_filters import FourierNet, GaborNet
from inr.nn.networks import MLP, Siren
from inr.nn.zoo import Finer, Gauss, Sinc, Wire
from inr.ntk import averaged_ntk, spectrum, stationary_profile

#: ``(width, depth, sigma, mapping_size, seed) -> (encoder, network builder)`` of every network compared, by name.
Builder = Callable[[int, int, float, int, int], tuple[Encoder, Callable[[int], nn.Module]]]


def _on_raw_coordinates(network: type) -> Builder:
    """A network of ``width`` and ``depth`` layers (``depth - 1`` hidden-to-hidden) on the raw coordinate."""
    return lambda width, depth, sigma, size, seed: (
        Identity(1), lambda n: network(n, 1, hidden=width, layers=depth - 1))


NETWORKS: dict[str, Builder] = {
    "relu": _on_raw_coordinates(MLP),
    "siren": _on_raw_coordinates(Siren),
    "gaussian_ff": lambda width, depth, sigma, size, seed: (
        GaussianFourier(1, size, sigma=sigma, seed=seed), lambda n: MLP(n, 1, hidden=width, layers=depth - 1)),
    "pemlp": lambda width, depth, sigma, size, seed: (
        NerfPositionalEncoding(1, num_frequencies=10), lambda n: MLP(n, 1, hidden=width, layers=depth - 1)),
    "finer": _on_raw_coordinates(Finer),
    "wire": _on_raw_coordinates(Wire),
    "gauss": _on_raw_coordinates(Gauss),
    "sinc": _on_raw_coordinates(Sinc),
    "fourier_net": _on_raw_coordinates(FourierNet),
    "gabor_net": _on_raw_coordinates(GaborNet),
    # the preset's grid and its small MLP (2 hidden layers of 64), whatever width and depth
    "hash_grid": lambda width, depth, sigma, size, seed: (
        HashGrid(1, max_resolution=512, seed=seed), lambda n: MLP(n, 1, hidden=64, layers=1)),
}
#: legend names.
LABELS = {"relu": "ReLU MLP", "siren": "SIREN", "gaussian_ff": "Gaussian FF + ReLU MLP", "pemlp": "PE-MLP",
          "finer": "FINER", "wire": "WIRE", "gauss": "Gauss", "sinc": "sinc",
          "fourier_net": "FourierNet (MFN)", "gabor_net": "GaborNet (MFN)", "hash_grid": "hash grid + ReLU MLP"}


def models(width: int, depth: int, sigma: float, mapping_size: int, names: list[str]) -> dict[str, Callable]:
    """Factories ``seed -> model`` of the named networks (:data:`NETWORKS`), by legend name."""
    unknown = [name for name in names if name not in NETWORKS]
    if unknown or not names:
        raise InputError(f"spectra networks must be a non-empty list of {sorted(NETWORKS)}, got {names}")

    def factory(name: str) -> Callable[[int], nn.Module]:
        def build(seed: int) -> nn.Module:
            encoder, network = NETWORKS[name](width, depth, sigma, mapping_size, seed)
            return nn.Sequential(encoder, network(encoder.out_dim))
        return build

    label = {**LABELS, "gaussian_ff": f"Gaussian FF (sigma={sigma:g}) + ReLU MLP"}
    return {label[name]: factory(name) for name in names}


def run_spectra(
    points: int = 256,
    width: int = 256,
    depth: int = 4,
    sigma: float = 10.0,
    mapping_size: int = 256,
    seeds: int = 2,
    networks: list[str] | None = None,
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
        networks: names from :data:`NETWORKS`; default all of them.
        out: output folder.
        wandb: also log the picture and table to a W&B run.
        device: where the kernels are computed (``cpu``, ``cuda``, ...); default ``cuda`` when a GPU is visible.

    Returns:
        The written files by key.
    """
    x = grids.grid((points,), periodic=True).to(resolve_device(device))
    folder = Path(out)
    profiles, spectra = {}, {}
    chosen = list(NETWORKS) if networks is None else list(networks)
    for name, factory in models(width, depth, sigma, mapping_size, chosen).items():
        kernel = averaged_ntk(factory, x, seeds=seeds, normalize=True).cpu()
        profiles[name] = stationary_profile(kernel)
        spectra[name] = spectrum(profiles[name])
    rows = [
        {"frequency": k, **{name: float(values[k]) for name, values in spectra.items()}}
        for k in range(points // 2 + 1)
    ]
    files = {"spectra": write_csv(folder / "spectra.csv", rows)}
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(14, 4.5))
    offsets = (torch.arange(points) - points // 2) / points
    colours = plt.get_cmap("tab20").colors
    for index, name in enumerate(profiles):
        style = {"color": colours[index % len(colours)], "linestyle": ("-", "--", ":")[index % 3], "label": name}
        axes[0].plot(offsets, torch.roll(profiles[name], points // 2), **style)
        axes[1].semilogy(spectra[name].clamp_min(1e-8), **style)
    axes[0].set(title="normalised NTK, mean over x: K(x, x + d)", xlabel="d (unit domain)")
    axes[1].set(title="spectrum |FFT| (normalised)", xlabel="frequency (cycles over the range)")
    axes[1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    figure.tight_layout()
    figure.savefig(folder / "spectra.png", dpi=110)
    plt.close(figure)
    files["picture"] = folder / "spectra.png"
    if wandb:
        log_to_wandb(folder, "spectra", files)
    return files
