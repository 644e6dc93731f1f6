"""The official SIREN notebook's audio setup through inr's CLI: PSNR and SNR of the whole clip every 50 steps.

``../shared/data/gt_bach.wav`` (7 s, 44.1 kHz mono, 308,207 samples), coordinates in [-1, 1], full clip per step,
Adam lr 1e-4: SIREN 3 x 256 with first-layer w0 = 3000 (``configs/audio_siren.yaml``) and the ReLU + positional
encoding baseline (``configs/audio_relu_pe.yaml``). Writes ``bench/results/audio_reference_<case>.csv``, and the
last checkpoint of each case rendered as WAV in its run folder (printed, to listen to; also logged to W&B).

    python -m bench.audio_reference [--cases siren relu_pe] [--steps 250] [--every 50]
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
from pathlib import Path

from bench.recorded_fit import recorded_fit
from inr.cli import find_last_checkpoint
from inr.commands.render import render_checkpoint

CLIP = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "gt_bach.wav"
CASES = {"siren": "configs/audio_siren.yaml", "relu_pe": "configs/audio_relu_pe.yaml"}
RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=list(CASES))
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--every", type=int, default=50, help="validation interval in steps")
    parser.add_argument("--clip", type=Path, default=CLIP)
    options = parser.parse_args()
    if not options.clip.is_file():
        raise SystemExit(f"audio clip {options.clip} not found (../shared/data/gt_bach.wav)")
    os.environ.setdefault("WANDB_MODE", "offline")
    for name in options.cases:
        root = tempfile.mkdtemp(prefix=f"inr-audio-{name}-")
        rows, seconds = recorded_fit(["--config", CASES[name], "--data.path", str(options.clip),
                                      "--trainer.val_check_interval", str(options.every),
                                      "--trainer.default_root_dir", root], ["val/psnr", "val/snr"], options.steps)
        wav = Path(root) / f"audio_{name}.wav"
        render_checkpoint(find_last_checkpoint(root), str(wav))
        output = RESULTS / f"audio_reference_{name}.csv"
        with output.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["case", "step", "psnr", "snr"])
            writer.writerows([(name, step, f"{psnr:.2f}", f"{snr:.2f}") for step, psnr, snr in rows])
        print(f"{name}: " + ", ".join(f"step {step}: {psnr:.2f} dB PSNR / {snr:.2f} dB SNR"
                                      for step, psnr, snr in rows)
              + f" ({seconds:.2f} s/step incl. validation); wrote {wav}", flush=True)


if __name__ == "__main__":
    main()
