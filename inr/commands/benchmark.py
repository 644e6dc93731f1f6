r"""``inr benchmark``: a list of configs over a folder of signals, as the paper-style table.

For each config, every signal of the folder is fitted by its own network, signals of one shape in one batched fit
(:mod:`inr.nn.members`; the config's single-signal DataModule becomes its dataset DataModule). Each fit is one W&B run
(named after the config) holding the per-signal table ``val/members`` and a one-row ``benchmark/summary``. The
table gives per config the mean +- std over signals of each final metric, the parameters of one signal's network,
the steps, the training wall time (validation excluded) and the time until the mean PSNR over signals first
reached ``--target-psnr`` (at validation granularity; "-" if never). Written as Markdown and CSV under ``--out``.

    inr benchmark configs/zoo/siren.yaml configs/zoo/finer.yaml --data ../shared/data/ffn/div2k --limit 8 \
        --size 32 --steps 200 --out runs/benchmark
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from lightning.pytorch.callbacks import Callback

from inr.core.atomic import atomic_output
from inr.core.errors import InputError, InrError, MissingFileError

#: the dataset DataModule of each single-signal DataModule, and the option that sets its size (if any).
DATASETS = {
    "datamodules.image.ImageDataModule": ("datamodules.image_folder.ImageFolderDataModule", "size"),
    "datamodules.audio.AudioDataModule": ("datamodules.audio_folder.AudioFolderDataModule", None),
}


class _Clock(Callback):
    """Training seconds (validation excluded) and the mean metrics at each validation."""

    def __init__(self) -> None:
        self.training_seconds = 0.0
        self._start: float | None = None
        self.curve: list[tuple[int, float, dict[str, float]]] = []  # (step, training seconds, mean metrics)

    def on_train_batch_start(self, *args: Any) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, *args: Any) -> None:
        if self._start is not None:
            self.training_seconds += time.perf_counter() - self._start

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        metrics = {key[len("val/"):]: float(value) for key, value in trainer.callback_metrics.items()
                   if key.startswith("val/")}
        self.curve.append((trainer.global_step, self.training_seconds, metrics))


@dataclass
class ConfigResult:
    """What one config's fits measured, over all signals."""

    config: str
    network: str = ""
    parameters: int = 0
    steps: int = 0
    rows: list[dict[str, float]] = field(default_factory=list)  # final metrics per signal
    rows_per_fit: list[list[dict[str, float]]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    seconds: float = 0.0
    curves: list[list[tuple[int, float, dict[str, float]]]] = field(default_factory=list)  # one per fit

    def seconds_to(self, target: float) -> float | None:
        """Training seconds until the mean PSNR over every signal first reached ``target`` (None: never).

        With several fits (one per shape), their times add up at each validation step, weighted as they ran.
        """
        if not self.curves or any(not curve for curve in self.curves):
            return None
        for index in range(min(len(curve) for curve in self.curves)):
            points = [curve[index] for curve in self.curves]
            counts = [len(rows) for rows in self.rows_per_fit]
            mean = sum(point[2].get("psnr", math.nan) * count for point, count in zip(points, counts)) / sum(counts)
            if mean >= target:
                return sum(point[1] for point in points)
        return None


def dataset_of(config: Path) -> tuple[str, str | None]:
    """The dataset DataModule class path for ``config``'s data, and its size option (a clear error if none)."""
    data = (yaml.safe_load(config.read_text()) or {}).get("data", {})
    class_path = data.get("class_path", "datamodules.image.ImageDataModule") if isinstance(data, dict) else data
    if "." not in class_path:  # a short name, as the shipped configs write it
        class_path = next((path for path in DATASETS if path.rsplit(".", 1)[1] == class_path), class_path)
    if class_path in DATASETS:
        return DATASETS[class_path]
    if class_path in {dataset for dataset, _ in DATASETS.values()}:
        return class_path, dict(DATASETS.values()).get(class_path)
    raise InputError(f"{config}: inr benchmark fits folders of images or audio clips; its data {class_path} has no "
                     f"dataset DataModule (one of {sorted(DATASETS)})")


def shape_groups(dataset: str, files: list[Path], options: list[str]) -> list[list[Path]]:
    """The files grouped by the shape of their signal (read as the fit will read them), in name order."""
    import importlib

    module, name = dataset.rsplit(".", 1)
    single = getattr(importlib.import_module(module), name)
    groups: dict[tuple, list[Path]] = {}
    for file in files:
        spec = single([str(file)], **_init_args(options)).signal_spec
        groups.setdefault((spec.shape, spec.out_dim), []).append(file)
    return list(groups.values())


def _init_args(options: list[str]) -> dict[str, Any]:
    """``--data.size 32`` style options as keyword arguments of the dataset DataModule."""
    parsed = {}
    for key, value in zip(options[::2], options[1::2]):
        parsed[key.removeprefix("--data.")] = yaml.safe_load(value)
    return parsed


def run_config(config: Path, groups: list[list[Path]], dataset: str, data_options: list[str], steps: int,
               interval: int, root: Path, extra: list[str]) -> ConfigResult:
    """Fit every group of ``config`` (one batched fit each) and collect the results."""
    from inr.cli import build_cli

    result = ConfigResult(config=str(config), steps=steps)
    for index, files in enumerate(groups):
        name = config.stem if len(groups) == 1 else f"{config.stem}-{index}"
        cli = build_cli([
            "--config", str(config), "--data", dataset, "--data.path", json.dumps([str(file) for file in files]),
            *data_options, "--trainer.max_steps", str(steps), "--trainer.val_check_interval", str(interval),
            "--trainer.default_root_dir", str(root / name), "--trainer.logger.init_args.name", name,
            "--trainer.logger.init_args.group", "benchmark", "--checkpoint.save_top_k", "0", *extra,
        ], run=False)
        clock = _Clock()
        cli.trainer.callbacks.append(clock)
        cli.trainer.fit(cli.model, cli.datamodule)
        rows = [{key: float(value) for key, value in row.items()} for row in cli.model.member_metrics]
        result.rows += rows
        result.rows_per_fit.append(rows)
        result.sources += [str(file) for file in files]
        result.seconds += clock.training_seconds
        result.curves.append(clock.curve)
        result.network = describe(cli.model)
        result.parameters = sum(p[0].numel() * (2 if p.is_complex() else 1) for p in cli.model.parameters()
                                if p.requires_grad)
        _log_summary(cli, result)
        if cli.trainer.logger is not None and hasattr(cli.trainer.logger, "experiment"):
            cli.trainer.logger.experiment.finish()
    return result


def describe(model) -> str:
    """``Siren``, ``MLP(activation='relu')``, or ``HashGrid + MLP(...)`` when the encoder is not the identity."""
    network = model.network.describe() if hasattr(model.network, "describe") else type(model.network).__name__
    encoder = type(model.encoder.module if hasattr(model.encoder, "module") else model.encoder).__name__
    return network if encoder == "Identity" else f"{encoder} + {network}"


def _log_summary(cli, result: ConfigResult) -> None:
    """One-row ``benchmark/summary`` table in the fit's W&B run."""
    logger = cli.trainer.logger
    if logger is None or not hasattr(logger, "log_table"):
        return
    columns, row = summary_row(result, target=None)
    logger.log_table(key="benchmark/summary", columns=columns, data=[row], step=cli.trainer.global_step)


def summary_row(result: ConfigResult, target: float | None) -> tuple[list[str], list[Any]]:
    """Columns and values of ``result``'s line: mean and std of every metric over signals, and the costs."""
    names = list(result.rows[0]) if result.rows else []
    columns = ["config", "network", "parameters", "signals", "steps", "seconds"]
    values: list[Any] = [Path(result.config).stem, result.network, result.parameters, len(result.rows),
                         result.steps, round(result.seconds, 2)]
    for name in names:
        column = [row[name] for row in result.rows if not math.isnan(row[name])]
        mean = sum(column) / len(column) if column else math.nan
        std = math.sqrt(sum((value - mean) ** 2 for value in column) / len(column)) if column else math.nan
        columns += [f"{name}_mean", f"{name}_std"]
        values += [mean, std]
    if target is not None:
        seconds = result.seconds_to(target)
        columns.append(f"seconds_to_psnr_{target:g}")
        values.append(None if seconds is None else round(seconds, 2))
    return columns, values


def markdown(results: list[ConfigResult], target: float) -> str:
    """The paper-style table: metrics as mean +- std over signals."""
    names = list(results[0].rows[0]) if results and results[0].rows else []
    head = ["config", "network", "parameters", "signals", "steps", *names, "train s", f"s to {target:g} dB"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for result in results:
        _, values = summary_row(result, target)
        cells = [str(value) for value in values[:5]]
        offset = 6
        for _ in names:
            mean, std = values[offset], values[offset + 1]
            cells.append(f"{mean:.2f} +- {std:.2f}" if abs(mean) >= 10 else f"{mean:.4f} +- {std:.4f}")
            offset += 2
        to_target = values[-1]
        cells += [f"{result.seconds:.1f}", "-" if to_target is None else f"{to_target:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def benchmark(configs: list[str], data: str, out: str, limit: int | None, size: int | None, steps: int,
              interval: int | None, target: float, extra: list[str]) -> list[ConfigResult]:
    """Run every config over the folder ``data`` and write ``out``/benchmark.md and benchmark.csv."""
    from datamodules.audio_folder import AUDIO_SUFFIXES
    from datamodules.image_folder import IMAGE_SUFFIXES
    from datamodules.members import signal_files

    if steps < 1:
        raise InputError(f"--steps must be >= 1, got {steps}")
    interval = interval or max(1, steps // 10)
    if not 1 <= interval <= steps:
        raise InputError(f"--interval must be in 1..--steps ({steps}), got {interval}")
    paths = [Path(config) for config in configs]
    for path in paths:
        if not path.is_file():
            raise MissingFileError(f"config not found: {path}")
    root = Path(out)
    results = []
    for config in paths:
        dataset, size_option = dataset_of(config)
        suffixes = IMAGE_SUFFIXES if "image" in dataset else AUDIO_SUFFIXES
        files = signal_files(data, suffixes, "signal files", limit)
        data_options = [f"--data.{size_option}", "null" if size is None else str(size)] if size_option else []
        groups = shape_groups(dataset, files, data_options)
        print(f"inr benchmark: {config} on {len(files)} signals ({len(groups)} shape group(s))", file=sys.stderr)
        results.append(run_config(config, groups, dataset, data_options, steps, interval, root, extra))
    root.mkdir(parents=True, exist_ok=True)
    with atomic_output(root / "benchmark.md") as temporary:
        temporary.write_text(markdown(results, target))
    with atomic_output(root / "benchmark.csv") as temporary, open(temporary, "w", newline="") as handle:
        rows = [summary_row(result, target) for result in results]
        columns = list(dict.fromkeys(column for columns, _ in rows for column in columns))
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for columns_, values in rows:
            writer.writerow(dict(zip(columns_, values)))
    return results


def main(argv: list[str] | None = None) -> None:
    """Parse ``inr benchmark`` arguments and run; options after ``--`` go to every fit."""
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(prog="inr benchmark", description=__doc__.split("\n\n")[0] + "\n\n" +
                                     __doc__.split("\n\n")[1], formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="options after -- go to every fit, e.g. -- --trainer.accelerator cpu")
    parser.add_argument("configs", nargs="+", help="run configs (YAML), e.g. configs/zoo/*.yaml")
    parser.add_argument("--data", required=True, help="a folder of signals, a glob pattern, or one file")
    parser.add_argument("--limit", type=int, default=None, help="use only the first this many files (by name)")
    parser.add_argument("--size", type=int, default=None, help="images: resize so the longer side is this")
    parser.add_argument("--steps", type=int, default=300, help="optimisation steps of every fit")
    parser.add_argument("--interval", type=int, default=None, help="steps between validations (default steps/10)")
    parser.add_argument("--target-psnr", type=float, default=30.0, help="PSNR (dB) whose time to reach is reported")
    parser.add_argument("--out", default="runs/benchmark", help="folder of the table files and the runs")
    options = parser.parse_args(argv)
    try:
        benchmark(options.configs, options.data, options.out, options.limit, options.size, options.steps,
                  options.interval, options.target_psnr, extra)
    except InrError as error:
        print(f"inr benchmark: error: {error}", file=sys.stderr)
        sys.exit(2)
    print((Path(options.out) / "benchmark.md").read_text())
    print(f"inr benchmark: wrote {options.out}/benchmark.md and benchmark.csv", file=sys.stderr)


if __name__ == "__main__":
    main()
