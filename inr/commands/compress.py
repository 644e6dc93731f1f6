"""``inr compress``: a signal or a fitted checkpoint as a small file (quantised, range-coded weights)."""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from inr.commands.catalog import SHIPPED_CONFIGS
from inr.core.errors import InputError, InrError
from inr.core.evaluation import Evaluation
from inr.training.compression import (
    MODEL_KEYS,
    Compression,
    checkpoint_model,
    compress_state,
    finetune_quantised,
    load_compressed,
)
from inr.training.rate_presets import network_for_rate

#: the config a signal is fitted with, by file type (any config can be given with --config).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
CONFIGS = {"image": "image_siren.yaml", "audio": "audio_siren.yaml"}


def bits_per_point(size_bytes: int, signal: dict[str, Any]) -> float:
    """The file's bits per point of the signal's grid (bpp for an image, bits per sample for audio)."""
    return size_bytes * 8 / math.prod(signal["shape"])


def _fit_args(source: str, config: str, steps: int, lr: float, root: str) -> list[str]:
    return ["--config", config, "--data.path", source, "--trainer.max_steps", str(steps),
            "--model.optimizer.init_args.lr", str(lr),
            "--trainer.val_check_interval", str(steps), "--trainer.logger", "false", "--trainer.default_root_dir",
            root, "--checkpoint.save_top_k", "0", "--trainer.enable_model_summary", "false"]


@contextmanager
def fitted(source: str, bpp: float | None, how: Compression, config: str | None = None, steps: int = 2000,
           lr: float = 1e-3, init: str | None = None,
           start_from_init: bool = True) -> Iterator[tuple[Any, dict, dict, tuple[int, int]]]:
    """Fit ``source`` with the SIREN of ``bpp`` (:func:`network_for_rate`): yields ``(cli, header, state, shape)``.

    ``cli`` is the fit's LightningCLI (its model and datamodule), ``header`` and ``state`` the fitted model as
    :func:`inr.training.compression.checkpoint_model` reads it, ``shape`` the SIREN's (layers, width). With ``init``
    (a learned initialisation: an exported meta checkpoint) the fit takes its network (``bpp`` is not used) and
    starts from its weights, or (``start_from_init`` False) from the network's own initialisation, the comparison
    that shows what the init buys. The fit's files live in a temporary folder, removed on leaving the context.
    """
    from inr.cli import build_cli

    kind = "audio" if source.lower().endswith(AUDIO_SUFFIXES) else "image"
    native = ["--data.size", "null"] if config is None and kind == "image" else []  # the image's own pixels
    config = config or str(SHIPPED_CONFIGS / CONFIGS[kind])
    with tempfile.TemporaryDirectory() as root:
        if init is not None:
            start = checkpoint_model(init)[0]
            sized = ["--model.encoder", json.dumps(start["encoder"]), "--model.network", json.dumps(start["network"]),
                     *(["--model.init_from", init] if start_from_init else [])]
            options = start["network"].get("init_args", {})
            layers, width = options.get("layers", 0) + 1, options.get("hidden", 0)
        else:
            probe = build_cli([*_fit_args(source, config, steps, lr, root), *native], run=False)
            header = {key: probe.model.hparams[key] for key in MODEL_KEYS if key != "signal"}
            header["signal"] = probe.model.signal.to_dict()
            (layers, width), _ = network_for_rate(bpp, header, how)
            sized = ["--model.network.init_args.hidden", str(width), "--model.network.init_args.layers",
                     str(layers - 1)]
        cli = build_cli(["fit", *_fit_args(source, config, steps, lr, root), *native, *sized])
        header, state = checkpoint_model(Path(root) / "checkpoints" / "last.ckpt")
        yield cli, header, state, (layers, width)


def quantisation_aware_state(cli: Any, state: dict, how: Compression, steps: int, lr: float) -> dict:
    """The fitted model of ``cli`` fine-tuned ``steps`` steps through its quantised weights: its new ``state``.

    The model is changed in place; ``state`` (the fit's weights) names the tensors kept.
    """
    model = cli.model
    finetune_quantised(model, cli.datamodule.validation_batch(model.device), how, steps, lr)
    return {name: value for name, value in model.state_dict().items() if name in state}


def compress_fitted(cli: Any, header: dict, state: dict, out: str, how: Compression,
                    init: str | None = None) -> dict[str, Any]:
    """``state`` written to ``out`` and decoded again: ``{"bytes", "bpp", metric: value}`` of the decoded model."""
    size, _ = compress_state(header, state, out, how, init)
    decoded = load_compressed(out, init=init)
    batch = cli.datamodule.validation_batch(decoded.device)
    evaluation = Evaluation(spec=decoded.signal, batch=batch, prediction=decoded.predict_values(batch["coords"]),
                            step=cli.trainer.global_step, predict=decoded.predict_values)
    metrics = {name: float(value) for name, value in decoded.metric_values(evaluation).items()}
    return {"bytes": size, "bpp": bits_per_point(size, header["signal"]), **metrics}


def fit_and_compress(source: str, out: str, bpp: float | None, how: Compression, config: str | None = None,
                     steps: int = 2000, lr: float = 1e-3, qat_steps: int = 0,
                     init: str | None = None) -> dict[str, Any]:
    """Fit ``source`` (:func:`fitted`), then compress it to ``out``: the file's size, bpp, shape and quality.

    With ``qat_steps``, the fit is fine-tuned that many steps through its quantised weights (lr / 10) first. With
    ``init``, the file codes the difference from it.
    """
    with fitted(source, bpp, how, config, steps, lr, init) as (cli, header, state, shape):
        if qat_steps:
            state = quantisation_aware_state(cli, state, how, qat_steps, lr / 10)
        return {**compress_fitted(cli, header, state, out, how, init), "shape": shape}


def main(argv: list[str] | None = None) -> None:
    """Parse ``inr compress`` arguments and compress."""
    parser = argparse.ArgumentParser(prog="inr compress", description="A signal or a fitted checkpoint as a small "
                                     "file: quantised, range-coded weights (docs/compression.md).")
    parser.add_argument("source", help="a .ckpt of one signal written by inr fit, or a signal file (an image; audio) "
                                       "to fit at --bpp")
    parser.add_argument("--out", required=True, help="the compressed file to write (e.g. image.inrz)")
    parser.add_argument("--bpp", type=float, default=None,
                        help="for a signal file: the target bits per point (pixel); the largest SIREN whose file "
                             "fits is fitted")
    parser.add_argument("--config", default=None, help="for a signal file: the fit's config (default "
                        "configs/image_siren.yaml, configs/audio_siren.yaml for audio)")
    parser.add_argument("--steps", type=int, default=2000, help="for a signal file: training steps (default 2000)")
    parser.add_argument("--lr", type=float, default=1e-3,
                        help="for a signal file: Adam's learning rate (default 1e-3: a small SIREN learns in a few "
                             "hundred steps at 1e-3 what it learns in thousands at the notebooks' 1e-4)")
    parser.add_argument("--bits", type=int, default=8, help="quantisation bits per weight (2..16; default 8)")
    parser.add_argument("--per-channel", action="store_true",
                        help="one quantisation range per output channel (row of a weight) instead of per tensor")
    parser.add_argument("--step", choices=("range", "mse"), default="range",
                        help="quantisation step: each range over 2^bits - 1 (default), or the range shrunk for the "
                             "least squared error")
    parser.add_argument("--qat-steps", type=int, default=0,
                        help="for a signal file: fine-tune this many steps through the quantised weights "
                             "(straight-through) before coding")
    parser.add_argument("--init", default=None,
                        help="a learned initialisation (inr meta export ... --out init.ckpt): a signal is fitted from "
                             "it with its network, and the file codes the weights' difference from it; inr decompress "
                             "needs the same file (--init, or beside the compressed file)")
    parser.add_argument("--mode", choices=("quantised", "float16", "float32"), default="quantised",
                        help="quantised and range-coded (default), float16 (COIN) or float32 (lossless)")
    options = parser.parse_args(argv)
    try:
        how = Compression(options.mode, options.bits, options.per_channel, options.step)
        if options.source.endswith(".ckpt"):
            header, state = checkpoint_model(options.source)
            size, _ = compress_state(header, state, options.out, how, options.init)
            signal = header["signal"]
            unit = "bpp" if signal["kind"] == "image" else "bits per point"
            print(f"wrote {options.out}: {size} bytes, {bits_per_point(size, signal):.4f} {unit} "
                  f"({' x '.join(map(str, signal['shape']))})")
            return
        if options.bpp is not None and options.init is not None:
            raise InputError("--bpp and --init exclude each other: a learned initialisation fixes the network")
        if options.bpp is None and options.init is None:
            raise InputError(f"{options.source} is a signal: give --bpp RATE (or compress a fitted .ckpt)")
        result = fit_and_compress(options.source, options.out, options.bpp, how, options.config, options.steps,
                                  options.lr, options.qat_steps, options.init)
        quality = ", ".join(f"{name} {value:.2f}" for name, value in result.items()
                            if name not in ("bytes", "bpp", "shape"))
        print(f"wrote {options.out}: {result['bytes']} bytes, {result['bpp']:.4f} bpp, SIREN {result['shape'][0]} x "
              f"{result['shape'][1]}; decoded: {quality}")
    except InrError as error:
        print(f"inr compress: error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
