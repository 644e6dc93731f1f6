"""Media of a validation as values: pictures, sounds, shapes and videos a DataModule makes of an evaluation.

The media logger (:mod:`inr.io.media_logger`) sends them to the run's loggers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Picture:
    """Images logged side by side under ``key``: uint8 [H, W] or [H, W, 3|4] each, with one caption each."""

    key: str
    images: list[np.ndarray]
    captions: list[str] = field(default_factory=list)


@dataclass
class Sound:
    """A clip logged under ``key``: float samples [N] or [N, C] in [-1, 1] at ``sample_rate`` Hz."""

    key: str
    samples: np.ndarray
    sample_rate: int
    caption: str = ""


@dataclass
class Shape:
    """A triangle mesh (trimesh) logged under ``key`` as a 3D object."""

    key: str
    mesh: Any


@dataclass
class Video:
    """A clip logged under ``key``: uint8 frames [T, H, W, C] (C = 1 or 3) at ``fps`` frames per second."""

    key: str
    frames: np.ndarray
    fps: float
    caption: str = ""


Media = Picture | Sound | Shape | Video
