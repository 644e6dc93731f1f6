"""Mixed precision against float32 at equal steps, through inr's CLI: validation PSNR of each config both ways.

Validation is always computed in float32 from the float32 weights, so the difference is what training under
autocast costs. Cases (shipped configs, same seed, same steps):

- ``audio_siren``: SIREN with first-layer w0 = 3000 on a 1 s crop of ``../shared/data/gt_bach.wav`` (44.1 kHz,
  44,100 samples) or, with ``--audio chirp`` (and when the file is absent), the 1 s synthetic 16 kHz chirp, full
  clip per step;
- ``audio_relu_pe``: ReLU MLP on a 16-octave positional encoding (up to ~62k cycles), same clip;
- ``image_relu_pe``: ReLU MLP on an 8-octave positional encoding, cameraman (256 x 256 or ``--image-size``),
  full batch;
- ``image_siren``: SIREN, same image.

    python -m bench.mixed_precision [--cases ...] [--steps 200] [--precisions 32-true bf16-mixed]
        [--accelerator cpu|gpu] [--image-size 256] [--audio bach|chirp]

On a CPU without native bfloat16 (no AVX512-BF16/AMX) bf16-mixed is ~20x slower than float32: there the bench
shows what mixed precision does to the result, not to the speed.

Writes ``bench/results/mixed_precision.csv`` (case, precision, step, PSNR).
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
from pathlib import Path

from bench.recorded_fit import recorded_fit

CLIP = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "gt_bach.wav"
RESULTS = Path(__file__).parent / "results"


def case_args(name: str, image_size: int, audio_source: str) -> list[str]:
    """The ``inr fit`` options of a case (config and data)."""
    bach = audio_source == "bach" and CLIP.is_file()
    audio = ["--data.path", str(CLIP), "--data.start_seconds", "2.0", "--data.crop_seconds", "1.0"] if bach else []
    return {
        "audio_siren": ["--config", "configs/audio_siren.yaml", *audio],
        "audio_relu_pe": ["--config", "configs/audio_relu_pe.yaml", *audio],
        "image_relu_pe": ["--config", "configs/image_relu_pe.yaml", "--data.size", str(image_size)],
        "image_siren": ["--config", "configs/image_siren.yaml", "--data.size", str(image_size)],
    }[name]


CASES = ("audio_siren", "audio_relu_pe", "image_relu_pe", "image_siren")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", choices=CASES, default=list(CASES))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--precisions", nargs="+", default=["32-true", "bf16-mixed"])
    parser.add_argument("--accelerator", default="cpu", help="trainer accelerator (cpu or gpu); one device")
    parser.add_argument("--image-size", type=int, default=256, help="longer side of the image cases, pixels")
    parser.add_argument("--audio", choices=["bach", "chirp"], default="bach", help="clip of the audio cases")
    options = parser.parse_args()
    os.environ.setdefault("WANDB_MODE", "offline")
    rows = []
    for name in options.cases:
        results = {}
        for precision in options.precisions:
            root = tempfile.mkdtemp(prefix=f"inr-mixed-{name}-")
            recorded, seconds = recorded_fit(
                [*case_args(name, options.image_size, options.audio), "--trainer.precision", precision,
                 "--trainer.accelerator", options.accelerator, "--trainer.devices", "1",
                 "--trainer.val_check_interval", str(options.steps), "--trainer.default_root_dir", root,
                 "--trainer.logger", "false"], ["val/psnr"], options.steps)
            step, psnr = recorded[-1]
            results[precision] = psnr
            rows.append((name, precision, step, f"{psnr:.2f}", f"{seconds:.3f}"))
            print(f"{name} {precision}: {psnr:.2f} dB at step {step} ({seconds:.3f} s/step)", flush=True)
        reference = results.get("32-true")
        if reference is not None:
            print(f"{name}: " + ", ".join(f"{precision} {psnr - reference:+.2f} dB" for precision, psnr in
                                          results.items() if precision != "32-true") + " against 32-true", flush=True)
    RESULTS.mkdir(exist_ok=True)
    with (RESULTS / "mixed_precision.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["case", "precision", "step", "psnr", "seconds_per_step"])
        writer.writerows(rows)


if __name__ == "__main__":
    main()
