"""K members in one batched pass equal K single networks: at initialisation, in the forward pass and in training."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch
import yaml
from conftest import EQUIVALENT_ATOL, FLOAT64, config_class

from inr.cli import build_cli
from inr.core.errors import InputError
from inr.nn.members import Members, build_members, member_seeds

ZOO = Path(__file__).resolve().parent.parent / "configs" / "zoo"


def _component(spec, *args):
    """Build ``class_path`` + ``init_args`` of a YAML entry with positional ``args``."""
    if isinstance(spec, str):
        spec = {"class_path": spec}
    return config_class(spec["class_path"])(*args, **spec.get("init_args", {}))


def _small(preset: str) -> dict:
    model = yaml.safe_load((ZOO / f"{preset}.yaml").read_text())["model"]
    network = model["network"]
    network.setdefault("init_args", {})
    if "hidden" in network["init_args"] or preset not in ("fourier_net", "gabor_net"):
        network["init_args"]["hidden"] = 16
    return model


@pytest.mark.parametrize("preset", sorted(path.stem for path in ZOO.glob("*.yaml")))
def test_every_zoo_member_starts_and_evaluates_as_its_single_network(preset):
    model = _small(preset)

    def build():
        encoder = _component(model.get("encoder", "inr.nn.encoders.Identity"), 2)
        return encoder, _component(model["network"], encoder.out_dim, 3)

    seeds = [11, 12, 13]
    encoders, networks = build_members(build, seeds)
    coords = torch.rand(3, 40, 2) * 2 - 1
    batched = networks(encoders(coords))
    for index, seed in enumerate(seeds):
        torch.manual_seed(seed)
        encoder, network = build()
        own = networks.member_state(index)
        assert own.keys() == network.state_dict().keys()
        for name, value in network.state_dict().items():
            assert torch.equal(own[name], value), name
        torch.testing.assert_close(batched[index], network(encoder(coords[index])), rtol=1e-5, atol=1e-5)


def test_members_read_through_the_module_and_refuse_bad_inputs():
    from inr.nn.networks import MLP, Siren

    (network,) = build_members(lambda: (MLP(2, 3, hidden=8, layers=1),), [0, 1])
    assert network.piecewise_linear and network.out_dim == 3 and network.describe() == "MLP(activation='relu')"
    with pytest.raises(InputError, match="Members of 2 got inputs for 3 members"):
        network(torch.zeros(3, 5, 2))
    with pytest.raises(InputError, match="member 2 does not exist"):
        network.member_state(2)
    with pytest.raises(InputError, match="differs in structure"):
        Members([MLP(2, 3, hidden=8), MLP(2, 3, hidden=9)])
    with pytest.raises(InputError, match="at least one"):
        Members([])
    torch.manual_seed(5)
    assert member_seeds(3) == [5, 6, 7] and member_seeds(2, first=9) == [9, 10]
    # the caller's RNG is untouched
    state = torch.get_rng_state()
    build_members(lambda: (Siren(2, 1, hidden=4),), [1, 2])
    assert torch.equal(state, torch.get_rng_state())


def _images(folder: Path, count: int, size: int = 12) -> list[Path]:
    """``count`` different RGB images of size x size (smooth patterns plus texture), written as PNG."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size] / (size - 1)
    paths = []
    for k in range(count):
        image = np.stack([np.sin((3 + k) * x + k), np.cos((2 + k) * y - k), x * y], -1) * 0.4 + 0.5
        image += rng.uniform(-0.1, 0.1, image.shape)
        paths.append(folder / f"{k:02d}.png")
        iio.imwrite(paths[-1], (image.clip(0, 1) * 255).round().astype(np.uint8))
    return paths


def _fit(config: str, data: list[str], root: Path, seed: int, steps: int, extra: list[str] = ()):
    cli = build_cli(["--config", config, *data, "--seed_everything", str(seed), "--trainer.max_steps", str(steps),
                     "--trainer.val_check_interval", str(steps), "--trainer.logger", "false",
                     "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(root),
                     "--checkpoint.save_top_k", "0", "--checkpoint.save_last", "false",
                     "--model.network.init_args.hidden", "24", "--model.network.init_args.layers", "1", *extra],
                    run=False)
    cli.trainer.fit(cli.model, cli.datamodule)
    return cli


def _assert_members_equal_single_runs(config, folder_args, single_args, files, tmp_path, extra=(), metric="psnr"):
    """Fit the folder batched and each file alone, in float64 (conftest.FLOAT64); every member equals its fit."""
    steps, seed = 50, 7
    extra = [*FLOAT64, *extra]
    batched = _fit(config, folder_args, tmp_path / "batched", seed, steps, extra)
    members = batched.model.member_metrics
    for index, file in enumerate(files):
        single = _fit(config, [*single_args, "--data.path", str(file)], tmp_path / f"single{index}", seed + index,
                      steps, extra)
        state = single.model.state_dict()
        for name, value in batched.model.state_dict().items():
            mine = name.replace(".module.", ".", 1)
            assert value.dtype == torch.float64, name
            torch.testing.assert_close(value[index], state[mine], rtol=0, atol=EQUIVALENT_ATOL, msg=name)
        own = float(single.trainer.callback_metrics[f"val/{metric}"])
        assert abs(float(members[index][metric]) - own) < 0.01, (index, float(members[index][metric]), own)
    return batched


def test_a_batched_fit_of_8_images_equals_8_single_fits(tmp_path):
    files = _images(tmp_path / "images", 8)
    batched = _assert_members_equal_single_runs(
        "configs/image_siren.yaml",
        ["--data", "datamodules.image_folder.ImageFolderDataModule", "--data.path", str(tmp_path / "images"),
         "--data.size", "null"],
        ["--data.size", "null"], files, tmp_path, extra=["--model.optimizer.init_args.lr", "1e-3"])
    psnr = [float(row["psnr"]) for row in batched.model.member_metrics]
    assert min(psnr) > 17 and np.mean(psnr) > 20, psnr  # trained, not just equal at initialisation
    logged = batched.trainer.callback_metrics
    assert float(logged["val/psnr"]) == pytest.approx(np.mean(psnr), abs=1e-4)
    assert float(logged["val/psnr_min"]) == pytest.approx(min(psnr), abs=1e-4)
    assert float(logged["val/psnr_std"]) == pytest.approx(np.std(psnr), abs=1e-4)


def test_random_batches_per_member_are_the_single_runs_draws(tmp_path):
    files = _images(tmp_path / "images", 3)
    _assert_members_equal_single_runs(
        "configs/image_siren.yaml",
        ["--data", "datamodules.image_folder.ImageFolderDataModule", "--data.path", str(tmp_path / "images"),
         "--data.size", "null", "--data.batch_size", "50"],
        ["--data.size", "null", "--data.batch_size", "50"], files, tmp_path)


def test_a_batched_poisson_gradient_fit_equals_single_fits(tmp_path):
    files = _images(tmp_path / "images", 3)
    _assert_members_equal_single_runs(
        "configs/poisson_gradient.yaml",
        ["--data", "datamodules.image_folder.ImageFolderDataModule", "--data.path", str(tmp_path / "images"),
         "--data.size", "null"],
        ["--data.size", "null"], files, tmp_path, metric="psnr_aligned")


def _clips(folder: Path, count: int, samples: int = 400, rate: int = 8000) -> list[Path]:
    """``count`` different mono WAV clips (tones plus noise), written with soundfile."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    t = np.arange(samples) / rate
    paths = []
    for k in range(count):
        clip = 0.5 * np.sin(2 * np.pi * (200 + 150 * k) * t) + 0.05 * rng.standard_normal(samples)
        paths.append(folder / f"clip{k}.wav")
        sf.write(paths[-1], clip.clip(-1, 1), rate, subtype="PCM_16")
    return paths


def test_a_batched_audio_fit_equals_single_fits(tmp_path):
    files = _clips(tmp_path / "clips", 3)
    _assert_members_equal_single_runs(
        "configs/audio_siren.yaml",
        ["--data", "datamodules.audio_folder.AudioFolderDataModule", "--data.path", str(tmp_path / "clips")],
        [], files, tmp_path)


def test_a_batched_sdf_fit_of_two_shapes_equals_single_fits(tmp_path):
    import trimesh

    folder = tmp_path / "shapes"
    folder.mkdir()
    files = [folder / "a_box.ply", folder / "b_sphere.ply"]
    trimesh.creation.box(extents=(1.0, 0.6, 0.4)).export(files[0])
    trimesh.creation.icosphere(subdivisions=2, radius=0.7).export(files[1])
    surface = ["--data.batch_size", "128", "--data.surface_points", "2000", "--data.val_points", "500",
               "--model.metrics", '[{"class_path": "inr.metrics.SurfaceDistance", "init_args": {"resolution": 16}}]']
    batched = _assert_members_equal_single_runs(
        "configs/sdf_siren.yaml",
        ["--data", "datamodules.shape_folder.ShapeFolderDataModule", "--data.path", str(folder), *surface],
        surface, files, tmp_path, metric="chamfer")
    spec = batched.model.signal
    assert spec.member(0).meta["scale"] != spec.member(1).meta["scale"]  # each shape keeps its own transform


@pytest.mark.parametrize("chunk_size", ["30", "300"], ids=["points-of-one-member", "groups-of-members"])
def test_members_chunked_in_pieces_train_as_in_one_piece(chunk_size, tmp_path):
    _images(tmp_path / "images", 3)
    data = ["--data", "datamodules.image_folder.ImageFolderDataModule", "--data.path", str(tmp_path / "images"),
            "--data.size", "null"]
    whole = _fit("configs/image_siren.yaml", data, tmp_path / "whole", 3, 20, FLOAT64)
    pieces = _fit("configs/image_siren.yaml", data, tmp_path / "pieces", 3, 20,
                  [*FLOAT64, "--model.chunk_size", chunk_size])
    state = pieces.model.state_dict()
    for name, value in whole.model.state_dict().items():
        torch.testing.assert_close(state[name], value, rtol=0, atol=EQUIVALENT_ATOL, msg=name)
    assert pieces.model.network.active == slice(0, 3)  # every member active again after the step
    assert float(pieces.trainer.callback_metrics["val/psnr"]) == pytest.approx(
        float(whole.trainer.callback_metrics["val/psnr"]), abs=1e-3)
