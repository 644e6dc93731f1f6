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


def shepp_logan(size: int, dims: int, seed: int | None, z_limit: float = NOTEBOOK_Z_LIMIT) -> np.ndarray:
    """The modified Shepp-Logan phantom [size]^dims (2 or 3) in [0, 1], float32; ``None`` leaves it unperturbed.

    3D grids span z in [-z_limit, z_limit] of the phantom's [-1, 1] (the MRI notebook's 0.25; 1 the whole phantom).
    """
    from phantominator import ct_modified_shepp_logan_params_2d, ct_modified_shepp_logan_params_3d, ct_shepp_logan

    params = np.array(ct_modified_shepp_logan_params_2d() if dims == 2 else ct_modified_shepp_logan_params_3d())
    if seed is not None:
        params = params + np.random.default_rng(seed).normal(size=params.shape) * PHANTOM_PERTURBATION
    extra = {} if dims == 2 else {"zlims": (-z_limit, z_limit)}
    return np.clip(ct_shepp_logan((size,) * dims, E=params, **extra), 0.0, 1.0).astype(np.float32)


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
