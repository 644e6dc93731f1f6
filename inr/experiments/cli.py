"""``inr experiment {psweep,table,spectra}``: the spectral-bias experiments, options from the function signatures.

Every option of :func:`inr.experiments.psweep.run_psweep`, :func:`inr.experiments.table.run_table` and
:func:`inr.experiments.spectra.run_spectra` is a flag (``--steps 500``) or a key of a YAML ``--config``
(``configs/ntk/*.yaml``); ``inr experiment psweep --help`` lists them with their documentation.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from inr.core.errors import InrError

EXPERIMENTS = {
    "psweep": "inr.experiments.psweep:run_psweep",
    "table": "inr.experiments.table:run_table",
    "spectra": "inr.experiments.spectra:run_spectra",
}


def run_function(function: Callable, prog: str, argv: list[str] | None) -> None:
    """Parse ``argv`` into ``function``'s arguments (jsonargparse, with ``--config``) and call it.

    Input errors (:class:`inr.core.errors.InrError`) print one line and exit with status 2.
    """
    from jsonargparse import ActionConfigFile, ArgumentParser

    parser = ArgumentParser(prog=prog, description=(function.__doc__ or "").split("\n")[0])
    parser.add_argument("--config", action=ActionConfigFile, help="YAML file with any of the options below")
    parser.add_function_arguments(function, as_group=False)
    config = parser.parse_args(sys.argv[1:] if argv is None else argv)
    config.pop("config", None)
    init = parser.instantiate_classes(config)
    try:
        function(**init.as_dict())
    except InrError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        sys.exit(2)


def main(argv: list[str] | None = None, extra: tuple[str, ...] = ()) -> None:
    """Entry point of ``inr experiment NAME [options]``; ``extra`` names experiments a higher layer runs (usage)."""
    import importlib

    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] not in EXPERIMENTS:
        choices = ", ".join([*EXPERIMENTS, *extra])
        print(f"usage: inr experiment {{{choices}}} [--config FILE] [--option value ...] (--help for options)",
              file=sys.stderr)
        sys.exit(0 if args and args[0] in ("-h", "--help") else 2)
    module_name, function_name = EXPERIMENTS[args[0]].split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    run_function(function, f"inr experiment {args[0]}", args[1:])
