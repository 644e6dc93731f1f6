"""Metrics live one file per modality, say higher_is_better as torchmetrics does, and keep their class paths."""

from __future__ import annotations

import math


def test_each_modality_has_its_file_and_the_old_paths_still_name_the_classes():
    import inr.metrics as metrics
    from inr.metrics import audio, image, shape, video

    assert metrics.PSNR is image.PSNR and metrics.SNR is audio.SNR and metrics.FramePSNR is video.FramePSNR
    assert metrics.SurfaceDistance is shape.SurfaceDistance


def test_higher_is_better_decides_the_best_value():
    from inr.metrics import PSNR, DerivativeError, SurfaceDistance

    assert PSNR.higher_is_better is True and DerivativeError.higher_is_better is False
    psnr, error, surface = PSNR(), DerivativeError("laplacian"), SurfaceDistance(resolution=4)
    assert psnr.is_better("psnr", 30.0, 29.0) and not psnr.is_better("psnr", 29.0, 30.0)
    assert error.is_better("laplacian_mse", 0.1, 0.2) and not error.is_better("laplacian_mse", 0.3, 0.2)
    assert surface.higher_is_better == {"chamfer": False, "normal_consistency": True}
    assert surface.is_better("chamfer", 0.01, 0.02) and surface.is_better("normal_consistency", 0.9, 0.8)
    assert psnr.is_better("psnr", 1.0, math.nan) and not psnr.is_better("psnr", math.nan, 1.0)
