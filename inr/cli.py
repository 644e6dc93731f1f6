"""The ``inr`` command: LightningCLI (``fit``, ``validate``) plus ``render``.

``inr fit --config configs/image_siren.yaml`` fits; ``--ckpt_path last`` resumes the newest
``<default_root_dir>/**/checkpoints/last.ckpt`` and continues the same W&B run; ``inr render CKPT --out FILE``
rebuilds the model from the checkpoint alone and writes the signal it represents.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import ProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

# Every module whose classes a config may name, imported here so that jsonargparse resolves short names among the
# subclasses it knows (``network: Finer``, ``--data ImageFolderDataModule``); full class paths work as well.
import datamodules.audio_folder  # noqa: F401
import datamodules.blend  # noqa: F401
import datamodules.clips  # noqa: F401
import datamodules.ct  # noqa: F401
import datamodules.ct_folder  # noqa: F401
import datamodules.image_folder  # noqa: F401
import datamodules.mri  # noqa: F401
import datamodules.mri_folder  # noqa: F401
import datamodules.occupancy  # noqa: F401
import datamodules.occupancy_folder  # noqa: F401
import datamodules.patches  # noqa: F401
import datamodules.shape_folder  # noqa: F401
import datamodules.video  # noqa: F401
import inr.io.wandb_logger  # noqa: F401
import inr.losses.derivatives  # noqa: F401
import inr.losses.measurements  # noqa: F401
import inr.losses.sdf  # noqa: F401
import inr.metrics  # noqa: F401
import inr.nn.hash_grid  # noqa: F401
import inr.nn.multiplicative_filters  # noqa: F401
import inr.nn.zoo  # noqa: F401
from datamodules.base import SignalDataModule
from inr.core.errors import InputError, InrError, MissingFileError, print_error_line
from inr.training.checkpoints import Checkpoint, read_checkpoint
from inr.training.distributed.faults import (
    DEFAULT_TIMEOUT_S,
    RankFailureReporter,
    apply_timeout,
    check_timeout,
    is_transport_error,
)
from inr.training.distributed.watchdog import HangWatchdog
from inr.training.lightning_private import logger_started
from inr.training.module import INRModule
from inr.training.progress import ProgressBar as InrProgressBar
from inr.training.quiet import quiet_third_party_notices
from inr.training.report import fit_summary, metrics_table

quiet_third_party_notices()

#: commands beside LightningCLI's, each ``module:function`` taking the remaining arguments.
COMMANDS = {
    "render": "inr.commands.render:main",
    "export": "inr.commands.export:main",  # a batched checkpoint's members: one stacked file, or one checkpoint each
    "benchmark": "inr.commands.benchmark:main",  # configs over a folder of signals: the paper-style table
    "ntk": "inr.commands.ntk:main",  # NTK report of any encoder + network (docs/ntk.md)
    "experiment": "inr.commands.experiment:main",  # spectral-bias experiments (psweep, table, spectra) and rd
    "meta": "inr.commands.meta:main",  # learning across signals: meta-learned inits, functa (docs/meta.md)
    "list": "inr.commands.catalog:main",  # the shipped configs and the classes a config can name
    "compress": "inr.commands.compress:main",  # a fit as a small file: quantised, range-coded weights
    "decompress": "inr.commands.decompress:main",  # the file back to the signal
}

EPILOG = (
    "other commands:\n"
    "  inr list [networks|encoders|losses|...]       the shipped configs and every class a config can name\n"
    "  inr render CKPT --out FILE [--resolution N]   write the signal a checkpoint represents (see inr render --help)\n"
    "  inr export CKPT --out members.pt               the members of a fit of a folder: stacked, or --checkpoints DIR\n"
    "  inr compress CKPT --out FILE [--bits 8]        the fit as a small file; inr decompress FILE --out x.png\n"
    "  inr benchmark CONFIGS --data FOLDER            configs over a folder of signals: mean +- std table\n"
    "  inr ntk --config configs/ntk/siren.yaml        neural tangent kernel, spectrum, eigenvalues of a model\n"
    "  inr experiment {psweep,table,spectra,rd} ...   the spectral-bias experiments (docs/ntk.md), rate-distortion\n"
    "  inr meta {fit,validate,export,latents} ...     learned initialisations and functa over many signals"
)



def class_help(*rows: tuple[str, str]) -> str:
    """The help's closing lines on the chosen classes' options: one ``(command, what it shows)`` per row."""
    lines = [f"  {command:<48} {what}" for command, what in rows]
    return "\n".join(["options of the chosen classes:", *lines,
                      "  classes by short name (Siren, HashGrid, ImageFolderDataModule) or full path "
                      "(inr.nn.networks.Siren); inr list shows them all, and the shipped configs"])


CLASS_HELP = class_help(("inr fit --data.help ImageDataModule", "data options (path, size, batch_size, seed)"),
                        ("inr fit --model.encoder.help GaussianFourier", "encoder options; likewise --model.network"))

DEFAULTS = {
    "data": {"class_path": "datamodules.image.ImageDataModule"},
    "trainer.logger": {"class_path": "inr.io.wandb_logger.WandbLogger"},
    "trainer.default_root_dir": "runs",
    "trainer.max_steps": 500,
    "trainer.val_check_interval": 100,
    "trainer.check_val_every_n_epoch": None,
    "trainer.num_sanity_val_steps": 0,
    "trainer.log_every_n_steps": 10,
    "trainer.plugins": [{"class_path": "inr.io.checkpoint_io.AtomicCheckpointIO"}],
    "trainer.inference_mode": False,  # validation may differentiate the network (derivative metrics)
    "checkpoint.save_last": True,
    "checkpoint.every_n_train_steps": 100,
    "checkpoint.save_on_train_epoch_end": True,
    "checkpoint.monitor": "val/psnr",
    "checkpoint.mode": "max",
    "checkpoint.save_top_k": 1,
    "checkpoint.filename": "best-step{step}-psnr{val/psnr:.2f}",
    "checkpoint.auto_insert_metric_name": False,
}


#: ``--ckpt_path`` values Lightning resolves itself (``last`` is inr's: the newest run's last.ckpt).
LIGHTNING_CKPT_NAMES = ("last", "best", "hpc", "registry")
#: model options that change speed, not the model: a run may resume with other values.
SPEED_OPTIONS = ("chunk_size", "compile", "matmul_precision")


def find_last_checkpoint(root: str | Path) -> Path | None:
    """Newest ``last.ckpt`` under ``root/**/checkpoints/``, or None."""
    candidates = list(Path(root).glob("**/checkpoints/last.ckpt"))
    return max(candidates, key=lambda path: path.stat().st_mtime) if candidates else None


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, dict):
        return {key: value for name, sub in tree.items() for key, value in _flatten(sub, f"{prefix}{name}.").items()}
    return {prefix.rstrip("."): tree}


def check_resume(ckpt_path: str, config_yaml: str, subcommand: str) -> None:
    """Raise a clear error when resuming ``ckpt_path`` with other model options or too few ``max_steps``."""
    import yaml

    checkpoint = read_checkpoint(ckpt_path, name=f"--ckpt_path {ckpt_path}")
    config = yaml.safe_load(config_yaml)[subcommand]
    model = config["model"]
    if "class_path" in model:  # a model chosen by class (inr meta): its options are the init_args
        model = model.get("init_args") or {}
    saved_class = checkpoint.get("hyper_parameters", {}).get("_class_path")
    if saved_class is not None and saved_class != config["model"].get("class_path"):
        raise InputError(f"cannot resume {ckpt_path}: it was written by {saved_class}, the model now is "
                         f"{config['model'].get('class_path')}; resume with the run's own config")
    saved = {key: value for key, value in checkpoint.get("hyper_parameters", {}).items()
             if key not in ("_instantiator", "_class_path", "signal", *SPEED_OPTIONS)}
    wanted = _flatten({key: model.get(key) for key in saved}, "model.")
    saved = _flatten(saved, "model.")
    differing = sorted(key for key in saved.keys() | wanted.keys() if saved.get(key) != wanted.get(key))
    other_class = [key[: -len("class_path")] for key in differing if key.endswith("class_path")]
    differing = [key for key in differing if not any(key.startswith(f"{part}init_args.") for part in other_class)]
    if differing:
        lines = "; ".join(f"{key}: checkpoint {saved.get(key)!r}, now {wanted.get(key)!r}" for key in differing)
        raise InputError(
            f"cannot resume {ckpt_path}: the model options differ from the checkpoint's ({lines}). "
            "Resume with the run's own config (its config.yaml), or start a new run without --ckpt_path."
        )
    max_steps = config["trainer"].get("max_steps")
    step = checkpoint.get("global_step", 0)
    if max_steps is not None and max_steps != -1 and max_steps == step:
        raise RunComplete(f"{ckpt_path} is at step {step} = --trainer.max_steps: the run is complete, nothing to do "
                          f"(set --trainer.max_steps above {step} to train further)")
    if max_steps is not None and max_steps != -1 and max_steps < step:
        raise InputError(
            f"cannot resume {ckpt_path}: it is already at step {step} and --trainer.max_steps is {max_steps}; "
            f"set --trainer.max_steps above {step} to train further"
        )


class RunComplete(Exception):
    """Resuming a run that already reached ``max_steps``: ``inr fit`` says so and exits 0 (a requeued job's rerun)."""


class INRCLI(LightningCLI):
    """LightningCLI with inr's defaults, the data -> model link and resume of the newest run."""

    #: the model option the data's signal description is linked to.
    signal_key = "model.signal"
    #: defaults of the options (overridden by ``inr meta``).
    defaults = DEFAULTS

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        """``fit`` and ``validate``: an INRModule has no test or predict step (``inr render`` writes the signal)."""
        return {key: value for key, value in LightningCLI.subcommands().items() if key in ("fit", "validate")}

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """Link the signal description from the data to the model; add the checkpoint callback's options."""
        parser.link_arguments("data", self.signal_key, compute_fn=lambda data: data.signal_spec.to_dict(),
                              apply_on="instantiate")
        parser.add_lightning_class_args(Checkpoint, "checkpoint")
        parser.add_argument("--ddp_timeout", type=float, default=DEFAULT_TIMEOUT_S,
                            help="seconds a DDP rank may make no progress (e.g. waiting for a hung rank) before the "
                                 "job stops, naming the rank behind; a rank that raises stops the job at once")
        parser.set_defaults(self.defaults)

    def parse_arguments(self, parser: LightningArgumentParser, args) -> None:
        """Parse, then turn ``--ckpt_path last`` into the newest last.ckpt under the run folder."""
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        if subcommand is None or self.config[subcommand].get("ckpt_path") != "last":
            return
        root = self.config[subcommand].trainer.default_root_dir or "."
        last = find_last_checkpoint(root)
        if last is None:
            print(f"inr: --ckpt_path last: no checkpoints under {root}/**/checkpoints/, starting a new run",
                  file=sys.stderr)
            self.config[subcommand].ckpt_path = None
            return
        print(f"inr: resuming from {last}", file=sys.stderr)
        self.config[subcommand].ckpt_path = str(last)
        self._resume_run_id = last.parent.parent.name

    def _parse_ckpt_path(self) -> None:
        """Refuse a missing or unreadable checkpoint, or a resume with other model options; then let Lightning load."""
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if ckpt_path and ckpt_path not in LIGHTNING_CKPT_NAMES:
            if not Path(ckpt_path).is_file():
                raise MissingFileError(f"--ckpt_path {ckpt_path}: no such checkpoint file")
            if subcommand == "fit":
                check_resume(ckpt_path, self.parser.dump(self.config, format="yaml", skip_unset=False), subcommand)
        super()._parse_ckpt_path()

    def before_instantiate_classes(self) -> None:
        """Put the logger's files under the run folder; continue the checkpoint's run when resuming."""
        config = self.config[self.subcommand] if self.subcommand else self.config
        logger = config.trainer.logger
        if logger is None or isinstance(logger, bool) or isinstance(logger, list):
            return
        init_args = logger.get("init_args")
        if init_args is None:
            return
        if "save_dir" in init_args and init_args.save_dir is None:
            init_args.save_dir = config.trainer.default_root_dir
        run_id = getattr(self, "_resume_run_id", None)
        if run_id is not None and "version" in init_args and init_args.version is None:
            init_args.version = run_id

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list) -> Any:
        """Lightning's Trainer plus the rank-failure reporter and inr's progress bar, with ``--ddp_timeout``."""
        seconds = (self.config[self.subcommand] if self.subcommand else self.config).get("ddp_timeout")
        check_timeout(seconds)
        extra = [RankFailureReporter(), HangWatchdog(seconds if seconds is not None else DEFAULT_TIMEOUT_S)]
        configured = config.get("callbacks") or []
        chosen = [*callbacks, *(configured if isinstance(configured, list) else [configured])]
        if config.get("enable_progress_bar") is not False and not any(isinstance(c, ProgressBar) for c in chosen):
            extra.append(InrProgressBar())
        trainer = super()._instantiate_trainer(config, [*callbacks, *extra])
        apply_timeout(trainer.strategy, seconds)
        return trainer

    def after_fit(self) -> None:
        """Close with the best value of the main metric, where the checkpoints and the offline W&B run are."""
        callback = self.trainer.checkpoint_callback
        logger = self.trainer.logger
        monitor = getattr(callback, "monitor", None)
        score = getattr(callback, "best_model_score", None)
        best = float(score) if score is not None else self.model.best_metrics.get(monitor or "")
        offline = getattr(logger, "offline", False) and logger_started(logger)
        lines = fit_summary(monitor, best, getattr(callback, "best_model_path", None) or None,
                            getattr(callback, "dirpath", None), Path(logger.experiment.dir).parent if offline else None)
        if self.trainer.is_global_zero:
            for line in lines:
                print(f"inr: {line}", file=sys.stderr)
        if logger_started(logger) and hasattr(logger.experiment, "finish"):
            logger.experiment.finish()  # flush and close, so a later resume in another process can reopen the id

    def before_validate(self) -> None:
        """A validation writes no checkpoint: the checkpoint callback's notice that its folder moved is no news."""
        warnings.filterwarnings("ignore", message="The dirpath has changed from")

    def after_validate(self) -> None:
        """Print every value the validation logged (over many signals: mean, std, min, max)."""
        report = self.model.validation_report
        if not self.trainer.is_global_zero:
            return
        if not report:
            print("inr: the validation logged no metric", file=sys.stderr)
            return
        ckpt_path = self.config[self.subcommand].get("ckpt_path")
        step = self.model.restored_step
        source = f"{ckpt_path} (step {step})" if ckpt_path else "the model as built (no --ckpt_path)"
        print(metrics_table(report, f"validation of {source}"), flush=True)


def build_cli(args: list[str] | None = None, run: bool = True, exit_on_error: bool = True,
              cli_class: type[INRCLI] | None = None, model_class: type | None = None, prog: str = "inr",
              epilog: str = EPILOG, command_epilog: str = CLASS_HELP) -> INRCLI:
    """Construct (and by default run) the CLI; ``args=None`` reads sys.argv.

    ``exit_on_error=False`` raises ``argparse.ArgumentError`` for a bad option instead of printing the usage and
    exiting (``main`` turns it into one line). ``cli_class`` and ``model_class`` (default :class:`INRCLI` and
    :class:`INRModule`) let ``inr meta`` reuse it with a method class chosen by ``class_path``.
    """
    return (cli_class or INRCLI)(
        model_class or INRModule,
        SignalDataModule,
        subclass_mode_model=model_class is not None,
        subclass_mode_data=True,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={
            "prog": prog,
            "epilog": epilog,
            "formatter_class": _formatter(),
            "exit_on_error": exit_on_error,
            **{command: {"epilog": command_epilog, "exit_on_error": exit_on_error} for command in ("fit", "validate")},
        },
        args=args,
        run=run,
    )


def _formatter():
    """The help formatter of jsonargparse, keeping the epilog's line breaks."""
    import argparse

    from jsonargparse import DefaultHelpFormatter

    return type("HelpFormatter", (DefaultHelpFormatter, argparse.RawDescriptionHelpFormatter), {})


def input_error(error: BaseException) -> InrError | None:
    """The :class:`inr.core.errors.InrError` behind ``error`` (following ``__cause__`` / ``__context__``), if any.

    jsonargparse wraps errors raised while instantiating the classes; the user needs our message, not the chain.
    """
    while error is not None:
        if isinstance(error, InrError):
            return error
        error = error.__cause__ or error.__context__
    return None


_PARSER_NOISE = ("Subtypes:", "Errors:", "Given value", "Does not validate against", "Expected a <class 'NoneType'>",
                 "Expected a path but", "Problem with given class_path")


def parser_error_line(error: argparse.ArgumentError) -> str:
    """Jsonargparse's several-line ``Parser key "k": reasons`` as ``--k: the specific reasons`` on one line."""
    text = str(error)
    match = re.match(r'Parser key "([^"]+)":\s*(.*)', text, re.S)
    if match is None:
        return " ".join(text.split())
    key, rest = match.groups()
    reasons = []
    for line in rest.splitlines():
        line = line.strip().lstrip("-").strip()
        if line and not line.startswith(_PARSER_NOISE):
            reasons.append(re.sub(r"^Type .*? expects .*?: ", "", line))
    return f"--{key}: {'; '.join(dict.fromkeys(reasons)) or ' '.join(rest.split())}"


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``inr`` command; input errors print one line (set INR_DEBUG=1 for the traceback)."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in COMMANDS:
        module_name, function_name = COMMANDS[args[0]].split(":")
        getattr(importlib.import_module(module_name), function_name)(args[1:])
        return
    run_cli(build_cli, argv, "inr")


def run_cli(build: Any, argv: list[str] | None, prog: str) -> None:
    """Run ``build(argv, exit_on_error=False)`` (a LightningCLI; None reads sys.argv); user errors print one line."""
    args = sys.argv[1:] if argv is None else argv
    try:
        build(argv, exit_on_error=False)
    except argparse.ArgumentError as error:
        if os.environ.get("INR_DEBUG"):
            raise
        command = f"{prog} {args[0]}" if args and args[0] in INRCLI.subcommands() else prog
        print_error_line(f"{parser_error_line(error)} (see {command} --help)")
        sys.exit(2)
    except RunComplete as complete:
        print(f"inr: {complete}", file=sys.stderr)
        return
    except Exception as error:
        cause = input_error(error)
        rank_failure = getattr(error, "inr_rank_failure", None)
        if rank_failure is not None:  # multi-process job: name the rank that failed, in one line
            if (cause is None and not is_transport_error(error)) or os.environ.get("INR_DEBUG"):
                traceback.print_exc()
            print_error_line(rank_failure)
            sys.exit(1)
        if cause is None or os.environ.get("INR_DEBUG"):
            raise
        message = cause.args[0] if isinstance(cause, KeyError) and cause.args else cause
        print_error_line(str(message))
        sys.exit(2)


if __name__ == "__main__":
    main()
