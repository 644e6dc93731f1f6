"""The layered house: import-linter's contracts (pyproject.toml) hold, and no module imports itself in a cycle."""

from __future__ import annotations

import shutil
import subprocess
import sys

import grimp
from conftest import ROOT


def _lint_imports(root) -> subprocess.CompletedProcess:
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())"
    return subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"}, timeout=120)


def test_the_layer_contracts_hold():
    done = _lint_imports(ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "Contracts: 4 kept, 0 broken." in done.stdout


def test_an_upward_import_breaks_a_contract(tmp_path):
    for name in ("inr", "datamodules"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    grids = tmp_path / "inr" / "core" / "grids.py"
    grids.write_text(grids.read_text() + "\n\ndef _late():\n    from inr.training import module  # noqa: F401\n")
    done = _lint_imports(tmp_path)
    assert done.returncode == 1 and "inr.core.grids -> inr.training.module" in done.stdout, done.stdout[-3000:]


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected sets of more than one module (imports inside functions count)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles_counting_imports_inside_functions():
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))
    graph = grimp.build_graph("inr", "datamodules")
    assert "inr.training.module" in graph.modules
    assert _cycles(graph) == []
    graph.add_import(importer="inr.core.grids", imported="inr.core.chunks")
    graph.add_import(importer="inr.core.chunks", imported="inr.core.grids")
    assert _cycles(graph) == [["inr.core.chunks", "inr.core.grids"]]  # the check sees one when there is one


def test_inr_keeps_at_most_four_top_level_modules():
    modules = sorted(path.name for path in (ROOT / "inr").glob("*.py"))
    assert len(modules) <= 4, modules


def test_shipped_configs_name_classes_by_short_names():
    import re

    long_paths = []
    for config in sorted((ROOT / "configs").rglob("*.yaml")):
        for line in config.read_text().splitlines():
            found = re.match(r"\s*(?:-\s+)?(?:class_path|encoder|network)?:?\s*((?:inr|datamodules)\.[\w.]+)\s*$",
                             line)
            if found and not found.group(1).endswith("WandbLogger"):  # Lightning has a WandbLogger too
                long_paths.append(f"{config.name}: {found.group(1)}")
    assert long_paths == []


def test_short_new_and_old_class_paths_choose_the_same_classes(gray_png, tmp_path):
    from inr.cli import build_cli
    from inr.nn.zoo import Finer

    image = gray_png
    for network in ("Finer", "inr.nn.zoo.Finer", "inr.zoo.Finer"):
        cli = build_cli(["--config", "configs/image_siren.yaml", "--model.network", network,
                         "--model.network.hidden", "8", "--data.path", str(image), "--data.size", "null",
                         "--trainer.logger", "false"], run=False)
        assert type(cli.model.network) is Finer, network
    for data in ("ImageFolderDataModule", "datamodules.image_folder.ImageFolderDataModule"):
        cli = build_cli(["--config", "configs/image_siren.yaml", "--data", data, "--data.path", str(image.parent),
                         "--data.size", "null", "--trainer.logger", "false"], run=False)
        assert type(cli.datamodule).__name__ == "ImageFolderDataModule" and cli.model.signal.members == 1, data


def test_a_foreign_encoder_or_network_is_refused_naming_the_base_class():
    import functools

    import pytest
    from torch import nn

    from inr.core.errors import InputError
    from inr.core.signal import SignalSpec
    from inr.training.module import INRModule

    spec = SignalSpec(2, 1, shape=(4, 4))
    with pytest.raises(InputError, match=r"^model network torch\.nn\.modules\.linear\.Linear is not an "
                                         r"inr\.nn\.networks\.CoordinateNetwork: subclass it \(docs/extending\.md\)$"):
        INRModule(network=nn.Linear, signal=spec)
    with pytest.raises(InputError, match=r"^model encoder .*Flatten is not an inr\.nn\.encoders\.Encoder"):
        INRModule(encoder=functools.partial(lambda in_dim: nn.Flatten()), signal=spec)


def test_no_class_over_300_lines_and_no_file_over_450():
    import ast

    for path in sorted((ROOT / "inr").rglob("*.py")) + sorted((ROOT / "datamodules").glob("*.py")):
        text = path.read_text()
        assert len(text.splitlines()) <= 450, path
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                assert node.end_lineno - node.lineno + 1 <= 300, f"{path}: {node.name}"
