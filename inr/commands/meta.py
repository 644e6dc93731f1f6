"""``inr meta``: meta-learning across signals (``fit``, ``validate``) and what a meta-trained checkpoint gives.

``inr meta fit --config configs/meta/maml_siren.yaml`` meta-trains (LightningCLI: the same trainer options, resume,
W&B and DDP as ``inr fit``; the model is a method class: :class:`inr.meta.maml.MAML`, :class:`inr.meta.maml.Reptile`,
:class:`inr.meta.functa.Functa`). ``inr meta export CKPT --out init.ckpt`` writes a learned initialisation as an
ordinary checkpoint (``inr fit --model.init_from init.ckpt``, ``inr render``); ``inr meta latents CKPT --data FILES
--out latents.pt`` fits a functa latent per signal.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

# the methods, imported so that configs and --model name them by class alone (``class_path: MAML``)
import inr.meta.functa  # noqa: F401
import inr.meta.hypernetwork  # noqa: F401
import inr.meta.maml  # noqa: F401
from inr.cli import DEFAULTS, INRCLI, build_cli, class_help, run_cli
from inr.core.errors import InrError
from inr.meta.learner import MetaLearner

EPILOG = (
    "other commands:\n"
    "  inr meta export CKPT --out init.ckpt           a learned initialisation as an ordinary checkpoint\n"
    "  inr meta latents CKPT --data FILES --out latents.pt   functa: one fitted latent vector per signal"
)

COMMAND_HELP = class_help(("inr meta fit --model.help Functa", "a method's options (--model.init_args.*)"),
                          ("inr meta fit --data.help ImagePatchDataModule", "data options (path, patch, holdout)"))

META_DEFAULTS = {
    **DEFAULTS,
    "data": {"class_path": "datamodules.patches.ImagePatchDataModule"},
    "model": {"class_path": "inr.meta.maml.MAML"},
    "checkpoint.filename": "best-step{step}-psnr{val/psnr:.2f}",
}


class MetaCLI(INRCLI):
    """``inr fit``'s CLI with a meta-learning method as the model (chosen by class_path)."""

    signal_key = "model.init_args.signal"
    defaults = META_DEFAULTS


def build_meta_cli(args: list[str] | None = None, run: bool = True, exit_on_error: bool = True) -> MetaCLI:
    """Construct (and by default run) ``inr meta fit`` / ``inr meta validate``."""
    return build_cli(args, run, exit_on_error, cli_class=MetaCLI, model_class=MetaLearner, prog="inr meta",
                     epilog=EPILOG, command_epilog=COMMAND_HELP)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``inr meta``."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in ("export", "latents"):
        from inr.meta import export

        command: Any = export.export_main if args[0] == "export" else export.latents_main
        try:
            command(args[1:])
        except InrError as error:
            print(f"inr meta {args[0]}: error: {error}", file=sys.stderr)
            sys.exit(2)
        return
    # LightningCLI parses `args` and warns that sys.argv holds more; sys.argv stays whole, as DDP relaunches it
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
        run_cli(build_meta_cli, args, "inr meta")
