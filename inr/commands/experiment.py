"""``inr experiment``: the spectral-bias experiments, ``rd`` and ``measurements``.

The spectral-bias experiments live in :mod:`inr.experiments`; ``rd`` (:mod:`inr.commands.rd`) and ``measurements``
(:mod:`inr.commands.measurements`) fit through the command line's configs, so they live with the commands.
"""

from __future__ import annotations

import sys

from inr.experiments.cli import main as experiments_main
from inr.experiments.cli import run_function


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``inr experiment NAME [options]``."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["rd"]:
        from inr.commands.rd import run_rd

        run_function(run_rd, "inr experiment rd", args[1:])
        return
    if args[:1] == ["measurements"]:
        from inr.commands.measurements import run_measurements

        run_function(run_measurements, "inr experiment measurements", args[1:])
        return
    experiments_main(args, extra=("rd", "measurements"))
