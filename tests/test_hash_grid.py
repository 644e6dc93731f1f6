"""HashGrid: lookups against a loop-based reference, level resolutions, input derivatives, the table's optimizer
group, the Laplacian refusal, bad options, a short fit, and chunked gradients."""

from __future__ import annotations

import functools
import itertools
import math
import re

import lightning as L
import pytest
import torch
import yaml

from inr.core.diff import gradient, laplacian
from inr.core.errors import InputError
from inr.core.signal import SignalSpec
from inr.losses import ValueLoss
from inr.losses.derivatives import LaplacianLoss
from inr.nn.hash_grid import HASH_PRIMES, HashGrid, level_resolutions
from inr.nn.networks import MLP
from inr.training.module import INRModule, chunks

# measured 52.5 dB (CPU, seed 0); the same MLP on raw coordinates reaches 22.9 dB
PSNR_AFTER_150_STEPS = 45.0
IMAGE_SPEC = SignalSpec(in_dim=2, out_dim=1, kind="image", shape=(8, 8))
# Two levels per dimension: the coarse one fits its (N + 1)^d vertices in 2^6 rows (dense), the fine one hashes.
TWO_LEVELS = {1: (4, 100), 2: (4, 20), 3: (2, 8)}


def two_level_grid(in_dim: int, interpolation: str = "linear") -> HashGrid:
    base, finest = TWO_LEVELS[in_dim]
    return HashGrid(in_dim, levels=2, features=3, log2_table_size=6, base_resolution=base, max_resolution=finest,
                    interpolation=interpolation, init_scale=1.0, seed=1).double()


def reference_features(grid: HashGrid, point: list[float]) -> torch.Tensor:
    """The encoding of one point [d] written out with loops and Python integers (uint32 hash as tiny-cuda-nn)."""
    table, size = grid.table.detach(), 2**grid.log2_table_size
    features, offset = [], 0
    for resolution in grid.resolutions:
        dense = (resolution + 1) ** grid.in_dim <= size
        positions = [(x + 1) / 2 * resolution for x in point]
        cells = [min(math.floor(p), resolution - 1) for p in positions]
        fractions = [p - c for p, c in zip(positions, cells)]
        if grid.interpolation == "smoothstep":
            fractions = [3 * t**2 - 2 * t**3 for t in fractions]
        level = torch.zeros(grid.features, dtype=table.dtype)
        for corner in itertools.product((0, 1), repeat=grid.in_dim):
            vertex = [c + o for c, o in zip(cells, corner)]
            weight = math.prod(t if o else 1 - t for t, o in zip(fractions, corner))
            if dense:
                row = sum(v * (resolution + 1) ** axis for axis, v in enumerate(vertex))
            else:
                row = 0
                for v, prime in zip(vertex, HASH_PRIMES):
                    row ^= (v * prime) % 2**32
                row %= size
            level += weight * table[offset + row]
        features.append(level)
        offset += (resolution + 1) ** grid.in_dim if dense else size
    return torch.cat(features)


@pytest.mark.parametrize("interpolation", ["linear", "smoothstep"])
@pytest.mark.parametrize("in_dim", [1, 2, 3])
def test_lookups_match_a_loop_based_reference_on_a_dense_and_a_hashed_level(in_dim, interpolation):
    grid = two_level_grid(in_dim, interpolation)
    assert grid.dense == [True, False]
    assert grid.table.shape == ((TWO_LEVELS[in_dim][0] + 1) ** in_dim + 64, 3)
    generator = torch.Generator().manual_seed(0)
    points = torch.rand(40, in_dim, generator=generator, dtype=torch.float64) * 2 - 1
    points = torch.cat([points, -torch.ones(1, in_dim), torch.ones(1, in_dim)]).double()  # both ends of the range
    expected = torch.stack([reference_features(grid, point.tolist()) for point in points])
    torch.testing.assert_close(grid(points), expected, rtol=0, atol=1e-6)
    assert grid(points.reshape(2, 21, in_dim)).shape == (2, 21, grid.out_dim) == (2, 21, 6)


def test_level_resolutions_follow_the_papers_formula():
    growth = math.exp((math.log(2048) - math.log(16)) / 15)
    resolutions = level_resolutions(16, 16, 2048)
    assert resolutions == [math.floor(16 * growth**level + 1e-9) for level in range(16)]
    assert resolutions[0] == 16 and resolutions[-1] == 2048 and resolutions[7] == 153  # 16 * 2^(49/15) = 153.9
    assert level_resolutions(1, 16, 2048) == [16]
    assert level_resolutions(3, 8, 8) == [8, 8, 8]
    grid = HashGrid(2)
    assert grid.resolutions == resolutions and grid.out_dim == 32
    assert grid.dense == [(n + 1) ** 2 <= 2**19 for n in resolutions]
    assert grid.dense.index(False) == 12  # 562^2 <= 2^19 < 777^2
    assert grid.table.shape == (sum((n + 1) ** 2 for n in resolutions[:12]) + 4 * 2**19, 2)


def points_inside_cells(grid: HashGrid, count: int, margin: float = 0.02) -> torch.Tensor:
    """Random points [count, d] whose position in every level is at least ``margin`` cells from a cell face."""
    generator = torch.Generator().manual_seed(3)
    points = torch.rand(20 * count, grid.in_dim, generator=generator, dtype=torch.float64) * 2 - 1
    positions = (points[:, None, :] + 1) / 2 * torch.tensor(grid.resolutions, dtype=torch.float64)[:, None]
    fractions = positions - positions.floor()
    inside = ((fractions > margin) & (fractions < 1 - margin)).flatten(1).all(dim=1)
    return points[inside][:count]


@pytest.mark.parametrize("interpolation", ["linear", "smoothstep"])
def test_input_gradient_equals_finite_differences(interpolation):
    grid = two_level_grid(2, interpolation)
    points = points_inside_cells(grid, 10).requires_grad_(True)
    jacobian = torch.func.vmap(torch.func.jacrev(grid))(points.detach())  # [P, out, d]
    step = 1e-6
    for axis in range(2):
        shift = torch.zeros(2, dtype=torch.float64)
        shift[axis] = step
        central = (grid(points.detach() + shift) - grid(points.detach() - shift)) / (2 * step)
        torch.testing.assert_close(jacobian[..., axis], central, rtol=1e-6, atol=1e-6)
    assert jacobian.abs().max() > 1.0
    torch.autograd.gradcheck(grid, (points[:3],))


def test_smoothstep_laplacian_is_non_zero_and_matches_finite_differences():
    grid = two_level_grid(2, "smoothstep")
    points = points_inside_cells(grid, 10).requires_grad_(True)
    features = grid(points)
    exact = laplacian(features, points, grad=gradient(features, points)).detach()
    step = 1e-4  # the features are cubic in each coordinate inside a cell: the central difference is exact but rounding
    centre = grid(points.detach())
    second = torch.zeros_like(centre)
    for axis in range(2):
        shift = torch.zeros(2, dtype=torch.float64)
        shift[axis] = step
        second += (grid(points.detach() + shift) - 2 * centre + grid(points.detach() - shift)) / step**2
    assert exact.abs().max() > 10.0
    torch.testing.assert_close(exact, second, rtol=1e-5, atol=1e-4)


def test_linear_grid_under_a_relu_network_has_zero_laplacian():
    torch.manual_seed(0)
    grid = two_level_grid(2, "linear")
    network = MLP(grid.out_dim, 1, hidden=16, layers=1).double()
    points = points_inside_cells(grid, 10).requires_grad_(True)
    values = network(grid(points))
    assert grid.piecewise_linear and not two_level_grid(2, "smoothstep").piecewise_linear
    torch.testing.assert_close(laplacian(values, points), torch.zeros(10, 1, dtype=torch.float64))


SMALL_GRID = functools.partial(HashGrid, levels=4, log2_table_size=10, base_resolution=4, max_resolution=32)
SMALL_MLP = functools.partial(MLP, hidden=16, layers=1)


def test_the_table_trains_in_its_own_group_and_the_network_in_the_default_one():
    adam = functools.partial(torch.optim.Adam, lr=1e-2, betas=(0.9, 0.99), weight_decay=1e-6)
    model = INRModule(encoder=SMALL_GRID, network=SMALL_MLP, optimizer=adam, signal=IMAGE_SPEC)
    default, table = model.configure_optimizers().param_groups
    assert table["params"] == [model.encoder.table]
    assert (table["eps"], table["weight_decay"], table["lr"], table["betas"]) == (1e-15, 0.0, 1e-2, (0.9, 0.99))
    assert default["params"] == list(model.network.parameters())
    assert (default["eps"], default["weight_decay"], default["lr"]) == (1e-8, 1e-6, 1e-2)  # Adam's and adam's own


def test_a_yaml_table_optimizer_reaches_the_tables_group():
    options = yaml.safe_load("table_optimizer: {eps: 1.0e-8, lr: 0.1, betas: [0.5, 0.9]}")["table_optimizer"]
    encoder = functools.partial(SMALL_GRID, table_optimizer=options)
    model = INRModule(encoder=encoder, network=SMALL_MLP, optimizer=torch.optim.Adam, signal=IMAGE_SPEC)
    default, table = model.configure_optimizers().param_groups
    assert (table["eps"], table["lr"], table["weight_decay"], list(table["betas"])) == (1e-8, 0.1, 0.0, [0.5, 0.9])
    assert (default["eps"], default["lr"]) == (1e-8, 1e-3)


def test_a_model_without_groups_passes_its_parameters_as_before():
    received = []

    def factory(parameters):
        received.append(parameters)
        return torch.optim.Adam(parameters)

    model = INRModule(network=SMALL_MLP, optimizer=factory, signal=IMAGE_SPEC)
    (group,) = model.configure_optimizers().param_groups
    assert group["params"] == list(model.parameters())
    assert not isinstance(received[0], list)  # the generator self.parameters(), as before groups existed


def test_laplacian_loss_refuses_a_linear_grid_under_relu_and_takes_smoothstep():
    with pytest.raises(InputError, match=r"LaplacianLoss cannot train MLP\(activation='relu'\) on HashGrid features"):
        INRModule(encoder=SMALL_GRID, network=SMALL_MLP, losses=[LaplacianLoss()], signal=IMAGE_SPEC)
    smooth = functools.partial(SMALL_GRID, interpolation="smoothstep")
    with pytest.warns(UserWarning, match="only the curvature of HashGrid reaches the Laplacian"):
        INRModule(encoder=smooth, network=SMALL_MLP, losses=[LaplacianLoss()], signal=IMAGE_SPEC)


@pytest.mark.parametrize("options, message", [
    ({"in_dim": 4}, "HashGrid in_dim must be 1, 2 or 3 (coordinate axes), got 4"),
    ({"in_dim": 0}, "HashGrid in_dim must be 1, 2 or 3 (coordinate axes), got 0"),
    ({"levels": 0}, "HashGrid levels must be >= 1, got 0"),
    ({"features": 0}, "HashGrid features must be >= 1, got 0"),
    ({"log2_table_size": 3}, "HashGrid log2_table_size must be in 4..30, got 3"),
    ({"log2_table_size": 31}, "HashGrid log2_table_size must be in 4..30, got 31"),
    ({"base_resolution": 0}, "HashGrid base_resolution must be >= 1, got 0"),
    ({"max_resolution": 8}, "HashGrid max_resolution must be in base_resolution (16)..2^30, got 8"),
    ({"interpolation": "cubic"}, "HashGrid interpolation must be one of ['linear', 'smoothstep'], got 'cubic'"),
    ({"init_scale": 0.0}, "HashGrid init_scale must be > 0, got 0.0"),
    ({"table_optimizer": {"params": []}}, "HashGrid table_optimizer must be a dict of optimizer options (no 'params')"),
])
def test_bad_options_name_the_option(options, message):
    with pytest.raises(InputError, match=re.escape(message)):
        HashGrid(**{"in_dim": 2, **options})


def test_the_table_is_seeded_independently_of_the_global_rng():
    torch.manual_seed(0)
    first = HashGrid(2, levels=2, log2_table_size=8, seed=5).table
    torch.manual_seed(1)
    again = HashGrid(2, levels=2, log2_table_size=8, seed=5).table
    torch.testing.assert_close(first, again)
    assert first.abs().max() <= 1e-4 and first.abs().max() > 0.9e-4
    assert not torch.equal(first, HashGrid(2, levels=2, log2_table_size=8, seed=6).table)


def test_a_short_fit_reaches_a_high_psnr(tmp_path):
    import imageio.v3 as iio
    from conftest import cameraman_crop

    from datamodules.image import ImageDataModule

    path = tmp_path / "gray32.png"
    iio.imwrite(path, cameraman_crop(32))
    L.seed_everything(0)
    data = ImageDataModule(path=str(path))
    adam = functools.partial(torch.optim.Adam, lr=1e-2, betas=(0.9, 0.99), eps=1e-15)
    grid = functools.partial(HashGrid, levels=8, log2_table_size=12, base_resolution=4, max_resolution=32)
    model = INRModule(encoder=grid, network=functools.partial(MLP, hidden=64, layers=1), optimizer=adam,
                      signal=data.signal_spec)
    trainer = L.Trainer(max_steps=150, val_check_interval=150, accelerator="cpu", logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        default_root_dir=tmp_path)
    trainer.fit(model, datamodule=data)
    assert trainer.callback_metrics["val/psnr"].item() > PSNR_AFTER_150_STEPS


def test_chunked_gradients_equal_one_chunk():
    torch.manual_seed(0)
    model = INRModule(encoder=SMALL_GRID, network=SMALL_MLP, signal=IMAGE_SPEC, chunk_size=16)
    generator = torch.Generator().manual_seed(0)
    batch = {"coords": torch.rand(100, 2, generator=generator) * 2 - 1,
             "values": torch.rand(100, 1, generator=generator)}

    def gradients(chunk_size: int) -> list[torch.Tensor]:
        model.zero_grad(set_to_none=True)
        for chunk in chunks(batch, chunk_size):
            share = chunk["coords"].shape[0] / 100
            (ValueLoss()(model.evaluate(chunk)) * share).backward()
        return [parameter.grad.clone() for parameter in model.parameters()]

    for small, whole in zip(gradients(16), gradients(100)):
        torch.testing.assert_close(small, whole, rtol=0, atol=1e-6)
    assert model.encoder.table.grad.abs().max() > 0


def test_a_resumed_fit_equals_an_uninterrupted_one_with_the_tables_group(gray_png, tmp_path):
    from inr.cli import build_cli, find_last_checkpoint

    def fit(root, steps: int, *extra: str):
        cli = build_cli(["--config", "configs/zoo/hash_grid.yaml", "--data.path", str(gray_png), "--data.size", "16",
                         "--model.encoder.init_args.log2_table_size", "10", "--model.encoder.init_args.levels", "4",
                         "--model.encoder.init_args.max_resolution", "16", "--model.network.init_args.hidden", "16",
                         "--trainer.max_steps", str(steps), "--trainer.val_check_interval", "3",
                         "--trainer.logger", "false", "--trainer.enable_progress_bar", "false",
                         "--trainer.default_root_dir", str(root)], run=False)
        cli.trainer.fit(cli.model, cli.datamodule, ckpt_path=extra[0] if extra else None)
        return cli

    fit(tmp_path / "straight", 6)
    fit(tmp_path / "resumed", 3)
    resumed = fit(tmp_path / "resumed", 6, str(find_last_checkpoint(tmp_path / "resumed")))
    assert [group["eps"] for group in resumed.trainer.optimizers[0].param_groups] == [1e-15, 1e-15]
    straight = torch.load(find_last_checkpoint(tmp_path / "straight"), weights_only=True)
    after = torch.load(find_last_checkpoint(tmp_path / "resumed"), weights_only=True)
    assert after["global_step"] == straight["global_step"] == 6
    for key, value in straight["state_dict"].items():
        assert torch.equal(value, after["state_dict"][key]), key
