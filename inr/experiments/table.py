"""2D image regression on held-out pixels (Tancik et al. 2020, Table 1, "2D images").

Train on every other pixel of each image (the pixels at even rows and columns), test on all the others; a ReLU
MLP (3 x Dense(256) + ReLU, then Dense(3) + sigmoid), Adam lr 1e-3, full batch. Mappings, all with 256 features
(x2 for sin and cos) on inputs u in [0, 1):
- none: the coordinates;
- basic: [cos 2 pi u, sin 2 pi u] per axis;
- PE: frequencies 2^linspace(0, s, 128) - 1 per axis (s = 6 natural, 5 text);
- Gaussian: B ~ N(0, sigma^2), 256 x 2 (sigma = 10 natural, 14 text).
The paper's test PSNR (dB) for none / basic / PE / Gaussian: natural 19.32 / 21.72 / 24.95 / 25.57, text
18.40 / 20.48 / 27.57 / 30.47 (512 x 512 images, 2000 steps).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn
from torchmetrics.functional.image import peak_signal_noise_ratio

from inr.core import grids
from inr.core.devices import resolve_device, seeded
from inr.core.errors import InputError, MissingFileError
from inr.experiments.output import log_to_wandb, pyplot, write_csv
from inr.experiments.training import fit_full_batch, predict
from inr.nn.encoders import AxisFourier, Encoder, FixedFourier, GaussianFourier, Identity
from inr.nn.networks import MLP

# Tancik et al. 2020, Table 1 / supplement: per-group Gaussian scale sigma and PE exponent s.
PAPER_SIGMA = {"natural": 10.0, "text": 14.0}
PAPER_PE_SCALE = {"natural": 6.0, "text": 5.0}
PAPER_PSNR = {
    "natural": {"none": 19.32, "basic": 21.72, "pe": 24.95, "gaussian": 25.57},
    "text": {"none": 18.40, "basic": 20.48, "pe": 27.57, "gaussian": 30.47},
}
ENCODINGS = ("none", "basic", "pe", "gaussian")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def make_encoder(name: str, group: str, mapping_size: int = 256, seed: int = 0) -> Encoder:
    """The paper's mapping ``name`` (none, basic, pe, gaussian) for images of ``group`` (natural or text)."""
    if name == "none":
        return Identity(2)
    if name == "basic":
        return FixedFourier(2, [[1.0, 0.0], [0.0, 1.0]])
    if name == "pe":
        return AxisFourier(2, mapping_size, scale=PAPER_PE_SCALE.get(group, PAPER_PE_SCALE["natural"]))
    if name == "gaussian":
        return GaussianFourier(2, mapping_size, sigma=PAPER_SIGMA.get(group, PAPER_SIGMA["natural"]), seed=seed)
    raise InputError(f"unknown encoding {name!r}; choose from {ENCODINGS}")


def load_images(source: str, size: int) -> list[tuple[str, np.ndarray]]:
    """Images from a folder, or ``skimage:name1,name2`` for scikit-image samples: [(name, [size, size, 3] float)].

    Files are read by :func:`datamodules.image.read_image` (8/16-bit, gray, RGB(A)) into [0, 1]. Each image is
    centre-cropped to a square, resized to ``size`` by scikit-image's anti-aliased resize (Gaussian pre-filter; the
    DataModules' torch bilinear resize smooths text more and lifts its test PSNR by up to 1 dB), gray replicated to RGB.
    """
    from skimage import data, transform

    from inr.io.image_files import read_image

    if source.startswith("skimage:"):
        names = [name for name in source.split(":", 1)[1].split(",") if name]
        raw = []
        for name in names:
            if not hasattr(data, name):
                raise InputError(f"scikit-image has no sample image {name!r} (in {source!r})")
            image = np.asarray(getattr(data, name)(), dtype=np.float64)
            raw.append((name, image / (255.0 if image.max() > 1 else 1.0)))  # 8-bit samples, or floats in [0, 1]
    else:
        folder = Path(source)
        if not folder.is_dir():
            raise MissingFileError(f"image folder not found: {folder}")
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise InputError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
        raw = [(path.stem, read_image(path)) for path in paths]
    images = []
    for name, image in raw:
        image = image if image.ndim == 3 else image[..., None]
        image = image[..., :3] if image.shape[-1] >= 3 else np.repeat(image[..., :1], 3, axis=-1)
        side = min(image.shape[:2])
        top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
        image = image[top : top + side, left : left + side].astype(np.float64)
        images.append((name, transform.resize(image, (size, size), anti_aliasing=True).astype(np.float32)))
    return images


def split_pixels(image: np.ndarray) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Coordinates x = 2u - 1 (u = i / size) and colours of the train (even row and column) and test pixels."""
    size = image.shape[0]
    grid = grids.grid((size, size), periodic=True).reshape(size, size, 2)  # x = 2 i / size - 1
    values = torch.from_numpy(image)
    train = torch.zeros(size, size, dtype=torch.bool)
    train[::2, ::2] = True
    return grid[train], values[train], grid[~train], values[~train]


def run_table(
    sources: dict[str, str] | None = None,
    size: int = 128,
    steps: int = 500,
    lr: float = 1e-3,
    mapping_size: int = 256,
    encodings: list[str] | None = None,
    seed: int = 0,
    out: str = "runs/experiments/table",
    wandb: bool = True,
    device: str | None = None,
) -> dict[str, Path]:
    """Fit every image with every mapping, write ``table.csv`` (per image), ``table_summary.csv`` and ``table.png``.

    Args:
        sources: group name -> image folder or ``skimage:a,b``; groups ``natural`` and ``text`` get the paper's
            sigma and PE scale, others the natural ones (default: scikit-image astronaut, coffee, chelsea and text,
            page).
        size: images are resized to size x size; training uses (size / 2)^2 pixels (the paper: 512).
        steps: full-batch Adam steps (the paper: 2000).
        lr: Adam learning rate (the paper: 1e-3).
        mapping_size: Fourier features for PE and Gaussian (the paper: 256).
        encodings: subset of none, basic, pe, gaussian.
        seed: seed of the network initialisation and of the Gaussian B.
        out: output folder.
        wandb: also log the picture and tables to a W&B run.
        device: where the fits run (``cpu``, ``cuda``, ...); default ``cuda`` when a GPU is visible.

    Returns:
        The written files by key.
    """
    place = resolve_device(device)
    sources = sources or {"natural": "skimage:astronaut,coffee,chelsea", "text": "skimage:text,page"}
    encodings = list(ENCODINGS) if encodings is None else encodings
    for name in encodings:
        if name not in ENCODINGS:
            raise InputError(f"unknown encoding {name!r}; choose from {ENCODINGS}")
    if size < 4 or size % 2:
        raise InputError(f"size must be an even number >= 4, got {size}")
    folder = Path(out)
    rows, examples = [], {}
    from tqdm.auto import tqdm

    jobs = [(group, image) for group, source in sources.items() for image in load_images(source, size)]
    for group, (image_name, image) in tqdm(jobs, desc="images"):
        x_train, y_train, x_test, y_test = (tensor.to(place) for tensor in split_pixels(image))
        for encoding in encodings:
            with seeded(seed):
                encoder = make_encoder(encoding, group, mapping_size, seed)
                model = nn.Sequential(encoder, MLP(encoder.out_dim, 3, hidden=256, layers=2), nn.Sigmoid())
            model.to(place)
            fit_full_batch(model, x_train, y_train, steps, lambda params: torch.optim.Adam(params, lr=lr))
            rows.append({
                "group": group, "image": image_name, "encoding": encoding,
                "train_psnr": peak_signal_noise_ratio(predict(model, x_train), y_train, data_range=1.0).item(),
                "test_psnr": peak_signal_noise_ratio(predict(model, x_test), y_test, data_range=1.0).item(),
            })
            if group not in examples or examples[group][0] == image_name:
                full = grids.grid((size, size), periodic=True)
                examples.setdefault(group, (image_name, image, {}))[2][encoding] = (
                    predict(model, full.to(place)).reshape(size, size, 3).clamp(0, 1).cpu().numpy()
                )
    summary = summarise(rows)
    files = {"table": write_csv(folder / "table.csv", rows)}
    files["summary"] = write_csv(folder / "table_summary.csv", summary)
    files["picture"] = _plot(folder / "table.png", examples, summary, encodings)
    print(format_table(summary, encodings))
    if wandb:
        log_to_wandb(folder, "table", files, {f"{r['group']}/{r['encoding']}": r["test_psnr_mean"] for r in summary})
    return files


def summarise(rows: list[dict]) -> list[dict]:
    """Mean and std (over images) of the test PSNR per (group, encoding), with the paper's value when known."""
    summary = []
    for group in dict.fromkeys(r["group"] for r in rows):
        for encoding in dict.fromkeys(r["encoding"] for r in rows):
            values = np.array([r["test_psnr"] for r in rows if r["group"] == group and r["encoding"] == encoding])
            summary.append({
                "group": group, "encoding": encoding, "images": len(values),
                "test_psnr_mean": float(values.mean()), "test_psnr_std": float(values.std()),
                "paper_test_psnr": PAPER_PSNR.get(group, {}).get(encoding, ""),
            })
    return summary


def format_table(summary: list[dict], encodings: list[str]) -> str:
    """The summary as a text table, one row per group, columns per encoding: ``mean +- std``."""
    lines = ["group    " + "".join(f"{name:>16}" for name in encodings)]
    for group in dict.fromkeys(r["group"] for r in summary):
        cells = {r["encoding"]: r for r in summary if r["group"] == group}
        lines.append(f"{group:<9}" + "".join(
            f"{cells[n]['test_psnr_mean']:>9.2f} +- {cells[n]['test_psnr_std']:<4.2f}" for n in encodings
        ))
    return "\n".join(lines)


def _plot(path: Path, examples: dict, summary: list[dict], encodings: list[str]) -> Path:
    """One row per group: the target, then each mapping's reconstruction titled with the group's mean test PSNR."""
    plt = pyplot()
    rows = max(len(examples), 1)
    figure, axes = plt.subplots(rows, len(encodings) + 1, figsize=(3 * (len(encodings) + 1), 3 * rows), squeeze=False)
    for row, (group, (name, image, outputs)) in enumerate(examples.items()):
        axes[row, 0].imshow(image)
        axes[row, 0].set_title(f"{group}: {name}", fontsize=9)
        for column, encoding in enumerate(encodings, start=1):
            mean = next(r["test_psnr_mean"] for r in summary if r["group"] == group and r["encoding"] == encoding)
            axes[row, column].imshow(outputs[encoding])
            axes[row, column].set_title(f"{encoding}: {mean:.2f} dB (mean test)", fontsize=9)
    for axis in axes.flat:
        axis.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
