"""Shepp-Logan phantoms as the Fourier-features notebooks draw them.

Every ellipse (2D) or ellipsoid (3D) parameter of the modified phantom is perturbed by N(0, 1) / 20 per seed, and the
result clipped to [0, 1].
"""

from __future__ import annotations

import numpy as np

from inr.core.errors import InputError

#: the notebooks' perturbation of every phantom parameter: N(0, 1) / 20.
PHANTOM_PERTURBATION = 1 / 20

#: the MRI notebook's 3D grid spans z in [-0.25, 0.25] of the phantom's [-1, 1]: a slab, its detail in x-y.
NOTEBOOK_Z_LIMIT = 0.25

#: the second key of the rotation's random stream (the first is the phantom seed), apart from the perturbation's.
ROTATION_STREAM = 1


def shepp_logan(size: int, dims: int, seed: int | None, z_limit: float = NOTEBOOK_Z_LIMIT,
                rotated: bool = False) -> np.ndarray:
    """The modified Shepp-Logan phantom [size]^dims (2 or 3) in [0, 1], float32; ``None`` leaves it unperturbed.

    3D grids span z in [-z_limit, z_limit] of the phantom's [-1, 1] (the MRI notebook's 0.25; 1 the whole phantom).
    ``rotated`` (3D) turns the phantom by a uniformly random rotation drawn from ``seed``, so that no ellipsoid axis
    lies along a grid axis.
    """
    from phantominator import ct_modified_shepp_logan_params_2d, ct_modified_shepp_logan_params_3d, ct_shepp_logan

    params = np.array(ct_modified_shepp_logan_params_2d() if dims == 2 else ct_modified_shepp_logan_params_3d())
    if seed is not None:
        params = params + np.random.default_rng(seed).normal(size=params.shape) * PHANTOM_PERTURBATION
    if dims == 2:
        return np.clip(ct_shepp_logan((size,) * 2, E=params), 0.0, 1.0).astype(np.float32)
    turn = phantom_rotation(seed) if rotated else np.eye(3)
    return np.clip(ellipsoids_3d(size, params, z_limit, turn), 0.0, 1.0).astype(np.float32)


def phantom_rotation(seed: int | None) -> np.ndarray:
    """A uniformly random 3D rotation matrix [3, 3] drawn from a phantom's seed (``None`` as 0)."""
    from scipy.spatial.transform import Rotation

    stream = np.random.default_rng([0 if seed is None else seed, ROTATION_STREAM])
    return Rotation.random(random_state=stream).as_matrix()


def ellipsoids_3d(size: int, params: np.ndarray, z_limit: float, turn: np.ndarray) -> np.ndarray:
    """Sum of phantominator-style ellipsoids [size]^3 sampled at ``turn @ p`` for the grid points p.

    ``params`` rows: intensity, semi-axes x, y, z, centre x, y, z, angle in the x-y plane (rad). The array's axes
    are (y, x, z) over [-1, 1], [-1, 1], [-z_limit, z_limit], phantominator's layout; ``turn`` the identity gives
    phantominator's phantom.
    """
    x, y, z = np.meshgrid(np.linspace(-1, 1, size), np.linspace(-1, 1, size), np.linspace(-z_limit, z_limit, size))
    x, y, z = np.einsum("ij,j...->i...", turn, np.stack([x, y, z]))
    volume = np.zeros((size,) * 3)
    for intensity, a, b, c, xc, yc, zc, angle in params:
        cos, sin = np.cos(angle), np.sin(angle)
        inside = (((x - xc) * cos + (y - yc) * sin) ** 2 / a**2 + ((x - xc) * sin - (y - yc) * cos) ** 2 / b**2
                  + (z - zc) ** 2 / c**2 <= 1)
        volume[inside] += intensity
    return volume


def phantom_seeds_or_files(path: object, seeds: list[int] | None, limit: int | None, files: str) -> list[int]:
    """A dataset's phantom seeds (at most ``limit``), ``[]`` when it reads ``path``; exactly one of the two is given.

    ``files`` names what ``path`` holds, for the error ("slice images").
    """
    if (path is None) == (seeds is None):
        raise InputError(f"give data path (a folder of {files}) or data phantom_seeds (a list of phantom seeds), "
                         "exactly one of them")
    if path is not None:
        return []
    chosen = list(seeds or [])[:limit]
    if not chosen:
        raise InputError("data phantom_seeds is empty: give at least one seed (e.g. [8, 9, 10])")
    return chosen
