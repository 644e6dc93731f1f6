"""3D occupancy at CPU scale (Tancik et al. 2020, Table 1): inr's four mappings on real meshes, IoU on uniform and
near-surface (boundary) points.

    OMP_NUM_THREADS=1 python -m bench.occupancy_table --meshes ../shared/data/cow.obj ../shared/data/fandisk.obj

Each fit is ``configs/occupancy/relu_<encoding>.yaml`` as shipped (2000 steps of 4096 points, 200k labelled points).
Prints a markdown table (mean +- std over the meshes, the paper's numbers beside) and writes
bench/results/occupancy_table.csv.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import torch

from inr.cli import build_cli

#: Table 1 of the paper, IoU: (uniform points, boundary points).
PAPER = {"none": (0.959, 0.864), "basic": (0.966, 0.892), "pe": (0.987, 0.960), "gaussian": (0.988, 0.973)}
ENCODINGS = ("gaussian", "pe", "basic", "none")
RESULTS = Path(__file__).parent / "results"


def inr_fit(encoding: str, mesh: str, steps: int | None, root: Path) -> dict[str, float]:
    """One fit of ``configs/occupancy/relu_<encoding>.yaml`` on ``mesh``; its last validation's values."""
    extra = ["--trainer.max_steps", str(steps), "--trainer.val_check_interval", str(steps)] if steps else []
    cli = build_cli(["fit", "--config", f"configs/occupancy/relu_{encoding}.yaml", "--data.path", mesh, *extra,
                     "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
                     "--checkpoint.save_top_k", "0", "--checkpoint.save_last", "false",
                     "--trainer.default_root_dir", str(root / f"{encoding}_{Path(mesh).stem}")])
    return dict(cli.model.validation_report)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meshes", nargs="+", default=["../shared/data/cow.obj", "../shared/data/fandisk.obj"])
    parser.add_argument("--encodings", nargs="+", default=list(ENCODINGS), choices=ENCODINGS)
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the configs' 2000)")
    parser.add_argument("--root", default="runs/bench_occupancy")
    args = parser.parse_args()
    rows = []
    for mesh in args.meshes:
        for encoding in args.encodings:
            start = time.perf_counter()
            values = inr_fit(encoding, mesh, args.steps, Path(args.root))
            rows.append({"mesh": Path(mesh).name, "encoding": encoding, "iou": values["val/iou"],
                         "iou_boundary": values["val/iou_boundary"], "seconds": time.perf_counter() - start})
            print(rows[-1], flush=True)
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "occupancy_table.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"\n| mapping | IoU uniform (mean +- std over {len(args.meshes)}) | IoU boundary | paper (uniform / "
          "boundary) |\n|---|---|---|---|")
    for encoding in args.encodings:
        mine = [row for row in rows if row["encoding"] == encoding]
        uniform, boundary = (torch.tensor([row[key] for row in mine]) for key in ("iou", "iou_boundary"))
        print(f"| {encoding} | {uniform.mean():.3f} +- {uniform.std(unbiased=False):.3f} | "
              f"{boundary.mean():.3f} +- {boundary.std(unbiased=False):.3f} | {PAPER[encoding][0]} / "
              f"{PAPER[encoding][1]} |")


if __name__ == "__main__":
    main()
