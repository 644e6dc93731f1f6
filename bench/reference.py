"""A faithful plain-PyTorch copy of the official SIREN image-fitting notebook (Sitzmann et al. 2020).

Independent of inr on purpose (its own SineLayer, PIL resize, grid): the benchmarks compare inr against it.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn


class SineLayer(nn.Module):
    def __init__(self, in_features, out_features, is_first=False, omega_0=30.0):
        super().__init__()
        self.omega_0, self.is_first = omega_0, is_first
        self.linear = nn.Linear(in_features, out_features)
        with torch.no_grad():
            bound = 1 / in_features if is_first else math.sqrt(6 / in_features) / omega_0
            self.linear.weight.uniform_(-bound, bound)

    def forward(self, x):
        return torch.sin(self.omega_0 * self.linear(x))


class PlainSiren(nn.Module):
    def __init__(self, in_features=2, hidden_features=256, hidden_layers=3, out_features=1):
        super().__init__()
        layers = [SineLayer(in_features, hidden_features, is_first=True)]
        layers += [SineLayer(hidden_features, hidden_features) for _ in range(hidden_layers)]
        final = nn.Linear(hidden_features, out_features)
        with torch.no_grad():
            bound = math.sqrt(6 / hidden_features) / 30.0
            final.weight.uniform_(-bound, bound)
        self.net = nn.Sequential(*layers, final)

    def forward(self, coords):
        return self.net(coords)


def cameraman_tensors(sidelength: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """The notebook's data: PIL bilinear resize, Normalize(0.5, 0.5), mgrid on linspace(-1, 1)."""
    from PIL import Image
    from skimage import data

    image = Image.fromarray(data.camera()).resize((sidelength, sidelength), Image.BILINEAR)
    pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).reshape(-1, 1) * 2 - 1
    axis = torch.linspace(-1, 1, sidelength)
    grid = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), dim=-1).reshape(-1, 2)
    return grid, pixels


def psnr_unit_range(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """PSNR on [0, 1] with clipping, data_range 1 (values given in [-1, 1])."""
    mse = (((prediction.clamp(-1, 1) + 1) / 2 - (target + 1) / 2) ** 2).mean()
    return float(10 * torch.log10(1 / mse))


def plain_step(model, optimizer, coords, values, chunk: int | None = None) -> torch.Tensor:
    """One full-batch Adam step on MSE; ``chunk`` splits the batch with gradient accumulation."""
    optimizer.zero_grad()
    count = coords.shape[0]
    chunk = chunk or count
    total = 0.0
    for start in range(0, count, chunk):
        piece = slice(start, start + chunk)
        loss = ((model(coords[piece]) - values[piece]) ** 2).mean() * (min(chunk, count - start) / count)
        loss.backward()
        total += loss.detach()
    optimizer.step()
    return total
