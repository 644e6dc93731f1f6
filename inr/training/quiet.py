"""A quiet start: third-party notices a plain ``inr fit`` would print before its first step, each filtered alone.

Only these messages are dropped; every other warning and log line of Lightning, torch and W&B still prints.
"""

from __future__ import annotations

import logging
import warnings

#: Lightning's advertisement for its hosted logger, logged at INFO on every fit that uses another logger.
LITLOGGER_TIP = "💡 Tip: For seamless cloud logging and experiment tracking"
#: torch's deprecation of ``isinstance(spec, LeafSpec)``, which Lightning's own pytree copy triggers each step.
PYTREE_DEPRECATION = r"`isinstance\(treespec, LeafSpec\)` is deprecated"


class _DropMessages(logging.Filter):
    """Drops log records whose message starts with one of ``prefixes``."""

    def __init__(self, *prefixes: str) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefixes)


def quiet_third_party_notices() -> None:
    """Install the filters (idempotent)."""
    warnings.filterwarnings("ignore", message=PYTREE_DEPRECATION, category=FutureWarning)
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(existing, _DropMessages) for existing in logger.filters):
            logger.addFilter(_DropMessages(LITLOGGER_TIP))
