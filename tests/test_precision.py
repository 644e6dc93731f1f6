"""Mixed precision: coordinates, Fourier phases and the input layer stay in full float32; fits match float32."""

from __future__ import annotations

import math

import pytest
import torch

from inr.nn.encoders import Identity, PositionalEncoding, fourier_features
from inr.nn.networks import MLP, Siren

BF16 = {"device_type": "cpu", "dtype": torch.bfloat16}


def _clip_coords(samples: int = 16000) -> torch.Tensor:
    """Time stamps of a 1 s, 16 kHz clip on [-1, 1], [samples, 1]."""
    return torch.linspace(-1, 1, samples)[:, None]


def test_coordinates_and_fourier_phases_stay_float32_under_autocast():
    coords = _clip_coords()
    encoder = PositionalEncoding(1, num_frequencies=16, sigma=131072.0)  # configs/audio_relu_pe.yaml, to ~62k cycles
    exact = fourier_features(coords.double(), encoder.frequencies.double(), encoder.amplitudes.double())
    with torch.autocast(**BF16):
        features = encoder(coords)
        raw = Identity(1)(coords)
        # what autocast does to a phase computed with a matmul outside inr's float32 block
        half_phases = (2.0 * math.pi) * (((coords + 1) * 0.5) @ encoder.frequencies.T)
    assert features.dtype == raw.dtype == torch.float32
    assert raw.unique().numel() == 16000  # bfloat16 would keep ~1,800 distinct time stamps
    # float32 phases reach 4e5 rad, where one ulp is 0.03 rad; bfloat16 phases are off by whole periods
    assert (features[:, 1:] - exact).abs().max() < 0.05
    assert half_phases.dtype == torch.bfloat16
    assert (torch.sin(half_phases.float()) - exact[:, :16]).abs().max() > 0.5


def test_fourier_phases_do_not_overflow_under_float16_autocast():
    # 16-mixed: a phase of 2 pi x 62k cycles is 3.9e5 rad, beyond float16's largest number (65504): inf, then NaN.
    coords = _clip_coords()
    encoder = PositionalEncoding(1, num_frequencies=16, sigma=131072.0)
    with torch.autocast("cpu", dtype=torch.float16):
        features = encoder(coords)
        half_phases = (2.0 * math.pi) * (((coords + 1) * 0.5) @ encoder.frequencies.T)
    assert torch.isinf(half_phases).any()
    assert features.dtype == torch.float32 and torch.isfinite(features).all()


def test_siren_input_layer_is_float32_and_later_layers_keep_mixed_precision():
    torch.manual_seed(0)
    siren = Siren(1, 1, hidden=64, layers=2, first_omega_0=3000.0)
    seen = {}
    siren.net[0].linear.register_forward_hook(lambda module, args, out: seen.update(first=out))
    siren.net[1].linear.register_forward_hook(lambda module, args, out: seen.update(second=out))
    coords = _clip_coords()
    with torch.no_grad():
        reference = siren.net[0].linear(coords)
        with torch.autocast(**BF16):
            siren(coords)
    assert seen["first"].dtype == torch.float32 and torch.equal(seen["first"], reference)
    assert seen["second"].dtype == torch.bfloat16


def test_matmul_precision_does_not_reach_the_input_layer():
    from torch.nn import functional as F
    from torch.overrides import TorchFunctionMode

    class LinearPrecisions(TorchFunctionMode):
        """The process's float32 matmul precision at each F.linear call."""

        def __init__(self):
            super().__init__()
            self.seen = []

        def __torch_function__(self, func, types, args=(), kwargs=None):
            if func is F.linear:
                self.seen.append(torch.get_float32_matmul_precision())
            return func(*args, **(kwargs or {}))

    mlp = MLP(2, 1, hidden=8, layers=1)
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("medium")
    try:
        with LinearPrecisions() as recorder:
            mlp(torch.rand(4, 2))
        assert recorder.seen == ["highest", "medium", "medium"]  # input layer in IEEE float32, the rest as asked
        assert torch.get_float32_matmul_precision() == "medium"
    finally:
        torch.set_float32_matmul_precision(previous)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["audio_siren", "image_relu_pe"])
def test_bf16_mixed_fits_within_half_a_db_of_float32(case, tmp_path):
    # Before inr kept the input in float32, bf16-mixed lost 5.6 dB (audio) and 1.5 dB (image) on these runs.
    from inr.cli import build_cli

    args = {
        "audio_siren": ["--config", "configs/audio_siren.yaml", "--data.batch_size", "2048"],  # 1 s chirp, 16 kHz
        "image_relu_pe": ["--config", "configs/image_relu_pe.yaml", "--data.size", "48"],
    }[case]
    psnr = {}
    for precision in ("32-true", "bf16-mixed"):
        cli = build_cli([*args, "--model.network.init_args.hidden", "64", "--trainer.precision", precision,
                         "--trainer.max_steps", "100", "--trainer.val_check_interval", "100", "--trainer.logger",
                         "false", "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir",
                         str(tmp_path / precision), "--trainer.accelerator", "cpu"], run=False)
        cli.trainer.fit(cli.model, cli.datamodule)
        psnr[precision] = cli.trainer.callback_metrics["val/psnr"].item()
    assert psnr["32-true"] > 20
    assert abs(psnr["bf16-mixed"] - psnr["32-true"]) < 0.5, psnr
