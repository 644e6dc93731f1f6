"""One command that proves inr's paths on a CUDA machine and measures them, within a hard time budget.

    python -m bench.gpu_suite --out runs/gpu_suite                 # on a GPU machine: about 8 minutes
    python -m bench.gpu_suite --device cpu --tiny --out /tmp/suite # the dry run CI runs (under a minute)

Stages run in order of importance, each in its own process with its own time cap (a share of ``--budget``), so a
slow stage cannot starve the rest; every stage appends its results to ``results.json`` and the Markdown report
``report.md`` is rewritten after each one, so a run cut short keeps everything measured so far. Each stage reports
measured values or an explicit skip with its reason.

1. ``environment``: device name, driver, torch and CUDA versions.
2. ``correctness``: each modality fits a few steps through ``inr fit`` on the device, validates, checkpoints,
   resumes for more steps and renders; the same fit on the CPU gives the PSNR (or Chamfer distance) to compare.
   The meta-learning methods (MAML, the hypernetwork) run through ``inr meta fit`` alike and render what
   ``inr meta export`` writes.
3. ``precision``: ``bf16-mixed``, ``16-mixed``, ``matmul_precision high`` and ``compile`` against float32 at
   equal steps (PSNR difference).
4. ``multi_gpu``: a 2-process DDP fit when two GPUs are visible; otherwise skipped, saying why.
5. ``speed``: samples/s of inr's step and of the plain loop of the same model (``bench/step_time`` cases), and the
   NTK of a 4 x 256 MLP on 4096 points.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: each stage's share of the budget.
STAGES = {"environment": 0.05, "correctness": 0.45, "precision": 0.15, "multi_gpu": 0.05, "speed": 0.3}


def run_fit(args: list[str]):
    """``inr fit`` (``inr meta fit`` when ``args`` start with ``meta``) in this process, without a logger."""
    from inr.cli import build_cli
    from inr.commands.meta import build_meta_cli

    build = build_meta_cli if args[:1] == ["meta"] else build_cli
    args = args[1:] if args[:1] == ["meta"] else args
    return build(["fit", *args, "--trainer.logger", "false", "--trainer.enable_model_summary", "false"])


def modalities(tiny: bool) -> dict[str, list[str]]:
    """Fit options per modality: tiny (the dry run) or a few dozen steps of the real configs."""
    small = ["--model.network.init_args.hidden", "32", "--model.network.init_args.layers", "1"] if tiny else []
    return {
        "image": ["--config", "configs/image_siren.yaml", "--data.size", "32" if tiny else "256", *small],
        "poisson_gradient": ["--config", "configs/poisson_gradient.yaml", "--data.size", "32" if tiny else "128",
                             *small],
        "poisson_laplacian": ["--config", "configs/poisson_laplacian.yaml", "--data.size", "32" if tiny else "128",
                              *small],
        "audio": ["--config", "configs/audio_siren.yaml", "--data.crop_seconds", "0.05" if tiny else "1", *small],
        "sdf": ["--config", "configs/sdf_siren.yaml", "--data.batch_size", "512" if tiny else "10000",
                "--data.surface_points", "5000" if tiny else "100000", "--data.val_points", "1000",
                "--model.metrics", '[{"class_path": "inr.metrics.SurfaceDistance", "init_args": {"resolution": '
                + ("16" if tiny else "64") + "}}]", *small],
        "video": ["--config", "configs/video_siren.yaml", "--data.path", "null", "--data.size", "null",
                  "--data.frames", "8" if tiny else "24", *small],
        "members": ["--config", "configs/image_siren.yaml", "--data", "datamodules.image_folder.ImageFolderDataModule",
                    "--data.path", str(image_folder()), "--data.limit",
                    "2" if tiny else "8", "--data.size", "16" if tiny else "64", *small],
        "ct": ["--config", "configs/ct/shepp_gaussian.yaml", "--data.size", "24" if tiny else "256",
               "--data.baseline_steps", "5" if tiny else "1000", *small],
        "mri": ["--config", "configs/mri/shepp_gaussian.yaml", "--data.size", "12" if tiny else "64", *small],
        "occupancy": ["--config", "configs/occupancy/relu_gaussian.yaml", "--data.points", "2000" if tiny else "400000",
                      "--data.val_points", "500" if tiny else "100000", "--data.batch_size", "512" if tiny else "32768",
                      *small],
        "meta_maml": ["meta", "--config", "configs/meta/maml_siren.yaml", *_meta_data(tiny), *_meta_small(tiny)],
        "meta_hypernetwork": ["meta", "--config", "configs/meta/hypernetwork_siren.yaml", *_meta_data(tiny),
                              *_meta_small(tiny)],
    }


#: the folder of images the dataset modalities (members, meta) read: the DIV2K sample of ../shared/data where it
#: is beside the clone, else scikit-image's bundled pictures written once (:func:`bundled_images`).
SHARED_DIV2K = ROOT.parent / "shared" / "data" / "ffn" / "div2k"
BUNDLED_IMAGES = Path(tempfile.gettempdir()) / "inr_gpu_suite_images"
BUNDLED = ("astronaut", "coffee", "chelsea", "rocket", "colorwheel", "camera", "brick", "grass")


def bundled_images(folder: Path = BUNDLED_IMAGES) -> Path:
    """Eight RGB images of scikit-image's bundled samples, centre-cropped square at 256 x 256, as PNG in ``folder``."""
    import imageio.v3 as iio
    import numpy as np
    import skimage.data
    from skimage.transform import resize

    folder.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(BUNDLED):
        path = folder / f"{index:02d}_{name}.png"
        if path.is_file():
            continue
        pixels = getattr(skimage.data, name)()
        pixels = np.repeat(pixels[..., None], 3, axis=-1) if pixels.ndim == 2 else pixels[..., :3]
        side = min(pixels.shape[:2])
        top, left = (pixels.shape[0] - side) // 2, (pixels.shape[1] - side) // 2
        square = resize(pixels[top:top + side, left:left + side], (256, 256), anti_aliasing=True)
        iio.imwrite(path, (square * 255).round().astype(np.uint8))
    return folder


def image_folder() -> Path:
    """The folder the dataset modalities read (written on first use when ../shared is absent)."""
    return SHARED_DIV2K if SHARED_DIV2K.is_dir() else bundled_images()


def _meta_data(tiny: bool) -> list[str]:
    """Patches of DIV2K for the meta-learning methods: 8 x 8 of 32 x 32 images (dry run) or their config's."""
    small = ["--data.init_args.size", "32", "--data.init_args.patch", "8", "--data.init_args.val_crops", "4"]
    return ["--data.init_args.path", str(image_folder()), *(small if tiny else [])]


def _meta_small(tiny: bool) -> list[str]:
    return ["--model.init_args.network.init_args.hidden", "16", "--model.init_args.network.init_args.layers",
            "1"] if tiny else []


def fit_metric(root: Path, args: list[str], accelerator: str, steps: int) -> dict[str, Any]:
    """Fit ``steps`` steps, resume from the checkpoint to ``2 * steps``; the validation values after each part."""
    from inr.cli import find_last_checkpoint

    common = [*args, "--trainer.accelerator", accelerator, "--trainer.devices", "1", "--trainer.default_root_dir",
              str(root), "--trainer.val_check_interval", str(steps), "--trainer.enable_progress_bar", "false",
              "--seed_everything", "0"]
    first = _metrics(run_fit([*common, "--trainer.max_steps", str(steps)]))
    second = _metrics(run_fit([*common, "--trainer.max_steps", str(2 * steps), "--ckpt_path", "last"]))
    return {"metric_after_fit": first, "metric_after_resume": second, "checkpoint": str(find_last_checkpoint(root))}


def _metrics(cli) -> dict[str, float]:
    return {key: float(value) for key, value in cli.trainer.callback_metrics.items() if key.startswith("val/")}


#: grid points per axis of a mesh render in the dry run (a full render evaluates 256^3 points: 90 s on a CPU).
TINY_MESH_RESOLUTION = 32


def render(checkpoint: str, out: Path, device: str, member: int | None = None, tiny: bool = False) -> str:
    from inr.commands.render import render_checkpoint

    resolution = TINY_MESH_RESOLUTION if tiny and out.suffix == ".ply" else None
    return render_checkpoint(checkpoint, str(out), resolution=resolution, device=device, member=member)


RENDER_SUFFIX = {"image": ".png", "poisson_gradient": ".png", "poisson_laplacian": ".png", "audio": ".wav",
                 "sdf": ".ply", "video": ".mp4", "members": ".png", "ct": ".png", "mri": ".npy", "occupancy": ".ply",
                 "meta_maml": ".png", "meta_hypernetwork": ".png"}


def export_meta(checkpoint: str, name: str, folder: Path) -> str:
    """An ordinary checkpoint of a meta run: the learned init, or the network predicted from a DIV2K image."""
    from inr.meta.export import export_init, export_predicted

    out = folder / "exported.ckpt"
    if name == "meta_hypernetwork":
        export_predicted(checkpoint, sorted(image_folder().glob("*.png"))[-1], 10, out)
    else:
        export_init(checkpoint, out)
    return str(out)


def stage_environment(options) -> dict[str, Any]:
    import torch

    result: dict[str, Any] = {"torch": torch.__version__, "cuda": torch.version.cuda, "device": options.device,
                              "python": sys.version.split()[0]}
    if options.device.startswith("cuda"):
        if not torch.cuda.is_available():
            return {"status": "skipped", "reason": "--device cuda but torch sees no GPU"}
        properties = torch.cuda.get_device_properties(0)
        result.update(gpu=properties.name, memory_gib=round(properties.total_memory / 2**30, 1),
                      gpus=torch.cuda.device_count())
        try:
            smi = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=30)
            result["driver"] = smi.stdout.strip().splitlines()[0] if smi.returncode == 0 else "unknown"
        except (OSError, subprocess.TimeoutExpired):
            result["driver"] = "unknown (no nvidia-smi)"
    else:
        result["cpu_threads"] = torch.get_num_threads()
    return {"status": "measured", **result}


def stage_correctness(options) -> dict[str, Any]:
    accelerator = "gpu" if options.device.startswith("cuda") else "cpu"
    steps = 2 if options.tiny else 30
    rows = {}
    for name, args in modalities(options.tiny).items():
        with tempfile.TemporaryDirectory() as folder:
            try:
                device_run = fit_metric(Path(folder) / "device", args, accelerator, steps)
                checkpoint = device_run["checkpoint"]
                if name.startswith("meta_"):
                    checkpoint = export_meta(checkpoint, name, Path(folder))
                line = render(checkpoint, Path(folder) / f"render{RENDER_SUFFIX[name]}",
                              options.device, member=0 if name == "members" else None, tiny=options.tiny)
                row = {"status": "measured", **{k: v for k, v in device_run.items() if k != "checkpoint"},
                       "render": line}
                if accelerator != "cpu":
                    cpu_run = fit_metric(Path(folder) / "cpu", args, "cpu", steps)
                    row["cpu_metric_after_resume"] = cpu_run["metric_after_resume"]
                rows[name] = row
            except Exception as error:  # noqa: BLE001 - one modality's failure is a result; go on with the others
                rows[name] = {"status": "failed", "reason": str(error)[:300]}
        _progress(options, "correctness", name, rows[name])
    return {"status": "measured", "modalities": rows}


def stage_precision(options) -> dict[str, Any]:
    accelerator = "gpu" if options.device.startswith("cuda") else "cpu"
    steps = 2 if options.tiny else 50
    base = modalities(options.tiny)["image"]
    variants = {"float32": [], "bf16-mixed": ["--trainer.precision", "bf16-mixed"],
                "16-mixed": ["--trainer.precision", "16-mixed"],
                "matmul high": ["--model.matmul_precision", "high"], "compile": ["--model.compile", "true"]}
    rows = {}
    for name, extra in variants.items():
        if name == "16-mixed" and accelerator == "cpu":
            rows[name] = {"status": "skipped", "reason": "16-mixed (float16 with a gradient scaler) needs a GPU"}
            continue
        if name == "compile" and options.tiny:
            rows[name] = {"status": "skipped", "reason": "inductor's compilation alone outlasts the dry run's minute"}
            continue
        with tempfile.TemporaryDirectory() as folder:
            try:
                metrics = fit_metric(Path(folder), [*base, *extra], accelerator, steps)
                rows[name] = {"status": "measured", "psnr": metrics["metric_after_resume"].get("val/psnr")}
            except Exception as error:  # noqa: BLE001
                rows[name] = {"status": "failed", "reason": str(error)[:300]}
        _progress(options, "precision", name, rows[name])
    reference = rows["float32"].get("psnr")
    for row in rows.values():
        if row.get("psnr") is not None and reference is not None:
            row["psnr_minus_float32"] = row["psnr"] - reference
    return {"status": "measured", "variants": rows}


def stage_multi_gpu(options) -> dict[str, Any]:
    import torch

    if not options.device.startswith("cuda"):
        return {"status": "skipped", "reason": f"device {options.device}: multi-GPU needs CUDA"}
    if torch.cuda.device_count() < 2:
        return {"status": "skipped", "reason": f"{torch.cuda.device_count()} GPU"}
    with tempfile.TemporaryDirectory() as folder:
        args = [*modalities(options.tiny)["image"], "--trainer.strategy", "ddp", "--trainer.devices", "2",
                "--trainer.accelerator", "gpu", "--trainer.max_steps", "20", "--trainer.default_root_dir", folder,
                "--trainer.enable_progress_bar", "false"]
        start = time.perf_counter()
        env = {key: value for key, value in os.environ.items() if key != "WANDB_SERVICE"}
        done = subprocess.run([sys.executable, "-m", "inr.cli", "fit", *args, "--trainer.logger", "false"], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=options.cap)
        if done.returncode != 0:
            return {"status": "failed", "reason": done.stderr.strip().splitlines()[-1:]}
        return {"status": "measured", "ddp_2_gpus_seconds": time.perf_counter() - start}


def stage_speed(options) -> dict[str, Any]:
    import statistics

    import torch

    from bench import step_time

    steps = 2 if options.tiny else 10
    cases = ["image"] if options.tiny else ["image", "gradient", "sdf"]
    device = torch.device(options.device)
    rows: dict[str, Any] = {}
    for case in cases:
        timings = {}
        config, loss_fn = step_time.CASES[case]
        with tempfile.TemporaryDirectory() as folder:
            extra = ["--data.size", "64"] if options.tiny else []
            cli, inr_times = step_time.inr_round(config, steps, folder, device, logger=False, extra=extra)
            network = torch.nn.Sequential(cli.model.encoder, cli.model.network).to(device)
            plain_times = step_time.plain_round(network, loss_fn, step_time.batch_source(case, cli.datamodule, device),
                                                steps, 16384, device)
        samples = step_time.batch_source(case, cli.datamodule, device)()["coords"].shape[0]
        for loop, times in (("inr", inr_times), ("plain (chunked 16k)", plain_times)):
            median = statistics.median(times)
            timings[loop] = {"seconds_per_step": median, "samples_per_second": samples / median}
        if all("seconds_per_step" in value for value in timings.values()):
            timings["inr_over_plain"] = (timings["inr"]["seconds_per_step"]
                                         / timings["plain (chunked 16k)"]["seconds_per_step"])
        rows[case] = timings
        _progress(options, "speed", case, timings)
    rows["speed_options"] = speed_options(options, device, steps)
    _progress(options, "speed", "speed_options", rows["speed_options"])
    rows["largest_batch"] = largest_batch(options, device)
    _progress(options, "speed", "largest_batch", rows["largest_batch"])
    from inr.nn.encoders import Identity
    from inr.nn.networks import MLP
    from inr.ntk.empirical import empirical_ntk

    device = torch.device(options.device)
    points = 256 if options.tiny else 4096
    network = torch.nn.Sequential(Identity(1), MLP(1, 1, hidden=256, layers=3)).to(device)
    coords = torch.linspace(-1, 1, points, device=device)[:, None]
    start = time.perf_counter()
    kernel = empirical_ntk(network, coords)
    if device.type == "cuda":
        torch.cuda.synchronize()
    rows["ntk_4x256"] = {"points": points, "seconds": time.perf_counter() - start, "shape": list(kernel.shape)}
    if device.type == "cuda":
        rows["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return {"status": "measured", **rows}


#: what a stage has measured so far, saved after each part (status ``partial``) so a cut stage keeps it.
_PARTIAL: dict[str, dict[str, Any]] = {}


def speed_options(options, device, steps: int) -> dict[str, Any]:
    """inr's image step with bf16-mixed, TF32 matmuls and torch.compile, against its eager float32 step."""
    import statistics

    from bench import step_time

    if device.type != "cuda":
        return {"status": "skipped", "reason": "the speed options (bf16, TF32, compile) are measured on a GPU"}
    config = step_time.CASES["image"][0]
    with tempfile.TemporaryDirectory() as folder:
        _, eager = step_time.inr_round(config, steps, folder, device, logger=False)
        fast = ["--trainer.precision", "bf16-mixed", "--model.matmul_precision", "high"]
        cli, tuned = step_time.inr_round(config, steps, folder, device, logger=False, compile=True, extra=fast)
    samples = cli.datamodule.signal_tensors()["coords"].shape[0]
    return {"status": "measured", "eager_samples_per_second": samples / statistics.median(eager),
            "options_samples_per_second": samples / statistics.median(tuned),
            "speedup": statistics.median(eager) / statistics.median(tuned)}


def largest_batch(options, device) -> dict[str, Any]:
    """The largest unchunked random batch (SIREN 3 x 256, image) one step fits in GPU memory, doubling from 2^16."""
    import torch

    from bench import step_time

    if device.type != "cuda":
        return {"status": "skipped", "reason": "GPU memory is measured on a GPU"}
    fitted, peak = 0, 0.0
    for power in range(16, 27):
        batch = 2**power
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        try:
            with tempfile.TemporaryDirectory() as folder:
                step_time.inr_round(step_time.CASES["image"][0], 1, folder, device, logger=False, chunk_size=batch,
                                    extra=["--data.size", "8192", "--data.batch_size", str(batch)])
        except torch.cuda.OutOfMemoryError:
            break
        fitted, peak = batch, torch.cuda.max_memory_allocated() / 2**30
    return {"status": "measured", "largest_batch_points": fitted, "its_peak_memory_gib": peak}


def _progress(options, stage: str, part: str, value: Any) -> None:
    print(f"gpu_suite: {stage} / {part}: {json.dumps(value, default=str)[:200]}", file=sys.stderr, flush=True)
    _PARTIAL.setdefault(stage, {})[part] = value
    _append(Path(options.out), stage, {"status": "partial", "parts": _PARTIAL[stage]})


def run_stage(name: str, options) -> None:
    """Run one stage in this (child) process and append its result to results.json."""
    function = globals()[f"stage_{name}"]
    start = time.perf_counter()
    try:
        result = function(options)
    except Exception as error:  # noqa: BLE001 - a failed stage is reported, the others still run
        result = {"status": "failed", "reason": f"{type(error).__name__}: {str(error)[:300]}"}
    result["seconds"] = round(time.perf_counter() - start, 2)
    _append(Path(options.out), name, result)


def _append(out: Path, name: str, result: dict[str, Any]) -> None:
    path = out / "results.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = result
    path.write_text(json.dumps(data, indent=1, default=str))
    write_report(out, data)


def mark_cut(out: Path, name: str, cap: float) -> None:
    """Stage ``name`` was stopped at its time cap: keep the parts it had saved, status ``cut``."""
    path = out / "results.json"
    saved = json.loads(path.read_text()).get(name, {}) if path.exists() else {}
    _append(out, name, {**saved, "status": "cut", "reason": f"stage time cap of {cap:.0f} s reached"})


def write_report(out: Path, data: dict[str, Any]) -> None:
    """report.md: one section per stage, its status and values."""
    environment = data.get("environment", {})
    device = f"{environment.get('device', '?')} ({environment.get('cpu_threads', '?')} threads)"
    header = environment.get("gpu") or device
    versions = (f"torch {environment.get('torch')}, CUDA {environment.get('cuda')}, "
                f"driver {environment.get('driver', '-')}")
    lines = [f"# inr GPU check suite: {header}", "", versions, ""]
    for name in STAGES:
        if name not in data:
            lines += [f"## {name}", "", "not run (out of time or not reached)", ""]
            continue
        result = data[name]
        lines += [f"## {name}: {result.get('status')} ({result.get('seconds', '?')} s)", "", "```",
                  json.dumps({k: v for k, v in result.items() if k not in ("status", "seconds")}, indent=1,
                             default=str), "```", ""]
    (out / "report.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/gpu_suite", help="folder of report.md and results.json")
    parser.add_argument("--budget", type=float, default=480.0, help="seconds for the whole suite")
    parser.add_argument("--device", default="cuda", help="cuda (a GPU machine) or cpu (the dry run)")
    parser.add_argument("--tiny", action="store_true", help="every stage at toy size (the CPU dry run)")
    parser.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)  # a child runs one stage
    parser.add_argument("--cap", type=float, default=60.0, help=argparse.SUPPRESS)
    options = parser.parse_args()
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    if options.stage:
        run_stage(options.stage, options)
        return
    (out / "results.json").unlink(missing_ok=True)
    deadline = time.monotonic() + options.budget
    for name, share in STAGES.items():
        cap = min(options.budget * share, deadline - time.monotonic())
        if cap <= 1:
            _append(out, name, {"status": "skipped", "reason": "the suite's --budget ran out"})
            continue
        command = [sys.executable, "-m", "bench.gpu_suite", "--stage", name, "--cap", str(cap), "--out", str(out),
                   "--device", options.device, *(["--tiny"] if options.tiny else [])]
        try:
            subprocess.run(command, cwd=ROOT, timeout=cap, check=False)
        except subprocess.TimeoutExpired:
            mark_cut(out, name, cap)
        print(f"gpu_suite: {name} done", file=sys.stderr, flush=True)
    print((out / "report.md").read_text())


if __name__ == "__main__":
    main()
