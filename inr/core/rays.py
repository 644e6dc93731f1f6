"""Rays as sample points: the discretisation every line-integral model shares (CT projections; volume rendering).

A ray is a segment ``origin + s * direction``, ``s`` in ``[near, far]``, cut into ``S`` equal intervals and sampled
at their midpoints (the midpoint rule). :func:`segment_samples` gives the points ``[R, S, d]`` and each sample's
interval length ``[R, S]`` (coordinate units); the integral of a function along a ray is then the sum over ``S``
of its values times those lengths (:func:`line_integrals`).

Parallel-beam CT (:func:`parallel_beam_rays`): view ``v`` at angle ``theta_v`` and detector bin ``j`` at offset
``t_j`` integrate along the line ``t_j * (cos theta, sin theta) + s * (-sin theta, cos theta)`` in (x, y) =
(column, row) coordinates, within the unit disk: the image rotated by ``theta`` and summed over its rows, as the
Fourier-features paper's ``ct_project`` does. With the bins at the image's pixel columns, this is scikit-image's
``radon(image, theta=-degrees(theta), circle=True)`` (the object inside the circle inscribed in the image) times
the pixel size ``2 / (n - 1)``; their angles turn the other way because scikit-image's y axis points up.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from inr.core.errors import InputError


def segment_samples(origins: Tensor, directions: Tensor, near: Tensor, far: Tensor,
                    samples: int) -> tuple[Tensor, Tensor]:
    """Midpoint samples of rays: ``(points [R, S, d], lengths [R, S])``.

    Args:
        origins: ray origins [R, d].
        directions: unit directions [R, d].
        near: start parameter of each ray [R] (coordinate units along the direction).
        far: end parameter of each ray [R]; a ray with ``far <= near`` has zero lengths.
        samples: S, the intervals each segment is cut into.
    """
    if samples < 1:
        raise InputError(f"rays need at least 1 sample each, got {samples}")
    span = (far - near).clamp(min=0)
    fractions = (torch.arange(samples, dtype=origins.dtype, device=origins.device) + 0.5) / samples
    s = near[:, None] + span[:, None] * fractions  # [R, S]
    points = origins[:, None, :] + s[..., None] * directions[:, None, :]
    return points, (span / samples)[:, None].expand(-1, samples)


def line_integrals(values: Tensor, lengths: Tensor) -> Tensor:
    """The midpoint-rule integral along each ray: values [..., S, c] and lengths [..., S] -> [..., c]."""
    return (values * lengths[..., None]).sum(dim=-2)


def parallel_beam_rays(angles: Tensor, offsets: Tensor, samples: int) -> tuple[Tensor, Tensor]:
    """Rays of a parallel-beam scan inside the unit disk: ``(points [V, D, S, 2], lengths [V, D, S])``, float64.

    ``angles`` [V] in radians, detector ``offsets`` [D] in [-1, 1]; points are (y, x), inr's image coordinates.
    """
    offsets = offsets.to(torch.float64)
    theta = angles.to(torch.float64)
    cos, sin = torch.cos(theta)[:, None], torch.sin(theta)[:, None]
    bins = len(offsets)
    origins = torch.stack([offsets * sin, offsets * cos], dim=-1).reshape(-1, 2)  # (y, x) of each line's foot
    directions = torch.stack([cos.expand(-1, bins), -sin.expand(-1, bins)], dim=-1).reshape(-1, 2)
    half = torch.sqrt((1 - offsets.square()).clamp(min=0)).repeat(len(theta))
    points, lengths = segment_samples(origins, directions, -half, half, samples)
    return points.reshape(len(theta), bins, samples, 2), lengths.reshape(len(theta), bins, samples)


def default_angles(views: int) -> Tensor:
    """``views`` angles evenly over [0, pi): ``linspace(0, pi, views + 1)[:-1]`` (the paper's CT views), [V]."""
    if views < 1:
        raise InputError(f"data views must be >= 1 projection angle, got {views}")
    return torch.linspace(0, math.pi, views + 1, dtype=torch.float64)[:-1]
