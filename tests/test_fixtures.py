"""Checkpoints written by an earlier main (tests/fixtures, see make_fixtures.py) load, render and resume today.

Their hyper-parameters name classes by the flat layout of 2026-12-06 (``inr.networks.Siren``, ...): class paths
are saved API, mapped to today's modules by :data:`inr.compat.MOVED`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from conftest import EQUIVALENT_ATOL, run_inr

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CHECKPOINTS = FIXTURES / "checkpoints"
RENDERED = dict(np.load(CHECKPOINTS / "rendered.npz"))
RENDERED_FLOAT64 = dict(np.load(CHECKPOINTS / "rendered_float64.npz"))


def probe_coords(in_dim: int) -> torch.Tensor:
    """The points make_fixtures.py evaluated: 200 fixed points in [-1, 1]^in_dim."""
    return torch.rand(200, in_dim, generator=torch.Generator().manual_seed(in_dim)) * 2 - 1


def _hparams(name: str) -> dict:
    return torch.load(CHECKPOINTS / f"{name}.ckpt", weights_only=True)["hyper_parameters"]


def test_the_fixtures_name_classes_by_the_old_layout():
    assert _hparams("image_siren")["network"]["class_path"] == "inr.networks.Siren"
    assert _hparams("zoo_wire")["network"]["class_path"] == "inr.zoo.Wire"
    assert _hparams("zoo_hash_grid")["encoder"]["class_path"] == "inr.hash_grid.HashGrid"
    assert _hparams("meta_maml_siren")["_class_path"] == "inr.meta.maml.MAML"
    from inr.compat import MOVED

    assert {"inr.networks", "inr.zoo", "inr.hash_grid", "inr.encoders"} <= MOVED.keys()  # moved since
    assert set(RENDERED) >= {"image_siren", "audio_siren", "video_siren", "sdf_siren", "many_image_siren",
                             "zoo_wire", "zoo_hash_grid", "zoo_fourier_net", "meta_maml_init", "meta_functa_export",
                             "meta_hypernetwork_export"}


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_an_old_checkpoint_renders_the_values_it_rendered_when_written(name):
    from inr.render import load_model

    from inr.core.precision import to_float64

    coords = probe_coords(load_model(CHECKPOINTS / f"{name}.ckpt").signal.in_dim)
    # The same function, exactly: evaluated in float64, where two machines' kernels agree to ~1e-15 (the old main's
    # float64 values, rendered_float64.npz); 1e-9 is far below any change of a weight or of a class.
    exact = to_float64(load_model(CHECKPOINTS / f"{name}.ckpt")).predict_values(coords.double())
    torch.testing.assert_close(exact, torch.from_numpy(RENDERED_FLOAT64[name]), rtol=0, atol=EQUIVALENT_ATOL)
    # As inr render evaluates it (float32): the old and the new float32 values each lie within this network's float32
    # rounding of the exact ones; that rounding is measured here (float32 against float64 on this machine), as
    # networks differ by orders (a Gauss layer of scale 30 amplifies it ~20x over a SIREN).
    values = load_model(CHECKPOINTS / f"{name}.ckpt").predict_values(coords)
    rounding = float((values.double() - exact).abs().max())
    torch.testing.assert_close(values, torch.from_numpy(RENDERED[name]), rtol=0, atol=4 * rounding + 1e-6)


def _inr(*args: str) -> subprocess.CompletedProcess:
    return run_inr(*args, timeout=300)


@pytest.mark.slow
def test_inr_render_writes_old_checkpoints_of_each_modality(tmp_path):
    _inr("render", str(CHECKPOINTS / "image_siren.ckpt"), "--out", str(tmp_path / "image.png"))
    assert iio.imread(tmp_path / "image.png").shape == (12, 12, 3)
    _inr("render", str(CHECKPOINTS / "many_image_siren.ckpt"), "--member", "2", "--out", str(tmp_path / "m.png"))
    assert iio.imread(tmp_path / "m.png").shape == (10, 10, 3)
    _inr("render", str(CHECKPOINTS / "audio_siren.ckpt"), "--out", str(tmp_path / "tone.wav"))
    import soundfile as sf

    assert sf.read(tmp_path / "tone.wav")[0].shape == (300,)
    _inr("render", str(CHECKPOINTS / "video_siren.ckpt"), "--out", str(tmp_path / "f_%02d.png"))
    assert len(list(tmp_path.glob("f_*.png"))) == 3


def _state(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state_dict"]


def test_an_old_checkpoint_resumes_to_where_the_old_main_resumed_it(tmp_path):
    # resume_step3 is a float64 run at step 3; resume_step6 the old main's resume of it to step 6
    _inr("fit", "--config", "configs/image_siren.yaml", "--data.path", "tests/fixtures/data/image.png",
         "--data.size", "null", "--model.network.init_args.hidden", "16", "--model.network.init_args.layers", "1",
         "--trainer.precision", "64-true", "--trainer.max_steps", "6", "--trainer.val_check_interval", "3",
         "--trainer.logger", "false", "--trainer.enable_progress_bar", "false", "--trainer.accelerator", "cpu",
         "--trainer.default_root_dir", str(tmp_path), "--ckpt_path", str(CHECKPOINTS / "resume_step3.ckpt"))
    (last,) = tmp_path.glob("**/checkpoints/last.ckpt")
    resumed, expected = _state(last), _state(CHECKPOINTS / "resume_step6.ckpt")
    start = _state(CHECKPOINTS / "resume_step3.ckpt")
    assert resumed.keys() == expected.keys()
    assert any(not torch.equal(value, start[key]) for key, value in expected.items())  # three steps moved it
    for key, value in expected.items():
        assert value.dtype == torch.float64, key
        torch.testing.assert_close(resumed[key], value, rtol=0, atol=EQUIVALENT_ATOL, msg=key)


def test_an_old_meta_checkpoint_exports_the_initialisation_it_exported(tmp_path):
    _inr("meta", "export", str(CHECKPOINTS / "meta_maml_siren.ckpt"), "--out", str(tmp_path / "init.ckpt"))
    exported, expected = _state(tmp_path / "init.ckpt"), _state(CHECKPOINTS / "meta_maml_init.ckpt")
    assert exported.keys() == expected.keys()
    assert all(torch.equal(exported[key], value) for key, value in expected.items())
    _inr("meta", "export", str(CHECKPOINTS / "meta_functa_siren.ckpt"), "--latents",
         str(CHECKPOINTS / "functa_latents.pt"), "--index", "0", "--out", str(tmp_path / "functa.ckpt"))
    exported, expected = _state(tmp_path / "functa.ckpt"), _state(CHECKPOINTS / "meta_functa_export.ckpt")
    assert exported.keys() == expected.keys()
    for key, value in expected.items():  # biases + shifts (a float32 map of the latent): a few float32 roundings
        torch.testing.assert_close(exported[key], value, rtol=1e-6, atol=1e-6, msg=key)
