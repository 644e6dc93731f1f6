"""The SIREN SDF experiment through inr's CLI, scored with the shapes issue's protocol.

Fits ``configs/sdf_siren.yaml`` (or the ReLU + positional-encoding baseline ``configs/sdf_relu_pe.yaml``) to a
mesh, recording ``val/chamfer`` and ``val/normal_consistency`` (128^3 grid, 20k points per surface) at every
validation, then scores the last checkpoint the way the issue states the target: the zero level set extracted on
a ``--resolution``^3 grid (default 256), 100k points sampled on each surface, Chamfer distance = mean of the two
mean nearest-neighbour distances (not squared) in the normalised [-1, 1] cube, normal consistency = mean |cos|.
Appends a row to ``bench/results/sdf_reference.csv`` and draws ``docs/figures/sdf_<case>_<shape>.png``: the input
surface and the reconstruction coloured by each point's distance to the input (an error map), from two sides.

    python -m bench.sdf_reference fit --case siren --mesh ../shared/data/cow.obj [--steps 10000] [--every 1000]
    python -m bench.sdf_reference score runs/.../last.ckpt --mesh ../shared/data/cow.obj [--case siren]
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from bench.recorded_fit import recorded_fit
from datamodules.pointcloud import read_shape
from inr.cli import find_last_checkpoint
from inr.commands.render import load_model
from inr.core.mesh import extract_mesh, nearest, sample_surface, surface_metrics, to_original
from inr.training.checkpoints import read_checkpoint

CASES = {"siren": "configs/sdf_siren.yaml", "relu_pe": "configs/sdf_relu_pe.yaml"}
#: the issue's protocol: points sampled on each surface for the reported Chamfer distance / normal consistency
SCORE_POINTS = 100_000
RESULTS = Path(__file__).parent / "results" / "sdf_reference.csv"
FIGURES = Path(__file__).parent.parent / "docs" / "figures"
#: distance (normalised cube) at which the error map's colour scale saturates
ERROR_SCALE = 0.05


def score(checkpoint: Path, mesh_path: Path, resolution: int) -> tuple[dict[str, float], np.ndarray, ...]:
    """Scores ``checkpoint`` against the mesh it was fitted to, in the normalised cube.

    Returns:
        ``chamfer``, ``normal_consistency`` (100k points per surface), ``watertight`` (0/1), ``faces`` of the
        extracted mesh; the reconstruction's sampled points [100k, 3], each one's distance to the input [100k],
        and the input's sampled points [100k, 3].
    """
    model = load_model(checkpoint)
    spec = model.signal
    with torch.no_grad():
        extracted = extract_mesh(model.predict_values, resolution, progress=True)
    if len(extracted.faces) == 0:
        raise SystemExit(f"{checkpoint}: the SDF has no zero level set on the {resolution}^3 grid")
    reference, _, _ = read_shape(mesh_path)
    if reference is None:
        raise SystemExit(f"{mesh_path} is a point cloud: scoring samples the input's faces, give the mesh")
    center, scale = np.asarray(spec.meta["center"]), float(spec.meta["scale"])
    reference = to_original(reference, -center / scale, 1.0 / scale)  # the input in the normalised cube
    points, normals = sample_surface(extracted, SCORE_POINTS, seed=0)
    reference_points, reference_normals = sample_surface(reference, SCORE_POINTS, seed=1)
    metrics = surface_metrics(points, normals, reference_points, reference_normals)
    distance, _ = nearest(points, reference_points)
    metrics.update(watertight=float(extracted.is_watertight), faces=float(len(extracted.faces)))
    return metrics, points, distance, reference_points


def draw(points: np.ndarray, distance: np.ndarray, reference: np.ndarray, title: str, out: Path) -> None:
    """Input surface (grey) and reconstruction coloured by distance to the input, seen from two sides.

    All panels share one box (the union of both point sets, so stray surfaces stay in view); the colour scale
    saturates at ``ERROR_SCALE`` (normalised units), ten times the issue's Chamfer target.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = np.random.default_rng(0).choice(len(points), min(30_000, len(points)), replace=False)
    upright = [0, 2, 1]  # the meshes are y-up: plot (x, z, y) so they stand upright
    both = np.concatenate([points, reference])[:, upright]
    low, high = both.min(axis=0), both.max(axis=0)
    figure = plt.figure(figsize=(13, 4.6))
    views = [("input", reference[shown % len(reference)], None, -60),
             ("reconstruction, front", points[shown], distance[shown], -60),
             ("reconstruction, back", points[shown], distance[shown], 120)]
    for index, (name, shown_points, colour, azimuth) in enumerate(views, start=1):
        axes = figure.add_subplot(1, 3, index, projection="3d")
        xyz = shown_points[:, upright].T
        if colour is None:
            axes.scatter(*xyz, s=0.3, color="0.45", linewidths=0)
        else:
            scatter = axes.scatter(*xyz, s=0.3, c=colour, cmap="inferno", vmin=0, vmax=ERROR_SCALE, linewidths=0)
        axes.view_init(elev=15, azim=azimuth)
        axes.set(xlim=(low[0], high[0]), ylim=(low[1], high[1]), zlim=(low[2], high[2]))
        axes.set_box_aspect(high - low)
        axes.set_axis_off()
        axes.set_title(name)
    figure.colorbar(scatter, ax=axes, shrink=0.7, extend="max", label="distance to input (normalised cube)")
    figure.suptitle(title)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(figure)


def report(case: str, mesh_path: Path, checkpoint: Path, steps: int, resolution: int,
           curve: list[tuple[int, float, float]], seconds_per_step: float | None) -> None:
    """Scores the checkpoint, prints the curve and the score, appends the CSV row and draws the figure."""
    metrics, points, distance, reference_points = score(checkpoint, mesh_path, resolution)
    for step, chamfer, consistency in curve:
        print(f"  step {step}: val/chamfer {chamfer:.4f}, val/normal_consistency {consistency:.4f} (20k points, 128^3)")
    shape = mesh_path.stem
    print(f"{case} on {shape}, step {steps}, {resolution}^3 grid, {SCORE_POINTS} points per surface: "
          f"Chamfer {metrics['chamfer']:.4f}, normal consistency {metrics['normal_consistency']:.4f}, "
          f"watertight {bool(metrics['watertight'])}, {int(metrics['faces'])} faces", flush=True)
    new_file = not RESULTS.exists()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", newline="") as handle:
        writer = csv.writer(handle)
        if new_file:
            writer.writerow(["case", "shape", "steps", "grid", "chamfer", "normal_consistency", "watertight",
                             "seconds_per_step"])
        writer.writerow([case, shape, steps, resolution, f"{metrics['chamfer']:.5f}",
                         f"{metrics['normal_consistency']:.4f}", int(metrics["watertight"]),
                         "" if seconds_per_step is None else f"{seconds_per_step:.3f}"])
    figure = FIGURES / f"sdf_{case}_{shape}.png"
    draw(points, distance, reference_points,
         f"{case} on {shape}, {steps} steps: Chamfer {metrics['chamfer']:.4f}, "
         f"normal consistency {metrics['normal_consistency']:.3f}", figure)
    print(f"wrote {RESULTS} and {figure}")


def fit(case: str, mesh_path: Path, steps: int, every: int) -> tuple[Path, list[tuple[int, float, float]], float]:
    """Fits one case through the CLI; returns its last checkpoint, validation curve and seconds per step."""
    root = tempfile.mkdtemp(prefix=f"inr-sdf-{case}-")
    rows, seconds = recorded_fit(["--config", CASES[case], "--data.path", str(mesh_path),
                                  "--trainer.val_check_interval", str(every), "--checkpoint.every_n_train_steps",
                                  str(every), "--trainer.default_root_dir", root, "--trainer.logger.init_args.name",
                                  f"sdf_reference_{case}_{mesh_path.stem}"],
                                 ["val/chamfer", "val/normal_consistency"], steps)
    return find_last_checkpoint(root), rows, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    fitting = commands.add_parser("fit", help="fit a config to a mesh, then score the last checkpoint")
    fitting.add_argument("--steps", type=int, default=10000)
    fitting.add_argument("--every", type=int, default=1000, help="validation and checkpoint interval in steps")
    scoring = commands.add_parser("score", help="score an existing checkpoint against its mesh")
    scoring.add_argument("checkpoint", type=Path)
    for sub in (fitting, scoring):
        sub.add_argument("--case", choices=sorted(CASES), default="siren")
        sub.add_argument("--mesh", type=Path, required=True, help="the mesh the SDF is (was) fitted to")
        sub.add_argument("--resolution", type=int, default=256, help="grid points per axis for extraction")
    options = parser.parse_args()
    if not options.mesh.is_file():
        raise SystemExit(f"mesh {options.mesh} not found")
    os.environ.setdefault("WANDB_MODE", "offline")
    if options.command == "fit":
        checkpoint, curve, seconds = fit(options.case, options.mesh, options.steps, options.every)
        report(options.case, options.mesh, checkpoint, options.steps, options.resolution, curve, seconds)
    else:
        try:
            steps = int(read_checkpoint(options.checkpoint)["global_step"])
        except ValueError as error:
            raise SystemExit(f"sdf_reference score: {error}") from None
        report(options.case, options.mesh, options.checkpoint, steps, options.resolution, [], None)


if __name__ == "__main__":
    main()
