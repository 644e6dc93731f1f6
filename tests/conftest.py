"""Shared fixtures: W&B offline, tiny images written by the tests, an in-process CLI runner."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

# The suite runs on the CPU, as CI does: on a GPU host Lightning's "auto" would fit on the GPU (or launch DDP over
# several) and `inr ntk` would default to cuda. INR_TEST_GPU=1 keeps the first GPU visible, for the tests that
# skip without one (and runs the rest there too).
if os.environ.get("INR_TEST_GPU"):
    os.environ["CUDA_VISIBLE_DEVICES"] = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0]
else:
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ["WANDB_MODE"] = "offline"
os.environ["WANDB_SILENT"] = "true"
os.environ.pop("WANDB_API_KEY", None)
# The tests' models are tiny: one thread is faster, and children (inr processes) inherit it.
os.environ["OMP_NUM_THREADS"] = "1"
torch.set_num_threads(1)

sys.path.insert(0, str(Path(__file__).parent))

#: the packages every child ``inr`` process (CLI runs, DDP ranks, the GPU suite's stages) imports.
CHILD_IMPORTS = ("lightning", "lightning_utilities", "torchmetrics", "wandb", "jsonargparse", "scipy", "skimage",
                 "trimesh", "matplotlib", "imageio", "nibabel", "phantominator", "inr", "datamodules", "bench")


def pytest_sessionstart(session) -> None:
    """Write the bytecode of what child processes import, once, where the environment forbids writing it on import.

    With PYTHONDONTWRITEBYTECODE set (as on these machines) and a venv pip left uncompiled, every child process the
    suite starts (about a hundred) compiled lightning and the rest from source again: about 1.5 s each.
    """
    if not sys.flags.dont_write_bytecode:
        return
    import compileall
    import importlib.util

    for name in CHILD_IMPORTS:
        spec = importlib.util.find_spec(name)
        for location in (spec.submodule_search_locations or []) if spec is not None else []:
            compileall.compile_dir(location, quiet=2, workers=0)

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

# Small, fast model used by most CLI tests.
TINY_MODEL = ["--model.network.init_args.hidden", "32", "--model.network.init_args.layers", "1"]
# Equivalence fits (batched = single fits, N processes = 1 process, chunked = unchunked) compute the same arithmetic
# with other summation orders, which another CPU's BLAS kernels change. They run in float64, where rounding is
# 2**-53 ~ 1.1e-16 relative: the worst trained-weight difference measured (an audio SIREN, first-layer w0 = 3000, 50
# Adam steps) is 5e-14 on an AMD EPYC, against 2.6e-6 in float32 on the same machine. EQUIVALENT_ATOL leaves four
# orders of magnitude for other kernels and stays five below one Adam step (lr >= 1e-4): a member whose update
# were wrong by 1e-8 once fails it.
FLOAT64 = ["--trainer.precision", "64-true"]
EQUIVALENT_ATOL = 1e-9
# SDF validation on a 24^3 grid (the configs extract the mesh at 128^3).
SURFACE_METRIC_24 = ["--model.metrics",
                     '[{"class_path": "inr.metrics.SurfaceDistance", "init_args": {"resolution": 24}}]']


def cameraman_crop(size: int) -> np.ndarray:
    """A real-image crop, [size, size] uint8 (scikit-image's cameraman, downsampled)."""
    from skimage import data, transform

    image = transform.resize(data.camera(), (size, size), anti_aliasing=True)
    return (image * 255).round().astype(np.uint8)


@pytest.fixture
def gray_png(tmp_path: Path) -> Path:
    """A 32 x 32 8-bit gray PNG."""
    import imageio.v3 as iio

    path = tmp_path / "gray32.png"
    iio.imwrite(path, cameraman_crop(32))
    return path


@pytest.fixture
def rgb_png(tmp_path: Path) -> Path:
    """A 16 x 12 8-bit RGB PNG (non-square)."""
    import imageio.v3 as iio
    from skimage import data, transform

    image = (transform.resize(data.astronaut(), (12, 16), anti_aliasing=True) * 255).round().astype(np.uint8)
    path = tmp_path / "rgb.png"
    iio.imwrite(path, image)
    return path


def run_fit(args: list[str]):
    """Run ``inr fit`` in this process and close the W&B run; returns the CLI object."""
    import wandb
    from wandb_reader import wait_until_finished

    from inr.cli import build_cli

    try:
        cli = build_cli(["fit", *args])
    finally:
        wandb.finish()
    wait_until_finished(cli.trainer.default_root_dir)
    return cli


def small_float64_fit(config: str, data: list[str], root: Path, seed: int, steps: int, extra: list[str] = ()):
    """``steps`` float64 steps of ``config`` with a one-layer, 24-wide network, no logger or checkpoints; the CLI."""
    return run_fit(["--config", config, *data, "--seed_everything", str(seed), "--trainer.max_steps", str(steps),
                    "--trainer.val_check_interval", str(steps), "--trainer.logger", "false",
                    "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(root),
                    "--checkpoint.save_top_k", "0", "--checkpoint.save_last", "false",
                    "--model.network.init_args.hidden", "24", "--model.network.init_args.layers", "1", *FLOAT64,
                    *extra])


def assert_members_are_single_fits(batched, singles, metrics: tuple[str, ...], abs_tol: float = 0.01) -> None:
    """Member k of the batched fit has single fit k's trained weights (within EQUIVALENT_ATOL) and metrics."""
    for index, single in enumerate(singles):
        state = single.model.state_dict()
        for name, value in batched.model.state_dict().items():
            torch.testing.assert_close(value[index], state[name.replace(".module.", ".", 1)], rtol=0,
                                       atol=EQUIVALENT_ATOL, msg=name)
        for metric in metrics:
            assert float(batched.model.member_metrics[index][metric]) == pytest.approx(
                single.model.validation_report[f"val/{metric}"], abs=abs_tol), (index, metric)


def child_env() -> dict[str, str]:
    """Environment for a child ``inr`` process: its own W&B service, not this test process's."""
    return {key: value for key, value in os.environ.items() if key != "WANDB_SERVICE"}


@pytest.fixture(autouse=True)
def no_wandb_run_left_open():
    """Close a W&B run a test left open: Lightning's WandbLogger attaches to an open run instead of starting its own."""
    yield
    wandb = sys.modules.get("wandb")
    if wandb is not None and wandb.run is not None:
        wandb.finish()


def config_class(class_path: str) -> type:
    """The class a config names: a dotted path, or a short name as jsonargparse resolves it (inr's components)."""
    import importlib

    if "." in class_path:
        module, name = class_path.rsplit(".", 1)
        return getattr(importlib.import_module(module), name)
    homes = ["inr.nn.encoders", "inr.nn.networks", "inr.nn.zoo", "inr.nn.multiplicative_filters", "inr.nn.hash_grid",
             "inr.meta.functa", "inr.losses", "inr.losses.derivatives", "inr.losses.sdf", "inr.metrics"]
    found = [getattr(module, class_path) for module in map(importlib.import_module, homes)
             if isinstance(getattr(module, class_path, None), type)]
    assert found, f"no component class named {class_path}"
    return found[0]


def run_inr(*args: str, timeout: int = 400):
    """``python -m inr.cli ARGS`` in a child process from the repository root; asserts it succeeded."""
    import subprocess

    done = subprocess.run([sys.executable, "-m", "inr.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env=child_env(), timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done
