"""Rays as sample points: the discretisation every line-integral model shares (CT projections; volume rendering).

A ray is a segment ``origin + s * direction``, ``s`` in ``[near, far]``, cut into ``S`` equal intervals and sampled
at their midpoints (the midpoint rule). :func:`segment_samples` gives the points ``[R, S, d]`` and each sample's
interval length ``[R, S]`` (coordinate units); the integral of a function along a ray is then the sum over ``S``
of its values times those lengths (:func:`line_integrals`).

Parallel-beam CT (:func:`parallel_beam_rays`): view ``v`` at angle ``theta_v`` and detector bin ``j`` at offset
``t_j`` integrate along the line ``t_j * (cos theta, sin theta) + s * (-sin theta, cos theta)`` in (x, y) =
(column, row) coordinates, for ``s`` in [-1, 1] and within the image square [-1, 1]^2: the image rotated by
``theta`` (zero outside it) and summed over its rows, as the Fourier-features paper's ``ct_project`` does. For an
object inside the circle inscribed in the image and bins at the pixel columns, this is scikit-image's
``radon(image, theta=-degrees(theta), circle=True)`` times the pixel size ``2 / (n - 1)``; the angles turn the other
way because scikit-image's y axis points up.
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
    """Rays of a parallel-beam scan of the image square: ``(points [V, D, S, 2], lengths [V, D, S])``, float64.

    ``angles`` [V] in radians, detector ``offsets`` [D] in [-1, 1]; points are (y, x), inr's image coordinates.
    Each ray runs over ``s`` in [-1, 1] cut to the square [-1, 1]^2 (a ray that misses it has zero lengths).
    """
    offsets = offsets.to(torch.float64)
    theta = angles.to(torch.float64)
    cos, sin = torch.cos(theta)[:, None], torch.sin(theta)[:, None]
    bins = len(offsets)
    origins = torch.stack([offsets * sin, offsets * cos], dim=-1).reshape(-1, 2)  # (y, x) of each line's foot
    directions = torch.stack([cos.expand(-1, bins), -sin.expand(-1, bins)], dim=-1).reshape(-1, 2)
    near, far = box_interval(origins, directions)
    points, lengths = segment_samples(origins, directions, near.clamp(min=-1), far.clamp(max=1), samples)
    return points.reshape(len(theta), bins, samples, 2), lengths.reshape(len(theta), bins, samples)


def box_interval(origins: Tensor, directions: Tensor) -> tuple[Tensor, Tensor]:
    """``(near, far)`` [R] of each line ``origin + s direction`` inside the box [-1, 1]^d (near > far: it misses)."""
    moving = directions.abs() > 1e-12  # cos(pi / 2) is 6e-17, not 0
    safe = torch.where(moving, directions, torch.ones_like(directions))
    first, second = (-1 - origins) / safe, (1 - origins) / safe
    inside = origins.abs() <= 1  # a line parallel to an axis: within the slab everywhere, or nowhere
    unbounded = torch.full_like(origins, math.inf)
    low = torch.where(moving, torch.minimum(first, second), torch.where(inside, -unbounded, unbounded))
    high = torch.where(moving, torch.maximum(first, second), torch.where(inside, unbounded, -unbounded))
    return low.amax(dim=-1), high.amin(dim=-1)


def default_angles(views: int) -> Tensor:
    """``views`` angles evenly over [0, pi): ``linspace(0, pi, views + 1)[:-1]`` (the paper's CT views), [V]."""
    if views < 1:
        raise InputError(f"data views must be >= 1 projection angle, got {views}")
    return torch.linspace(0, math.pi, views + 1, dtype=torch.float64)[:-1]
