"""Classical CT reconstructions from the same projections, the baselines an INR is compared with in the same run.

- filtered back-projection: scikit-image's ``iradon`` (ramp filter) of the sinogram in its own convention (pixel
  units, angles ``-degrees(theta)``; see :mod:`inr.core.rays`);
- direct grid optimisation (Tancik et al. 2020, the CT notebook's ``gridopt``): a pixel grid ``sigmoid(logits)``,
  logits from 0, fitted to the projections through the same ray operator by Adam (lr 0.1, 1000 steps in the paper).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from inr.core import grids
from inr.core.rays import line_integrals

#: the CT notebook's direct grid optimisation: Adam at lr 0.1.
GRID_LR = 0.1


def filtered_back_projection(projections: Tensor, angles: Tensor, size: int) -> Tensor:
    """FBP of ``projections [V, size]`` (coordinate units, bins at the pixel columns) -> slice [size, size]."""
    from skimage.transform import iradon

    sinogram = projections.double().cpu().numpy().T * (size - 1) / 2  # [bins, views] in pixel units
    theta = -np.degrees(angles.double().cpu().numpy())
    image = iradon(sinogram, theta=theta, filter_name="ramp", circle=True, output_size=size)
    return torch.from_numpy(np.ascontiguousarray(image)).float()


def grid_optimisation(projections: Tensor, points: Tensor, lengths: Tensor, size: int, steps: int,
                      lr: float = GRID_LR) -> Tensor:
    """A slice [size, size] in (0, 1) fitted to ``projections [R, 1]`` along rays ``points [R, S, 2]``, ``lengths``.

    Loss 0.5 mean (A sigmoid(logits) - projections)^2 with A the rays' midpoint rule on the bilinear grid.
    """
    logits = torch.zeros(size, size, 1, dtype=torch.float32, requires_grad=True)
    optimizer = torch.optim.Adam([logits], lr=lr)
    with torch.enable_grad():  # also when called from a validation, which runs without gradients
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            predicted = line_integrals(grids.interpolate(torch.sigmoid(logits), points), lengths)
            loss = 0.5 * (predicted - projections).square().mean()
            loss.backward()
            optimizer.step()
    return torch.sigmoid(logits.detach())[..., 0]
