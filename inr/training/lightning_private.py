"""Every use of a private Lightning or torch API in inr, in one place, with what it stands in for.

inr pins ``lightning`` to the minor version it is tested with (pyproject.toml); when that pin moves, these are the
lines to check. Besides the functions below, two subclasses override private hooks, because the public API offers
no other way:

- ``inr.training.checkpoints.Checkpoint`` (a ``ModelCheckpoint``) reads ``_every_n_train_steps`` and
  ``_last_global_step_saved`` and calls ``_should_skip_saving_checkpoint``, ``_monitor_candidates``,
  ``_save_last_checkpoint``, ``_save_topk_checkpoint`` and ``_should_save_on_exception``: to rank a best
  checkpoint after the validation of its own weights, and to save a final ``last.ckpt``.
- ``inr.cli.INRCLI`` (a ``LightningCLI``) overrides ``_parse_ckpt_path`` (refuse a resume with other options before
  Lightning loads) and ``_instantiate_trainer`` (add inr's callbacks, set the process-group timeout).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any


def instantiated_by_cli() -> bool:
    """Whether LightningCLI is instantiating the module now (its hyperparameters are then the primitive config).

    Reads ``lightning.pytorch.core.mixins.hparams_mixin._given_hyperparameters``: LightningCLI's context variable.
    """
    from lightning.pytorch.core.mixins.hparams_mixin import _given_hyperparameters

    return _given_hyperparameters.get() is not None


def launched_ranks(strategy: Any) -> list[Any]:
    """The processes rank zero launched for the other local ranks (``subprocess.Popen``), or none.

    Reads ``_SubprocessScriptLauncher.procs``: Lightning keeps no public handle on the ranks it starts.
    """
    from lightning.pytorch.strategies.launchers.subprocess_script import _SubprocessScriptLauncher

    launcher = getattr(strategy, "launcher", None)
    return list(launcher.procs) if isinstance(launcher, _SubprocessScriptLauncher) else []


def process_group_timeout(strategy: Any) -> timedelta | None:
    """The process-group timeout a DDP strategy will use (``DDPStrategy._timeout``; settable only at construction)."""
    return getattr(strategy, "_timeout", None)


def set_process_group_timeout(strategy: Any, timeout: timedelta) -> None:
    """Set a DDP strategy's process-group timeout after the Trainer built it (``DDPStrategy._timeout``)."""
    strategy._timeout = timeout


def default_store() -> Any | None:
    """The default process group's key-value store (``torch.distributed.distributed_c10d._get_default_store``)."""
    import torch.distributed as dist

    try:
        return dist.distributed_c10d._get_default_store()
    except Exception:  # noqa: BLE001 - no store (single process or torn down)
        return None


def compiler_failure() -> type[BaseException]:
    """What torch.compile raises when its backend cannot build (``torch._dynamo.exc.BackendCompilerFailed``)."""
    import torch._dynamo.exc

    return torch._dynamo.exc.BackendCompilerFailed


def logger_started(logger: Any) -> bool:
    """Whether a Lightning logger has created its experiment (``Logger._experiment``), without creating it."""
    return getattr(logger, "_experiment", None) is not None
