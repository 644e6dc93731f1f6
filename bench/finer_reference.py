"""The official FINER image-fitting loop in plain PyTorch (liuzhen0212/FINER ``train_image.py`` and ``models.py``).

Independent of inr on purpose (its own layers, grid and loop): ``bench/zoo.py`` compares inr's presets against it.
Models follow the official ``models.py``: SIREN, FINER (sin(w0 (|z| + 1) z), scale without gradient), Gauss
(exp(-(s z)^2)), WIRE (complex Gabor, width hidden / sqrt(2)) and PE-MLP (NeRF encoding with 10 frequencies, ReLU);
the loop is full batch, MSE on targets in [-1, 1] (in [0, 1] for PE-MLP: ``run_pemlp.sh`` passes
``--not_zero_mean``) over a ``linspace(-1, 1)`` (y, x) grid, Adam with ``LambdaLR(0.1 ** min(t / 5000, 1))``.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn

from bench.reference import SineLayer  # the official SIREN layer, shared with the SIREN notebook copy

#: the official schedule's horizon: lr * 0.1^(t / 5000).
SCHEDULE_STEPS = 5000


class FinerLayer(SineLayer):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.linear(x)
        with torch.no_grad():
            scale = torch.abs(z) + 1
        return torch.sin(self.omega_0 * scale * z)


class GaussLayer(nn.Module):
    def __init__(self, in_features: int, out_features: int, scale: float = 30.0) -> None:
        super().__init__()
        self.scale = scale
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(-(self.scale * self.linear(x)) ** 2)


class ComplexGaborLayer(nn.Module):
    def __init__(self, in_features: int, out_features: int, is_first: bool = False, omega0: float = 10.0,
                 sigma0: float = 40.0) -> None:
        super().__init__()
        self.omega_0 = nn.Parameter(omega0 * torch.ones(1), False)
        self.scale_0 = nn.Parameter(sigma0 * torch.ones(1), False)
        self.linear = nn.Linear(in_features, out_features, dtype=torch.float if is_first else torch.cfloat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lin = self.linear(x)
        return torch.exp(1j * self.omega_0 * lin - (self.scale_0 * lin).abs().square())


class OfficialPositionalEncoding(nn.Module):
    def __init__(self, in_channels: int, n_freqs: int) -> None:
        super().__init__()
        self.out_channels = in_channels * (2 * n_freqs + 1)
        self.freq_bands = 2 ** torch.linspace(0, n_freqs - 1, n_freqs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = [x]
        for freq in self.freq_bands:
            for func in (torch.sin, torch.cos):
                out += [func(freq * x)]
        return torch.cat(out, -1)


def _pemlp(hidden: int, layers: int, out: int, n_freqs: int = 10) -> nn.Module:
    encoding = OfficialPositionalEncoding(2, n_freqs)
    blocks = [encoding, nn.Linear(encoding.out_channels, hidden), nn.ReLU(True)]
    for _ in range(layers):
        blocks += [nn.Linear(hidden, hidden), nn.ReLU(True)]
    return nn.Sequential(*blocks, nn.Linear(hidden, out))


def _sine_net(layer: type, hidden: int, layers: int, out: int, first_omega: float, hidden_omega: float) -> nn.Module:
    blocks = [layer(2, hidden, is_first=True, omega_0=first_omega)]
    blocks += [layer(hidden, hidden, omega_0=hidden_omega) for _ in range(layers)]
    final = nn.Linear(hidden, out)
    with torch.no_grad():
        bound = math.sqrt(6 / hidden) / hidden_omega
        final.weight.uniform_(-bound, bound)
    return nn.Sequential(*blocks, final)


class _Real(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).real


def official_model(name: str, out: int = 3, hidden: int = 256, layers: int = 3) -> nn.Module:
    """The official model ``name`` (siren, finer, gauss, wire, pemlp) with the official scripts' settings."""
    if name == "siren":
        return _sine_net(SineLayer, hidden, layers, out, 30.0, 30.0)
    if name == "finer":
        return _sine_net(FinerLayer, hidden, layers, out, 30.0, 30.0)
    if name == "gauss":
        blocks = [GaussLayer(2, hidden)] + [GaussLayer(hidden, hidden) for _ in range(layers)]
        return nn.Sequential(*blocks, nn.Linear(hidden, out))
    if name == "wire":
        width = int(hidden / np.sqrt(2))
        blocks = [ComplexGaborLayer(2, width, is_first=True, omega0=20.0, sigma0=10.0)]
        blocks += [ComplexGaborLayer(width, width, omega0=20.0, sigma0=10.0) for _ in range(layers)]
        return _Real(nn.Sequential(*blocks, nn.Linear(width, out, dtype=torch.cfloat)))
    if name == "pemlp":
        return _pemlp(hidden, layers, out)
    raise ValueError(f"no official model {name!r}")


#: the official learning rates (run_*.sh).
OFFICIAL_LR = {"siren": 5e-4, "finer": 5e-4, "wire": 5e-3, "gauss": 5e-3, "pemlp": 1e-3}
#: the models whose script passes ``--not_zero_mean`` (targets in [0, 1]).
UNIT_TARGETS = {"pemlp"}


def image_tensors(pixels: np.ndarray, zero_mean: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Official ``get_train_data`` on uint8 pixels [H, W, C]: coords [H*W, 2] (y, x), targets [H*W, C] in [-1, 1]
    (``zero_mean``) or [0, 1]."""
    image = pixels.astype(np.float32) / 255.0
    if zero_mean:
        image = (image - 0.5) / 0.5
    height, width, channels = image.shape
    grid = torch.meshgrid(torch.linspace(-1, 1, height), torch.linspace(-1, 1, width), indexing="ij")
    return torch.stack(grid, dim=-1).view(-1, 2), torch.tensor(image).view(-1, channels)


def fit(name: str, pixels: np.ndarray, steps: list[int], seed: int = 3407) -> dict[int, dict]:
    """The official loop up to ``max(steps)``; at each of ``steps``: the prediction [H, W, C] in [0, 1] (unclipped),
    the official ``psnr_fn`` value (no clipping) and the mean seconds per step so far.
    """
    torch.manual_seed(seed)
    zero_mean = name not in UNIT_TARGETS
    coords, targets = image_tensors(pixels, zero_mean)
    model = official_model(name, out=targets.shape[1])
    optimizer = torch.optim.Adam(lr=OFFICIAL_LR[name], params=model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 0.1 ** min(t / SCHEDULE_STEPS, 1))
    parameters = sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters() if p.requires_grad)
    results, elapsed = {}, 0.0
    for step in range(1, max(steps) + 1):
        start = time.perf_counter()
        loss = ((model(coords) - targets) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        elapsed += time.perf_counter() - start
        if step in steps:
            with torch.no_grad():
                prediction = model(coords) / 2 + 0.5 if zero_mean else model(coords)
            mse = ((prediction - (targets / 2 + 0.5 if zero_mean else targets)) ** 2).mean()
            results[step] = {"prediction": prediction.reshape(pixels.shape).numpy(),
                             "psnr_official": float(-10 * torch.log10(mse)), "seconds_per_step": elapsed / step,
                             "parameters": parameters}
    return results
