"""``inr experiment rd``: rate-distortion of inr's codec against JPEG, WebP and AVIF over a folder of images.

Every image is centre-cropped square, resized to ``size`` (antialiased) and stored as an 8-bit PNG, the reference all
codecs see. inr: ``inr compress IMAGE --bpp R`` per rate (the SIREN with the most weights whose file fits,
fitted, quantised, coded), decoded by ``inr decompress`` to an 8-bit PNG; optionally the same fits fine-tuned
through their quantised weights (``inr qat``) and fits from learned initialisations coding their difference from
them (``inr meta``).
JPEG, WebP and AVIF: Pillow's encoders over a sweep of qualities. PSNR (dB, 8-bit) and SSIM of every decoded image
against the reference; bpp from the bytes of the file or stream; inr's encoding (fit + quantise + code) and decoding
(read + render) times. Writes ``rd.csv`` (every point), ``rd.png`` (PSNR and SSIM against bpp, means over images
per setting, log bpp), ``rd.md`` (a markdown table with JPEG's PSNR at each point's bpp and each codec's BD-rate
against JPEG; Bjøntegaard: negative saves bits at equal PSNR; with ``init_images``, a second table and plot,
``rd_init_images.png``, of every codec on those images alone, where the learned inits compare with the plain fits),
and logs them to a W&B run.
"""

from __future__ import annotations

import io
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from datamodules.image_folder import IMAGE_SUFFIXES
from inr.commands.compress import compress_fitted, fitted, quantisation_aware_state
from inr.commands.render import render_model
from inr.core.errors import InputError, MissingFileError
from inr.experiments.output import log_to_wandb, pyplot, write_csv
from inr.training.compression import Compression, load_compressed


def reference_images(folder: str, size: int | None, limit: int | None, out: Path) -> list[Path]:
    """The folder's images as 8-bit PNGs under ``out/reference`` (sorted by name).

    With ``size``, each is centre-cropped square and resized to ``size`` x ``size``; ``None`` keeps every image
    whole (Kodak's 768 x 512, as the papers measure it).
    """
    from datamodules.image import resize_to
    from inr.io.image_files import read_image

    source = Path(folder)
    if not source.is_dir():
        raise MissingFileError(f"image folder not found: {source}")
    files = sorted(path for path in source.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)[:limit]
    if not files:
        raise InputError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {source}")
    if size is not None and size < 8:
        raise InputError(f"size must be >= 8 pixels (or null to keep the images whole), got {size}")
    import imageio.v3 as iio

    (out / "reference").mkdir(parents=True, exist_ok=True)
    references = []
    for file in files:
        pixels = read_image(file)[..., :3]
        if size is not None:
            side = min(pixels.shape[:2])
            top, left = (pixels.shape[0] - side) // 2, (pixels.shape[1] - side) // 2
            pixels = resize_to(pixels[top:top + side, left:left + side], (size, size))
        pixels = pixels[..., 0] if pixels.shape[-1] == 1 else pixels  # gray stays one channel
        path = out / "reference" / f"{file.stem}.png"
        iio.imwrite(path, (pixels * 255).round().astype(np.uint8))
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


def jpeg_psnr_at(jpeg: np.ndarray, bpp: float) -> float:
    """JPEG's PSNR at ``bpp`` on its mean curve ``[settings, 3]`` (linear in log bpp); NaN outside its range."""
    rates, psnr = np.log(jpeg[:, 0]), jpeg[:, 1]
    if not rates.min() <= math.log(bpp) <= rates.max():
        return float("nan")
    return float(np.interp(math.log(bpp), rates, psnr))


def _inr_point(image: str, codec: str, setting: Any, cli: Any, header: dict, state: dict, file: Path,
               how: Compression, reference: np.ndarray, fit_seconds: float, init: str | None = None) -> dict:
    """One inr point: ``state`` coded to ``file``, decoded and rendered to ``file``.png, scored and timed."""
    import imageio.v3 as iio

    start = time.perf_counter()
    result = compress_fitted(cli, header, state, str(file), how, init)
    encode = fit_seconds + time.perf_counter() - start
    start = time.perf_counter()
    render_model(load_compressed(file, init=init), str(file.with_suffix(".png")))
    decode = time.perf_counter() - start
    psnr, ssim = quality(iio.imread(file.with_suffix(".png")), reference)
    row = {"image": image, "codec": codec, "setting": setting, "bpp": result["bpp"], "psnr": psnr, "ssim": ssim,
           "encode_seconds": encode, "decode_seconds": decode}
    print(row, flush=True)
    return row


def run_rd(folder: str, rates: list[float] = (0.15, 0.3, 0.6, 1.2), size: int | None = 256, limit: int | None = None,
           steps: int = 2000, lr: float = 1e-3, bits: int = 8, qat_steps: int = 0, inits: list[str] = (),
           init_images: list[str] | None = None,
           jpeg_qualities: list[int] = (2, 5, 10, 20, 30, 50, 70, 90),
           webp_qualities: list[int] = (0, 5, 10, 20, 30, 50, 70, 90),
           avif_qualities: list[int] = (0, 10, 30, 50, 70, 90), out: str = "runs/rd",
           wandb: bool = True) -> list[dict]:
    """Rate-distortion of inr (each rate; quantisation-aware; from learned inits) against JPEG, WebP and AVIF.

    Args:
        folder: a folder of images.
        rates: inr's target bits per pixel (codec ``inr``: the SIREN of each, fitted, quantised, coded).
        size: side of the square every image is centre-cropped and resized to; ``None`` keeps them whole.
        limit: use only the first this many images (sorted by name).
        steps: training steps of each inr fit.
        lr: Adam's learning rate of each inr fit.
        bits: quantisation bits of inr's weights.
        qat_steps: > 0 adds codec ``inr qat``: each rate's fit fine-tuned this many steps through its quantised
            weights (lr / 10) before coding.
        inits: learned initialisations (``inr meta export``), codec ``inr meta``: each image fitted ``steps`` steps
            from each init with its network, the file coding the difference from the init (the init's name is the
            setting; the rate follows from its network and the bits).
        init_images: the images (file stems) the inits are scored on, e.g. those held out of their meta-training;
            ``None``: every image.
        jpeg_qualities: Pillow JPEG qualities.
        webp_qualities: Pillow WebP qualities.
        avif_qualities: Pillow AVIF qualities (skipped, with a note, where Pillow was built without AVIF).
        out: folder of the references, inr's files, rd.csv and rd.png.
        wandb: log the plot, the points and the table to a W&B run (offline unless the environment says
            otherwise) under ``out``.
    """
    import imageio.v3 as iio
    from PIL import features

    root = Path(out)
    how = Compression("quantised", bits)
    avif = features.check("avif")
    if avif_qualities and not avif:
        print("inr experiment rd: this Pillow has no AVIF encoder; AVIF is left out", flush=True)
    rows = []
    for path in reference_images(folder, size, limit, root):
        reference = iio.imread(path)
        (root / "inr").mkdir(parents=True, exist_ok=True)
        for rate in rates:
            start = time.perf_counter()
            with fitted(str(path), rate, how, steps=steps, lr=lr) as (cli, header, state, _):
                seconds = time.perf_counter() - start
                rows.append(_inr_point(path.stem, "inr", rate, cli, header, state,
                                       root / "inr" / f"{path.stem}_{rate:g}.inrz", how, reference, seconds))
                if qat_steps:
                    start = time.perf_counter()
                    tuned = quantisation_aware_state(cli, state, how, qat_steps, lr / 10)
                    rows.append(_inr_point(path.stem, "inr qat", rate, cli, header, tuned,
                                           root / "inr" / f"{path.stem}_{rate:g}_qat.inrz", how, reference,
                                           seconds + time.perf_counter() - start))
        for init in inits if init_images is None or path.stem in init_images else ():
            start = time.perf_counter()
            with fitted(str(path), None, how, steps=steps, lr=lr, init=init) as (cli, header, state, _):
                rows.append(_inr_point(path.stem, "inr meta", Path(init).stem, cli, header, state,
                                       root / "inr" / f"{path.stem}_{Path(init).stem}.inrz", how, reference,
                                       time.perf_counter() - start, init))
        for codec, settings in (("JPEG", jpeg_qualities), ("WEBP", webp_qualities),
                                ("AVIF", avif_qualities if avif else ())):
            for setting in settings:
                start = time.perf_counter()
                bpp, decoded = pillow_point(reference, codec, setting)
                seconds = time.perf_counter() - start
                psnr, ssim = quality(decoded, reference)
                rows.append({"image": path.stem, "codec": codec.lower(), "setting": setting, "bpp": bpp,
                             "psnr": psnr, "ssim": ssim, "encode_seconds": seconds, "decode_seconds": math.nan})
    write_csv(root / "rd.csv", rows)
    curves = _mean_curves(rows)
    images = len(dict.fromkeys(row["image"] for row in rows))
    on_all = {codec: points for codec, points in curves.items() if codec != "inr meta" or init_images is None}
    _plot(on_all, root / "rd.png", f"means over {images} images")
    table = _table(curves)
    if inits and init_images is not None:  # the learned inits' images alone: every codec on the same images
        subset = _mean_curves([row for row in rows if row["image"] in init_images])
        _plot(subset, root / "rd_init_images.png", f"means over the inits' images ({', '.join(init_images)})")
        table += (f"\n\nOn the images the inits are scored on ({', '.join(init_images)}), every codec:\n\n"
                  + _table(subset))
    (root / "rd.md").write_text(table + "\n")
    print(table)
    if wandb:
        summary = {f"bd_rate_vs_jpeg/{codec}": rate for codec, rate in bd_rates(curves).items() if codec != "jpeg"}
        files = {"rd/curves": root / "rd.png", "rd/points": root / "rd.csv",
                 "rd/table": _write_table_csv(curves, root / "rd_table.csv")}
        if (root / "rd_init_images.png").exists():
            files["rd/curves_init_images"] = root / "rd_init_images.png"
        run = log_to_wandb(root, "rd", files, summary)
        print(f"W&B run (offline unless WANDB_MODE says otherwise): {run}")
    return rows


def bd_rates(curves: dict[str, np.ndarray]) -> dict[str, float]:
    """Each codec's BD-rate (%) against JPEG's mean curve; NaN for every codec when there is no JPEG curve."""
    jpeg = curves.get("jpeg")
    return {codec: bd_rate((jpeg[:, 0], jpeg[:, 1]), (points[:, 0], points[:, 1])) if jpeg is not None else math.nan
            for codec, points in curves.items()}


def _write_table_csv(curves: dict[str, np.ndarray], path: Path) -> Path:
    """The mean curves as a CSV (codec, bpp, PSNR, SSIM, JPEG's PSNR at that bpp), for W&B's table."""
    jpeg = curves.get("jpeg")
    rows = [{"codec": codec, "bpp": bpp, "psnr": psnr, "ssim": ssim,
             "jpeg_psnr_at_bpp": jpeg_psnr_at(jpeg, bpp) if jpeg is not None else math.nan}
            for codec, points in curves.items() for bpp, psnr, ssim in points]
    return write_csv(path, rows)


def _mean_curves(rows: list[dict]) -> dict[str, np.ndarray]:
    """Per codec, [settings, 3] of mean (bpp, PSNR, SSIM) over images, sorted by bpp."""
    curves = {}
    for codec in dict.fromkeys(row["codec"] for row in rows):
        settings = dict.fromkeys(row["setting"] for row in rows if row["codec"] == codec)
        points = [[np.mean([row[key] for row in rows if row["codec"] == codec and row["setting"] == setting])
                   for key in ("bpp", "psnr", "ssim")] for setting in settings]
        curves[codec] = np.array(sorted(points))
    return curves


def _plot(curves: dict[str, np.ndarray], path: Path, title: str) -> None:
    """PSNR and SSIM against bpp (log scale: the low rates, where INRs compete, spread out), one line per codec."""
    plt = pyplot()
    from matplotlib.ticker import FormatStrFormatter, NullFormatter

    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for codec, points in curves.items():
        for axis, column in ((axes[0], 1), (axes[1], 2)):
            axis.plot(points[:, 0], points[:, column], marker="o", label=codec)
    rates = np.concatenate([points[:, 0] for points in curves.values()])
    for axis, label in ((axes[0], "PSNR (dB)"), (axes[1], "SSIM")):
        axis.set_xscale("log")
        axis.set_xticks([tick for tick in (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20)
                         if rates.min() / 1.5 <= tick <= rates.max() * 1.5])
        axis.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.set_xlabel("bits per pixel")
        axis.set_ylabel(label)
        axis.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _table(curves: dict[str, np.ndarray]) -> str:
    """Markdown: every codec's mean points, JPEG's PSNR at the same bpp, and the codec's BD-rate against JPEG."""
    lines = ["| codec | bpp | PSNR dB | SSIM | JPEG at this bpp (dB) | BD-rate vs JPEG |", "|---|---|---|---|---|---|"]
    jpeg, deltas = curves.get("jpeg"), bd_rates(curves)
    for codec, points in curves.items():
        delta = deltas[codec]
        for bpp, psnr, ssim in points:
            at = jpeg_psnr_at(jpeg, bpp) if jpeg is not None else math.nan
            lines.append(f"| {codec} | {bpp:.3f} | {psnr:.2f} | {ssim:.3f} | {at:.2f} | {delta:+.1f} % |")
    return "\n".join(lines)
