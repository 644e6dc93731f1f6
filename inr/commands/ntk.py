"""``inr ntk``: the NTK report of any encoder + network, from a config or the command line.

``inr ntk --config configs/ntk/relu_gaussian.yaml`` builds ``network(encoder(in_dim).out_dim, 1)`` as the
config says (``class_path`` / ``init_args``, as ``inr fit``'s model), computes the empirical NTK on a uniform grid
of [-1, 1) averaged over seeds, and writes the Gram matrix, its 1D cross-section and spectrum (1D grids), the
eigenvalues, as ``ntk.png`` + ``ntk.csv`` + ``ntk_eigenvalues.csv``, logged to an offline W&B run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from torch import nn

from inr.core import grids
from inr.core.devices import resolve_device
from inr.core.errors import InputError
from inr.experiments.output import log_to_wandb, pyplot, write_csv
from inr.nn.encoders import Encoder, Identity
from inr.nn.networks import MLP
from inr.ntk import averaged_ntk, cross_section, eigen, spectrum, stationary_profile


def run_ntk(
    encoder: Callable[[int], Encoder] = Identity,
    network: Callable[[int, int], nn.Module] = MLP,
    in_dim: int = 1,
    out_dim: int = 1,
    points: int = 256,
    seeds: int = 4,
    batch_size: int = 256,
    normalize: bool = True,
    name: str = "ntk",
    out: str = "runs/ntk",
    wandb: bool = True,
    device: str | None = None,
) -> dict[str, Path]:
    """Compute and write the NTK report.

    Args:
        encoder: builds the encoder from ``in_dim`` (class_path + init_args in YAML).
        network: builds the network from (encoder out_dim, ``out_dim``).
        in_dim: coordinate dimension (1: a line, 2: a square grid).
        out_dim: output channels (the kernel is the mean over channels).
        points: grid points per axis (in_dim = 2: points^2 points in all).
        seeds: initialisations averaged (seeds 0..seeds-1).
        batch_size: points per Jacobian block (memory ~ 2 x batch_size x out_dim x parameters floats).
        normalize: per-point gradient normalisation, K(x, x) = 1.
        name: file and run name prefix.
        out: output folder.
        wandb: also log the picture and tables to a W&B run.
        device: where the kernel is computed (``cpu``, ``cuda``, ``cuda:1``); default ``cuda`` when a GPU is
            visible. The weights are drawn on the CPU, so a seed gives the same network on every device.

    Returns:
        The written files by key.
    """
    place = resolve_device(device)
    if in_dim not in (1, 2):
        raise InputError(f"inr ntk: in_dim must be 1 or 2 (a grid it can draw), got {in_dim}")
    if points < 2:
        raise InputError(f"inr ntk: points must be >= 2, got {points}")
    coords = grids.grid((points,) * in_dim, periodic=True)  # one period: the spectra's FFTs need it

    def factory(seed: int) -> nn.Module:
        enc = encoder(in_dim)
        return nn.Sequential(enc, network(enc.out_dim, out_dim))

    parameters = sum(p.numel() for p in factory(0).parameters())
    start = time.perf_counter()
    kernel = averaged_ntk(factory, coords.to(place), seeds=seeds, batch_size=batch_size, normalize=normalize,
                          progress=True).cpu()
    elapsed = time.perf_counter() - start
    values, _ = eigen(kernel.double())
    folder = Path(out)
    files = {"eigenvalues": write_csv(folder / f"{name}_eigenvalues.csv",
                                      [{"index": i, "eigenvalue": v} for i, v in enumerate(values.tolist())])}
    plt = pyplot()
    if in_dim == 1:
        section, profile = cross_section(kernel), stationary_profile(kernel)
        magnitude = spectrum(profile)
        rows = [{"offset": (k - points // 2) / points, "cross_section": float(section[k]),
                 "stationary_profile": float(profile.roll(points // 2)[k])} for k in range(points)]
        files["kernel"] = write_csv(folder / f"{name}.csv", rows)
        files["spectrum"] = write_csv(folder / f"{name}_spectrum.csv",
                                      [{"frequency": k, "magnitude": float(m)} for k, m in enumerate(magnitude)])
        figure, axes = plt.subplots(1, 4, figsize=(18, 4))
        axes[0].imshow(kernel, cmap="viridis", extent=(-1, 1, 1, -1))
        axes[0].set_title("K(x, x')")
        offsets = [row["offset"] for row in rows]
        axes[1].plot(offsets, section, label="through x = 0")
        axes[1].plot(offsets, [row["stationary_profile"] for row in rows], "--", label="mean over x")
        axes[1].set(title="cross-section", xlabel="u - u'")
        axes[1].legend(fontsize=8)
        axes[2].semilogy(magnitude.clamp_min(1e-8))
        axes[2].set(title="spectrum of the mean profile", xlabel="frequency (cycles)")
    else:
        center = (points // 2) * points + points // 2
        image = kernel[center].reshape(points, points)
        files["kernel"] = write_csv(folder / f"{name}.csv", [
            {"x": float(coords[i, 0]), "y": float(coords[i, 1]), "k_center": float(image.reshape(-1)[i])}
            for i in range(len(coords))
        ])
        figure, axes = plt.subplots(1, 2, figsize=(9, 4))
        axes[0].imshow(image, cmap="viridis", extent=(-1, 1, 1, -1))
        axes[0].set_title("K(x, 0)")
    axes[-1].semilogy(values.clamp_min(1e-12))
    axes[-1].set(title="eigenvalues", xlabel="index")
    figure.suptitle(f"{name}: {parameters} parameters, {seeds} seeds, {len(coords)} points, {elapsed:.1f} s")
    figure.tight_layout()
    files["picture"] = folder / f"{name}.png"
    figure.savefig(files["picture"], dpi=100)
    plt.close(figure)
    print(f"inr ntk: {len(coords)} points, {parameters} parameters, {seeds} seeds in {elapsed:.1f} s on {place}; wrote "
          + ", ".join(str(path) for path in files.values()))
    if wandb:
        log_to_wandb(folder, name, files, {"seconds": elapsed, "parameters": float(parameters)})
    return files


def main(argv: list[str] | None = None) -> None:
    """Parse ``inr ntk`` options (``--config FILE`` and/or ``--option value``) and run."""
    from inr.experiments.cli import run_function

    run_function(run_ntk, "inr ntk", argv)
