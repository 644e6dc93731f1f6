"""Module paths of earlier layouts, still importable: class paths in configs and checkpoints are saved API.

Configs and checkpoints name classes by module path (``inr.networks.Siren``, ``_class_path``). :data:`MOVED` is the
one migration table from a module's old path to its home now; :func:`install` puts a finder first on
``sys.meta_path`` that answers an import of an old path with the module itself (one module object under both
names, so classes keep their identity and ``isinstance`` holds). Nothing is copied and nothing warns: a checkpoint
written by any earlier main loads as it is.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Any

#: old module path -> module path now (the flat layout of 2026-12-06 -> the layered one).
MOVED: dict[str, str] = {
    "inr.errors": "inr.core.errors",
    "inr.signal": "inr.core.signal",
    "inr.step": "inr.core.step",
    "inr.evaluation": "inr.core.evaluation",
    "inr.grids": "inr.core.grids",
    "inr.chunks": "inr.core.chunks",
    "inr.diff": "inr.core.diff",
    "inr.precision": "inr.core.precision",
    "inr.atomic": "inr.core.atomic",
    "inr.devices": "inr.core.devices",
    "inr.mesh": "inr.core.mesh",
    "inr.media": "inr.core.media",
    "inr.encoders": "inr.nn.encoders",
    "inr.hash_grid": "inr.nn.hash_grid",
    "inr.networks": "inr.nn.networks",
    "inr.multiplicative_filters": "inr.nn.multiplicative_filters",
    "inr.zoo": "inr.nn.zoo",
    "inr.members": "inr.nn.members",
    "inr.module": "inr.training.module",
    "inr.loss_guard": "inr.training.loss_guard",
    "inr.progress": "inr.training.progress",
    "inr.checkpoints": "inr.training.checkpoints",
    "inr.init_from": "inr.training.init_from",
    "inr.member_shards": "inr.training.member_shards",
    "inr.member_metrics": "inr.training.member_metrics",
    "inr.lightning_private": "inr.training.lightning_private",
    "inr.gradient_sync": "inr.training.distributed.gradient_sync",
    "inr.distributed": "inr.training.distributed.faults",
    "inr.watchdog": "inr.training.distributed.watchdog",
    "inr.liveness": "inr.training.distributed.liveness",
    "inr.wandb_logger": "inr.io.wandb_logger",
    "inr.checkpoint_io": "inr.io.checkpoint_io",
    "datamodules.video_io": "inr.io.video_files",
    "inr.render": "inr.commands.render",
    "inr.export": "inr.commands.export",
    "inr.benchmark": "inr.commands.benchmark",
    "inr.experiments.ntk_command": "inr.commands.ntk",
    "inr.meta.cli": "inr.commands.meta",
}


def current_path(class_path: str) -> str:
    """``module.Name`` with an old module path replaced by its home now; other paths as they are."""
    module, _, name = class_path.rpartition(".")
    return f"{MOVED[module]}.{name}" if module in MOVED else class_path


def migrate_class_paths(tree: Any) -> Any:
    """``tree`` (a checkpoint's hyper-parameters, a config) with every class path given by :func:`current_path`.

    Class paths are strings anywhere in it: ``class_path`` / ``_class_path`` values and bare ones
    (``encoder: inr.encoders.Identity``).
    """
    if isinstance(tree, dict):
        return {key: migrate_class_paths(value) for key, value in tree.items()}
    if isinstance(tree, list):
        return [migrate_class_paths(value) for value in tree]
    return current_path(tree) if isinstance(tree, str) else tree


class _Alias(importlib.abc.Loader):
    """Loads an old module path as the module at its new path."""

    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing: the target module ran when it was imported."""


class _MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Finds the modules of :data:`MOVED` under their old paths."""

    def find_spec(self, fullname: str, path=None, target=None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Alias(MOVED[fullname]))


def install() -> None:
    """Put the finder first on ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _MovedModuleFinder())
