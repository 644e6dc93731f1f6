"""``inr experiment rd``: rate-distortion of inr's codec against JPEG and WebP over a folder of images, one run.

Every image is centre-cropped square, resized to ``size`` (antialiased) and stored as an 8-bit PNG, the reference all
codecs see. inr: ``inr compress IMAGE --bpp R`` per rate (the largest SIREN whose file fits, fitted, quantised,
coded), decoded by ``inr decompress`` to an 8-bit PNG. JPEG and WebP: Pillow's encoders over a sweep of qualities.
PSNR (dB, 8-bit) and SSIM of every decoded image against the reference; bpp from the bytes of the file or stream.
Writes ``rd.csv`` (every point), ``rd.png`` (PSNR and SSIM against bpp, means over images per setting) and prints
a markdown table with the BD-rate of each codec against JPEG (Bjøntegaard: negative saves bits at equal PSNR).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from datamodules.image_folder import IMAGE_SUFFIXES
from inr.commands.compress import fit_and_compress
from inr.commands.render import render_model
from inr.core.errors import InputError, MissingFileError
from inr.experiments.output import pyplot, write_csv
from inr.training.compression import Compression, load_compressed


def reference_images(folder: str, size: int, limit: int | None, out: Path) -> list[Path]:
    """The folder's images as square ``size`` 8-bit PNGs under ``out/reference`` (sorted by name)."""
    from datamodules.image import resize_to
    from inr.io.image_files import read_image

    source = Path(folder)
    if not source.is_dir():
        raise MissingFileError(f"image folder not found: {source}")
    files = sorted(path for path in source.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)[:limit]
    if not files:
        raise InputError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {source}")
    import imageio.v3 as iio

    (out / "reference").mkdir(parents=True, exist_ok=True)
    references = []
    for file in files:
        pixels = read_image(file)[..., :3]
        side = min(pixels.shape[:2])
        top, left = (pixels.shape[0] - side) // 2, (pixels.shape[1] - side) // 2
        square = resize_to(pixels[top:top + side, left:left + side], (size, size))
        square = square[..., 0] if square.shape[-1] == 1 else square  # gray stays one channel
        path = out / "reference" / f"{file.stem}.png"
        iio.imwrite(path, (square * 255).round().astype(np.uint8))
        references.append(path)
    return references


def quality(decoded: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """(PSNR dB, SSIM) of an 8-bit image against its reference, [H, W] or [H, W, C]."""
    from skimage.metrics import structural_similarity

    mse = np.mean((decoded.astype(np.float64) - reference.astype(np.float64)) ** 2)
    psnr = 10 * math.log10(255**2 / mse) if mse > 0 else float("inf")
    channel = {"channel_axis": -1} if reference.ndim == 3 else {}
    return psnr, float(structural_similarity(decoded, reference, data_range=255, **channel))


def pillow_point(reference: np.ndarray, codec: str, setting: int) -> tuple[float, np.ndarray]:
    """(bpp, decoded [H, W, C] uint8) of ``reference`` through Pillow's ``codec`` at quality ``setting``."""
    from PIL import Image

    stream = io.BytesIO()
    Image.fromarray(reference).save(stream, format=codec, quality=setting)
    decoded = np.asarray(Image.open(io.BytesIO(stream.getvalue())).convert(Image.fromarray(reference).mode))
    return len(stream.getvalue()) * 8 / (reference.shape[0] * reference.shape[1]), decoded


def bd_rate(reference: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray]) -> float:
    """Bjøntegaard delta rate (%) of ``test`` (bpp, PSNR) against ``reference`` over their common PSNR range.

    log(bpp) is fitted as a polynomial of PSNR (cubic, or lower with fewer points) and averaged over the range; NaN
    where the curves do not overlap.
    """
    (rate_a, psnr_a), (rate_b, psnr_b) = reference, test
    low, high = max(psnr_a.min(), psnr_b.min()), min(psnr_a.max(), psnr_b.max())
    if high <= low or min(len(psnr_a), len(psnr_b)) < 2:
        return float("nan")
    averages = []
    for rate, psnr in ((rate_a, psnr_a), (rate_b, psnr_b)):
        integral = np.polyint(np.polyfit(psnr, np.log(rate), min(3, len(psnr) - 1)))
        averages.append((np.polyval(integral, high) - np.polyval(integral, low)) / (high - low))
    return float((math.exp(averages[1] - averages[0]) - 1) * 100)


def run_rd(folder: str, rates: list[float] = (0.3, 0.6, 1.2), size: int = 256, limit: int | None = None,
           steps: int = 2000, bits: int = 8, jpeg_qualities: list[int] = (10, 20, 30, 50, 70, 90),
           webp_qualities: list[int] = (10, 20, 30, 50, 70, 90), out: str = "runs/rd") -> list[dict]:
    """Rate-distortion of inr (each rate) against JPEG and WebP (each quality) over the folder's images.

    Args:
        folder: a folder of images.
        rates: inr's target bits per pixel.
        size: side of the square every image is resized to.
        limit: use only the first this many images (sorted by name).
        steps: training steps of each inr fit.
        bits: quantisation bits of inr's weights.
        jpeg_qualities: Pillow JPEG qualities.
        webp_qualities: Pillow WebP qualities.
        out: folder of the references, inr's files, rd.csv and rd.png.
    """
    import imageio.v3 as iio

    root = Path(out)
    rows = []
    for path in reference_images(folder, size, limit, root):
        reference = iio.imread(path)
        for rate in rates:
            file = root / "inr" / f"{path.stem}_{rate:g}.inrz"
            file.parent.mkdir(parents=True, exist_ok=True)
            result = fit_and_compress(str(path), str(file), rate, Compression("quantised", bits), steps=steps)
            render_model(load_compressed(file), str(file.with_suffix(".png")))
            psnr, ssim = quality(iio.imread(file.with_suffix(".png")), reference)
            rows.append({"image": path.stem, "codec": "inr", "setting": rate, "bpp": result["bpp"], "psnr": psnr,
                         "ssim": ssim})
            print(rows[-1], flush=True)
        for codec, settings in (("JPEG", jpeg_qualities), ("WEBP", webp_qualities)):
            for setting in settings:
                bpp, decoded = pillow_point(reference, codec, setting)
                psnr, ssim = quality(decoded, reference)
                rows.append({"image": path.stem, "codec": codec.lower(), "setting": setting, "bpp": bpp,
                             "psnr": psnr, "ssim": ssim})
    write_csv(root / "rd.csv", rows)
    curves = _mean_curves(rows)
    _plot(curves, root / "rd.png")
    print(_table(curves))
    return rows


def _mean_curves(rows: list[dict]) -> dict[str, np.ndarray]:
    """Per codec, [settings, 3] of mean (bpp, PSNR, SSIM) over images, sorted by bpp."""
    curves = {}
    for codec in dict.fromkeys(row["codec"] for row in rows):
        settings = dict.fromkeys(row["setting"] for row in rows if row["codec"] == codec)
        points = [[np.mean([row[key] for row in rows if row["codec"] == codec and row["setting"] == setting])
                   for key in ("bpp", "psnr", "ssim")] for setting in settings]
        curves[codec] = np.array(sorted(points))
    return curves


def _plot(curves: dict[str, np.ndarray], path: Path) -> None:
    plt = pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for codec, points in curves.items():
        for axis, column, label in ((axes[0], 1, "PSNR (dB)"), (axes[1], 2, "SSIM")):
            axis.plot(points[:, 0], points[:, column], marker="o", label=codec)
            axis.set_xlabel("bits per pixel")
            axis.set_ylabel(label)
    axes[0].legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _table(curves: dict[str, np.ndarray]) -> str:
    lines = ["| codec | bpp | PSNR dB | SSIM | BD-rate vs JPEG |", "|---|---|---|---|---|"]
    jpeg = curves.get("jpeg")
    for codec, points in curves.items():
        delta = bd_rate((jpeg[:, 0], jpeg[:, 1]), (points[:, 0], points[:, 1])) if jpeg is not None else math.nan
        for bpp, psnr, ssim in points:
            lines.append(f"| {codec} | {bpp:.3f} | {psnr:.2f} | {ssim:.3f} | {delta:+.1f} % |")
    return "\n".join(lines)
