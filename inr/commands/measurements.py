"""``inr experiment measurements``: Table 1 of Tancik et al. 2020 through a measurement (CT, MRI, occupancy).

Each row is one fit of a shipped config (``configs/ct/shepp_<name>.yaml``, ``configs/mri/shepp_<name>.yaml``,
``configs/occupancy/relu_<name>.yaml`` or ``<name>.yaml``) on one signal: a perturbed Shepp-Logan phantom (its seed)
or a file (a CT slice image, an MRI volume) for CT and MRI, a mesh or oriented point cloud for occupancy. The
classical baselines the DataModule scores from the same measurements (CT: filtered back-projection and grid
optimisation; MRI: the zero-filled inverse FFT) are rows too. Every row is written to the results CSV as soon as its
fit ends, replacing a row of the same signal and method, so a table grows over several runs (``skip_done`` leaves out
what the file holds); the printed table (and ``table.md``) gives each method's mean +- std over its signals beside the
paper's number, and is logged to W&B.

``scales`` is the paper's grid search: each named config fitted at each value of its encoder's scale (PE's
``scale``, the Gaussian's ``sigma``), one row per value (``inr gaussian sigma 1.5``), and the best value of each
config by its mean over the signals printed under the table. The paper searches on phantoms 0-7 and reports on 8-15.
"""

from __future__ import annotations

import csv
import math
import re
import time
from pathlib import Path
from typing import Any

from inr.commands.catalog import SHIPPED_CONFIGS
from inr.core.errors import InputError, MissingFileError
from inr.experiments.output import log_to_wandb

#: Table 1 of the paper: CT and MRI PSNR dB (CT on Shepp-Logan phantoms at 512^2, MRI on ATLAS volumes at 96^3);
#: occupancy IoU on uniform points and on boundary points.
PAPER = {"ct": {"none": (16.75,), "basic": (23.31,), "pe": (26.89,), "gaussian": (28.33,)},
         "mri": {"none": (26.14,), "basic": (28.58,), "pe": (32.23,), "gaussian": (34.51,)},
         "occupancy": {"none": (0.959, 0.864), "basic": (0.966, 0.892), "pe": (0.987, 0.960),
                       "gaussian": (0.988, 0.973)}}
#: the two numbers each modality's rows hold (the first is the paper's).
METRICS = {"ct": ("psnr", "ssim"), "mri": ("psnr", "ssim"), "occupancy": ("iou", "iou_boundary")}
#: the classical baselines each modality's DataModule scores in the same run.
BASELINES = {"ct": ("fbp", "grid"), "mri": ("zero_filled",), "occupancy": ()}
#: the configs of each modality a run can name; the paper's four mappings are the default.
CONFIGS = {"ct": ("none", "basic", "pe", "gaussian", "siren", "finer", "hash_grid"),
           "mri": ("none", "basic", "pe", "gaussian", "siren", "finer"),
           "occupancy": ("none", "basic", "pe", "gaussian", "siren", "finer")}
MAPPINGS = ("none", "basic", "pe", "gaussian")
#: the paper's scale (its supplement): CT 512^2 with every ray every step, MRI 96^3; occupancy 32^3 points per step
#: for 10k steps. A GPU's work.
PAPER_SCALE = {"ct": ["--data.size", "512", "--data.batch_size", "null"], "mri": ["--data.size", "96"],
               "occupancy": ["--data.batch_size", "32768", "--trainer.max_steps", "10000"]}
#: the shared meshes an occupancy run fits by default.
SHARED_MESHES = ("../shared/data/cow.obj", "../shared/data/fandisk.obj")


def config_file(modality: str, name: str) -> Path:
    """The shipped config of ``name`` for ``modality``."""
    if name not in CONFIGS[modality]:
        raise InputError(f"no {modality} config {name!r}: choose from {', '.join(CONFIGS[modality])}")
    if modality == "occupancy":
        return SHIPPED_CONFIGS / "occupancy" / (f"relu_{name}.yaml" if name in MAPPINGS else f"{name}.yaml")
    return SHIPPED_CONFIGS / modality / f"shepp_{name}.yaml"


def encoder_arguments(modality: str, name: str) -> dict[str, Any]:
    """The ``init_args`` of the encoder in ``name``'s shipped config (empty without an encoder)."""
    import yaml

    encoder = yaml.safe_load(config_file(modality, name).read_text())["model"].get("encoder") or {}
    return encoder.get("init_args") or {}


def scale_argument(modality: str, name: str) -> str:
    """The encoder argument that sets ``name``'s frequency scale (``sigma`` or ``scale``) in its shipped config."""
    found = [key for key in ("sigma", "scale") if key in encoder_arguments(modality, name)]
    if not found:
        raise InputError(f"the {modality} config {name!r} has no encoder scale to search (sigma or scale); "
                         f"search pe or gaussian")
    return found[0]


def scaled_method(name: str, argument: str, value: float) -> str:
    """The row name of ``name`` fitted with its encoder's ``argument`` set to ``value``: ``inr gaussian sigma 1.5``."""
    return f"inr {name} {argument} {value:g}"


def best_scales(rows: list[dict[str, Any]], modality: str) -> list[str]:
    """For each searched config in ``rows``: its value of the best mean first metric over the signals, one line."""
    first = METRICS[modality][0]
    means: dict[str, dict[str, list[float]]] = {}
    for row in rows:
        match = re.fullmatch(r"inr (\w+) (sigma|scale) (\S+)", row["method"])
        if match and not math.isnan(row[first]):
            means.setdefault(f"{match[1]} {match[2]}", {}).setdefault(match[3], []).append(row[first])
    lines = []
    for config, values in means.items():
        mean = {value: sum(found) / len(found) for value, found in values.items()}
        best = max(mean, key=mean.get)
        digits = 2 if first == "psnr" else 3
        listed = ", ".join(f"{value} {mean[value]:.{digits}f}" for value in sorted(mean, key=float))
        lines.append(f"best {config}: {best} (mean {first} over the signals: {listed})")
    return lines


def fit_values(modality: str, name: str, signal: str, options: list[str], folder: Path) -> dict[str, float]:
    """One fit of ``name``'s config on ``signal`` (a phantom seed, or a file) in ``folder``: last values.

    A CT or MRI fit also leaves its reconstruction in ``folder/reconstruction.npy``.
    """
    from inr.cli import build_cli

    data = ["--data.phantom_seed", signal] if is_phantom_seed(modality, signal) else ["--data.path", signal]
    cli = build_cli(["fit", "--config", str(config_file(modality, name)), *data, *options,
                     "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
                     "--checkpoint.save_top_k", "0", "--checkpoint.save_last", "false",
                     "--trainer.default_root_dir", str(folder)])
    if modality != "occupancy":
        save_reconstruction(cli, folder / "reconstruction.npy")
    return dict(cli.model.validation_report)


def is_phantom_seed(modality: str, signal: str) -> bool:
    """Whether ``signal`` names a Shepp-Logan phantom by its seed (CT, MRI) rather than a file."""
    return modality != "occupancy" and signal.isdigit()


def signal_name(modality: str, signal: str) -> str:
    """The ``signal`` column of a row: the phantom seed, or the file's name."""
    return signal if is_phantom_seed(modality, signal) else Path(signal).name


def save_reconstruction(cli, path: Path) -> None:
    """The fitted network on its CT slice's or MRI volume's grid (the signal's shape), to ``path`` as ``.npy``."""
    import numpy as np
    import torch

    from inr.core import grids

    shape = tuple(cli.datamodule.signal_spec.shape)
    with torch.no_grad():
        values = cli.model.predict_values(grids.grid(shape))
    np.save(path, values.reshape(shape).float().cpu().numpy())


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows an earlier run wrote to ``path`` (none when it does not exist), numbers as floats."""
    if not path.exists():
        return []
    with open(path, newline="") as file:
        return [{key: value if key in ("signal", "method") else float(value) for key, value in row.items()}
                for row in csv.DictReader(file)]


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    """All rows to ``path`` through a temporary file, so that an interrupted run leaves the last whole table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    partial.replace(path)


def add_row(path: Path, rows: list[dict[str, Any]], row: dict[str, Any]) -> None:
    """``row`` into ``rows`` (in the place of a row of the same signal and method) and saved to ``path`` at once."""
    keys = [(old["signal"], old["method"]) for old in rows]
    if (row["signal"], row["method"]) in keys:
        rows[keys.index((row["signal"], row["method"]))] = row
    else:
        rows.append(row)
    write_rows(path, rows)
    print(row, flush=True)


def summary(rows: list[dict[str, Any]], modality: str) -> str:
    """A markdown table of ``rows``: each method's mean +- std over its signals, with the paper's number."""
    first, second = METRICS[modality]
    lines = [f"| method | signals | {first} (mean +- std) | {second} (mean +- std) | paper |", "|---|---|---|---|---|"]
    for method in dict.fromkeys(row["method"] for row in rows):
        mine = [row for row in rows if row["method"] == method]
        cells = []
        for metric in (first, second):
            values = [row[metric] for row in mine if not math.isnan(row[metric])]
            mean = sum(values) / len(values) if values else math.nan
            spread = math.sqrt(sum((value - mean) ** 2 for value in values) / len(values)) if values else math.nan
            digits = 2 if metric == "psnr" else 3  # dB to 0.01; SSIM and IoU to 0.001
            cells.append(f"{mean:.{digits}f} +- {spread:.{digits}f}" if values else "-")  # MRI has no SSIM
        paper = " / ".join(map(str, PAPER[modality].get(method.removeprefix("inr ").split(" ")[0], ())))
        lines.append(f"| {method} | {len(mine)} | {cells[0]} | {cells[1]} | {paper} |")
    return "\n".join(lines)


def run_measurements(modality: str = "ct", signals: list[int | str] | None = None, configs: list[str] | None = None,
                     size: int | None = None, steps: int | None = None, paper_scale: bool = False,
                     skip_done: bool = False, results: str | None = None, out: str = "runs/measurements",
                     scales: dict[str, list[float]] | None = None, data: dict[str, Any] | None = None,
                     wandb: bool = True) -> list[dict[str, Any]]:
    """Fits through a measurement, each config on each signal, with the classical baselines: a mean +- std table.

    Args:
        modality: ``ct``, ``mri`` or ``occupancy``.
        signals: phantom seeds or files (CT slice images, MRI volumes; default phantoms 8 to 15, the paper's report
            phantoms follow its 8 search ones), or shape files (occupancy; default the shared cow and fandisk).
        configs: the configs to fit (default the paper's four mappings: none, basic, pe, gaussian; none beside
            ``scales``).
        size: CT pixels per side / MRI voxels per side (default the configs': 128 and 32).
        steps: training steps (default the configs').
        paper_scale: the paper's size and batches (CT 512^2 every ray, MRI 96^3, occupancy 32^3 points for 10k
            steps): a GPU's work.
        skip_done: leave out the fits the results file already holds.
        results: the CSV rows are kept in (default ``out``/<modality>_table.csv).
        out: folder of the fits, the CSV and ``table.md``.
        scales: a grid search: config name -> the values of its encoder's scale to fit (``{gaussian: [1, 2, 4]}``);
            the configs it names need not be in ``configs``.
        data: options of every fit's DataModule (``{phantom_z_limit: 1.0}``: MRI phantoms with detail along z).
        wandb: log the rows and the table to a W&B run (offline unless the environment says otherwise).
    """
    if modality not in METRICS:
        raise InputError(f"modality must be one of {', '.join(METRICS)}, got {modality!r}")
    scales = dict(scales or {})
    configs = list(configs) if configs is not None else [] if scales else list(MAPPINGS)
    for name in configs:
        config_file(modality, name)  # refuse an unknown name before fitting
    # each fit: (config, its row name, its extra options); a searched config is fitted at each of its values only
    fits = [(name, f"inr {name}", []) for name in configs if name not in scales]
    for name, values in scales.items():
        argument = scale_argument(modality, name)
        if not values or any(not value > 0 for value in values):
            raise InputError(f"scales for {name!r} must be a list of positive numbers, got {values}")
        fits += [(name, scaled_method(name, argument, value),
                  [f"--model.encoder.init_args.{argument}", str(float(value))]) for value in values]
    if signals is None:
        signals = list(SHARED_MESHES) if modality == "occupancy" else [str(seed) for seed in range(8, 16)]
    signals = [str(signal) for signal in signals]
    for signal in signals:
        if not is_phantom_seed(modality, signal) and not Path(signal).is_file():
            kind = {"ct": "CT slice", "mri": "MRI volume", "occupancy": "shape"}[modality]
            seeds = "" if modality == "occupancy" else " (a signal is a phantom seed, an integer >= 0, or a file)"
            raise MissingFileError(f"{kind} file not found: {signal}{seeds}")
    options = list(PAPER_SCALE[modality]) if paper_scale else []
    if size is not None and not paper_scale:
        options += ["--data.size", str(size)]
    for key, value in (data or {}).items():
        options += [f"--data.{key}", str(value)]
    if steps is not None:
        options += ["--trainer.max_steps", str(steps)]
        options += ["--data.baseline_steps", str(steps)] if modality == "ct" else []
    root = Path(out)
    path = Path(results) if results else root / f"{modality}_table.csv"
    rows = read_rows(path)
    done = {(row["signal"], row["method"]) for row in rows} if skip_done else set()
    first, second = METRICS[modality]
    for signal in signals:
        name_of_signal = signal_name(modality, signal)
        for name, method, extra in fits:
            if (name_of_signal, method) in done:
                continue
            start = time.perf_counter()
            # validate once, at the end: the reported values are the last step's
            last = ["--trainer.val_check_interval", str(steps)] if steps is not None else []
            folder = root / f"{method.removeprefix('inr ').replace(' ', '_')}_{Path(signal).stem}"
            values = fit_values(modality, name, signal, [*options, *last, *extra], folder)
            add_row(path, rows, {"signal": name_of_signal, "method": method,
                                 first: values[f"val/{first}"], second: values.get(f"val/{second}", math.nan),
                                 "seconds": time.perf_counter() - start})
            for baseline in BASELINES[modality]:
                if f"val/baseline/{baseline}/{first}" in values:
                    add_row(path, rows, {"signal": name_of_signal, "method": baseline,
                                         first: values[f"val/baseline/{baseline}/{first}"],
                                         second: values.get(f"val/baseline/{baseline}/{second}", math.nan),
                                         "seconds": math.nan})
    table = "\n\n".join(filter(None, [summary(rows, modality), "\n".join(best_scales(rows, modality))]))
    root.mkdir(parents=True, exist_ok=True)
    (root / "table.md").write_text(table + "\n")
    print("\n" + table)
    if wandb and rows:
        log_to_wandb(root, f"measurements_{modality}", {f"measurements/{modality}": path})
    return rows
