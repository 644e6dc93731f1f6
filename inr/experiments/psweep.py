"""1D spectral-bias sweep (Tancik et al. 2020, Sec. 6.1 and their 1D notebook).

Band-limited Fourier features a_j = 1 / j^p, b_j = j, j = 1..16 (``inr.nn.encoders.BasicFourier``) for several p,
plus no mapping, followed by a ReLU MLP. For each p: the NTK cross-section and its spectrum (bandwidth shrinks as
p grows; drawn from the infinite-width kernel of the same encoder + MLP, as the paper's notebook does), and
train/test error of regressing a random 1/f power-law signal (cut at N/4) from 32 of 256 points by full-batch
gradient descent, next to the NTK's own prediction of that training (the seed-averaged empirical kernel, f_0 = 0,
at the same time). The learning rate comes from that kernel: lr = lr_scale x N_train / (2 lambda_max), the
stable rate of the linearised dynamics for the mean squared error.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor, nn

from inr.core import grids
from inr.core.devices import resolve_device, seeded
from inr.experiments.output import log_to_wandb, pyplot, write_csv
from inr.experiments.training import fit_full_batch, predict
from inr.nn.encoders import BasicFourier, Encoder, Identity
from inr.nn.networks import MLP
from inr.ntk import averaged_ntk, eigen, predict_dynamics, relu_ntk, spectrum

# Tancik et al.'s 1D experiment: frequencies j = 1..16, 256 grid points, every 8th one used for training.
BAND_LIMIT, GRID_POINTS, TRAIN_EVERY = 16, 256, 8
# Bias variance of the analytic kernel drawn for the cross-sections (without a bias, 1D raw inputs are degenerate).
ANALYTIC_BIAS_VAR = 0.1


def power_law_signal(points: int, seed: int, exponent: float = 1.0, cutoff: int | None = None) -> Tensor:
    """Random periodic signal with amplitude spectrum 1 / f^exponent up to ``cutoff`` (default N / 4): [N] in [0, 1].

    Random phases from a generator seeded by ``seed``; min-max normalised to [0, 1] as in the paper's notebook.
    """
    cutoff = points // 4 if cutoff is None else cutoff
    generator = torch.Generator().manual_seed(seed)
    freqs = torch.arange(points // 2 + 1, dtype=torch.float64)
    amplitude = torch.where((freqs >= 1) & (freqs <= cutoff), freqs.clamp_min(1).pow(-exponent), 0.0)
    phase = 2 * math.pi * torch.rand(points // 2 + 1, generator=generator, dtype=torch.float64)
    signal = torch.fft.irfft(amplitude * torch.exp(1j * phase), n=points)
    return ((signal - signal.min()) / (signal.max() - signal.min())).float()


def encoder_for(p: float | None) -> Encoder:
    """``None``: no mapping; otherwise BasicFourier(1, 16, p)."""
    return Identity(1) if p is None else BasicFourier(1, band_limit=BAND_LIMIT, p=p)


def label(p: float | None) -> str:
    """Legend label of a sweep entry."""
    return "no mapping" if p is None else f"p = {p:g}"


def run_psweep(
    ps: list[float | None] | None = None,
    width: int = 256,
    depth: int = 4,
    steps: int = 1000,
    lr_scale: float = 1.0,
    signals: int = 3,
    ntk_seeds: int = 2,
    out: str = "runs/experiments/psweep",
    wandb: bool = True,
    device: str | None = None,
) -> dict[str, Path]:
    """Run the 1D p-sweep and write ``psweep.png``, ``psweep_errors.csv`` and ``psweep_spectra.csv``.

    Args:
        ps: amplitude exponents; ``None`` = no mapping (default: none, 0, 0.5, 1, 1.5, 2, inf).
        width: MLP hidden width (the paper's notebook uses 1024).
        depth: number of ReLU layers (the paper's notebook uses 4).
        steps: full-batch gradient-descent steps.
        lr_scale: learning rate as a fraction of the linearised dynamics' stable rate.
        signals: number of random power-law signals (seeds 0..signals-1) the errors are averaged over.
        ntk_seeds: network initialisations the NTK is averaged over (training uses the first one).
        out: output folder.
        wandb: also log the picture and tables to a W&B run (offline unless asked otherwise).
        device: where kernels and fits run (``cpu``, ``cuda``, ...); default ``cuda`` when a GPU is visible.

    Returns:
        The written files by key.
    """
    ps = [None, 0.0, 0.5, 1.0, 1.5, 2.0, math.inf] if ps is None else ps
    place = resolve_device(device)
    folder = Path(out)
    x = grids.grid((GRID_POINTS,), periodic=True)  # x = 2u - 1, u = i / N
    train = torch.arange(0, GRID_POINTS, TRAIN_EVERY)
    test = torch.tensor([i for i in range(GRID_POINTS) if i % TRAIN_EVERY])
    targets = [power_law_signal(GRID_POINTS, seed) for seed in range(signals)]
    error_rows, spectrum_rows, curves = [], [], {}
    on_device = x.to(place)
    for p in ps:

        def factory(seed: int, p: float | None = p) -> nn.Module:
            encoder = encoder_for(p)
            return nn.Sequential(encoder, MLP(encoder.out_dim, 1, hidden=width, layers=depth - 1))

        # K(all, train) [N, 32]
        kernel = averaged_ntk(factory, on_device, on_device[train], seeds=ntk_seeds, batch_size=64).cpu()
        with torch.no_grad():  # the paper's curves: the infinite-width kernel of the same encoder + MLP (He init)
            features = encoder_for(p)(x).double()
        analytic = relu_ntk(features, features[GRID_POINTS // 2 : GRID_POINTS // 2 + 1], hidden_layers=depth,
                            weight_var=2.0, bias_var=ANALYTIC_BIAS_VAR)[:, 0]
        section = analytic / analytic[GRID_POINTS // 2]  # K(x, 0) / K(0, 0), x = 0 at index N / 2
        magnitude = spectrum(section)
        curves[label(p)] = (section, magnitude)
        k_train, k_test = kernel[train].double(), kernel[test].double()
        lam_max = eigen(k_train)[0][0].item()
        lr = lr_scale * len(train) / (2 * lam_max)
        for seed, y in enumerate(targets):
            with seeded(0):
                model = factory(0).to(place)
            fit_full_batch(model, on_device[train], y[train, None].to(place), steps,
                           lambda params, lr=lr: torch.optim.SGD(params, lr=lr))
            output = predict(model, on_device)[:, 0].cpu()
            eta = 2 * lr / len(train)
            _, ntk_test = predict_dynamics(k_train, y[train].double(), torch.tensor([float(steps)]), eta, k_test=k_test)
            error_rows.append({
                "mapping": label(p), "p": "" if p is None else p, "signal_seed": seed, "lr": lr,
                "train_mse": (output[train] - y[train]).pow(2).mean().item(),
                "test_mse": (output[test] - y[test]).pow(2).mean().item(),
                "ntk_test_mse": (ntk_test[0].float() - y[test]).pow(2).mean().item(),
            })
        for frequency, value in enumerate(magnitude.tolist()):
            spectrum_rows.append({"mapping": label(p), "frequency": frequency, "magnitude": value})
    files = {
        "errors": write_csv(folder / "psweep_errors.csv", error_rows),
        "spectra": write_csv(folder / "psweep_spectra.csv", spectrum_rows),
    }
    files["picture"] = _plot(folder / "psweep.png", curves, error_rows)
    if wandb:
        log_to_wandb(folder, "psweep", files)
    return files


def _plot(path: Path, curves: dict[str, tuple[Tensor, Tensor]], rows: list[dict]) -> Path:
    """Cross-sections, spectra and train/test error against p, side by side."""
    plt = pyplot()
    figure, axes = plt.subplots(1, 3, figsize=(15, 4))
    offsets = (torch.arange(GRID_POINTS) - GRID_POINTS // 2) / GRID_POINTS
    for name, (section, magnitude) in curves.items():
        axes[0].plot(offsets, section, label=name)
        axes[1].semilogy(magnitude.clamp_min(1e-6), label=name)
    axes[0].set(title="NTK cross-section (infinite width)", xlabel="u - u'", xlim=(-0.25, 0.25))
    axes[1].set(title="NTK spectrum (|FFT|, normalised)", xlabel="frequency (cycles)", ylim=(1e-5, 1.5))
    axes[0].legend(fontsize=7)
    names = list(curves)
    for key, style in (("train_mse", "o-"), ("test_mse", "s-"), ("ntk_test_mse", "x--")):
        means = [sum(r[key] for r in rows if r["mapping"] == n) / sum(r["mapping"] == n for r in rows) for n in names]
        axes[2].semilogy(range(len(names)), means, style, label=key.replace("_", " "))
    axes[2].set_xticks(range(len(names)), names, rotation=30, fontsize=7)
    axes[2].set(title="regression from 32 of 256 points", ylabel="MSE")
    axes[2].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
