"""Shared parts of the measurement figures (bench/ct_figure, bench/mri_figure): the fits a run left, and a grid of
images over their absolute errors."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from inr.core.error_maps import psnr_db  # noqa: E402


def reconstructions(runs: list[str], methods: dict[str, str], phantom: int, modality: str) -> dict[str, np.ndarray]:
    """Title -> ``<run>/<method>_<phantom>/reconstruction.npy`` for each method found under ``runs``; exits if none."""
    fits = {title: np.load(path) for method, title in methods.items() for run in runs
            if (path := Path(run) / f"{method}_{phantom}" / "reconstruction.npy").exists()}
    if not fits:
        raise SystemExit(f"no reconstructions of phantom {phantom} under {' '.join(runs)}: run "
                         f"inr experiment measurements --modality {modality} --signals [{phantom}] --out FOLDER")
    return fits


def clipped_psnr(signal: np.ndarray, truth: np.ndarray) -> float:
    """PSNR (dB) of ``signal`` clipped to [0, 1] against ``truth`` in [0, 1]."""
    return psnr_db(float(np.square(signal.clip(0, 1) - truth).mean()))


def save_error_figure(images: dict[str, tuple[np.ndarray, float | None]], truth: np.ndarray, brightest: float,
                      caption: str, title: str, out: str) -> None:
    """Top row: each image [H, W] clipped to [0, 1], titled with its PSNR (dB, if any); bottom row: |image - truth|
    (0 to 0.25); written to ``out``."""
    figure, axes = plt.subplots(2, len(images), figsize=(2.6 * len(images), 5.4))
    for column, (name, (image, psnr)) in enumerate(images.items()):
        image = image.clip(0, 1)
        axes[0, column].imshow(image, cmap="gray", vmin=0, vmax=brightest)
        axes[0, column].set_title(name + ("" if psnr is None else f"\n{psnr:.2f} dB"), fontsize=9)
        axes[1, column].imshow(np.abs(image - truth), cmap="magma", vmin=0, vmax=0.25)
        for row in (0, 1):
            axes[row, column].axis("off")
    axes[1, 0].set_title(caption, fontsize=8, loc="left")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    print(f"wrote {out}")
