import math

import pytest
import torch

from inr.nn.encoders import (
    BasicFourier,
    Encoder,
    FixedFourier,
    GaussianFourier,
    Identity,
    NerfPositionalEncoding,
    PositionalEncoding,
)

ENCODERS = [
    lambda d: Identity(d),
    lambda d: BasicFourier(d, band_limit=4, p=1.0),
    lambda d: BasicFourier(d, band_limit=4, p=math.inf),
    lambda d: PositionalEncoding(d, num_frequencies=5, sigma=32.0, include_input=True),
    lambda d: PositionalEncoding(d, num_frequencies=5, sigma=32.0, include_input=False),
    lambda d: GaussianFourier(d, mapping_size=7, sigma=3.0, seed=1),
    lambda d: FixedFourier(d, [[1.0] * d, [0.5] * d, [3.0] + [0.0] * (d - 1)], amplitudes=[1.0, 0.5, 0.25]),
    lambda d: NerfPositionalEncoding(d, num_frequencies=3),
    lambda d: NerfPositionalEncoding(d, num_frequencies=3, include_input=False),
]


@pytest.mark.parametrize("make", ENCODERS)
@pytest.mark.parametrize("in_dim", [1, 2, 3])
def test_out_dim_matches_forward_over_leading_dims(make, in_dim):
    encoder = make(in_dim)
    coords = torch.rand(4, 5, in_dim) * 2 - 1
    assert encoder(coords).shape == (4, 5, encoder.out_dim)


def test_basic_fourier_exact_values_at_quarter():
    # x = 0.25 in [-1, 1] is u = 0.625 in the unit domain; b = (1, 2), a = (1, 1/2) / ||a||.
    features = BasicFourier(1, band_limit=2, p=1.0)(torch.tensor([[0.25]], dtype=torch.float32))
    norm = math.sqrt(1 + 0.25)
    half_root2 = math.sqrt(2) / 2
    expected = [-half_root2 / norm, 1.0 * 0.5 / norm, -half_root2 / norm, 0.0]
    torch.testing.assert_close(features[0], torch.tensor(expected), atol=1e-6, rtol=0)


def test_basic_fourier_features_have_unit_norm_and_p_inf_keeps_one_frequency():
    encoder = BasicFourier(2, band_limit=8, p=1.5)
    features = encoder(torch.rand(100, 2) * 2 - 1)
    torch.testing.assert_close(features.norm(dim=-1), torch.ones(100), atol=1e-5, rtol=0)
    assert BasicFourier(2, band_limit=8, p=math.inf).out_dim == 4


def test_positional_encoding_frequencies_are_log_linear():
    encoder = PositionalEncoding(1, num_frequencies=4, sigma=16.0, include_input=False)
    torch.testing.assert_close(encoder.frequencies[:, 0], torch.tensor([1.0, 2.0, 4.0, 8.0]))
    features = encoder(torch.tensor([[0.0]]))  # u = 0.5: sin(pi f) = 0 for integer f; cos = (-1)^f
    torch.testing.assert_close(features[0, 4:], torch.tensor([-1.0, 1.0, 1.0, 1.0]), atol=1e-5, rtol=0)


def test_gaussian_fourier_b_is_seeded_saved_and_independent_of_global_rng():
    torch.manual_seed(123)
    first = GaussianFourier(2, mapping_size=16, sigma=10.0, seed=7)
    torch.manual_seed(999)
    second = GaussianFourier(2, mapping_size=16, sigma=10.0, seed=7)
    assert torch.equal(first.frequencies, second.frequencies)
    assert not torch.equal(first.frequencies, GaussianFourier(2, mapping_size=16, sigma=10.0, seed=8).frequencies)
    assert "frequencies" in first.state_dict()
    big = GaussianFourier(1, mapping_size=20000, sigma=10.0, seed=0).frequencies
    assert abs(big.std().item() - 10.0) < 0.3


def test_lowest_frequency_spans_the_range_so_interior_points_do_not_alias():
    for encoder in (BasicFourier(1, band_limit=3), PositionalEncoding(1, num_frequencies=3, sigma=8.0)):
        assert encoder.frequencies.min() == 1.0
        codes = encoder(torch.linspace(-0.999, 0.999, 1000)[:, None])
        distances = torch.cdist(codes, codes) + torch.eye(1000) * 10
        assert distances.min() > 1e-4


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: GaussianFourier(2, sigma=0.0), "GaussianFourier sigma must be > 0"),
        (lambda: GaussianFourier(2, sigma=-1.0), "GaussianFourier sigma must be > 0"),
        (lambda: PositionalEncoding(2, sigma=-2.0), "PositionalEncoding sigma must be > 0"),
        (lambda: BasicFourier(2, band_limit=0), "BasicFourier band_limit must be >= 1"),
        (lambda: BasicFourier(2, p=-1.0), "BasicFourier p must be >= 0"),
        (lambda: Identity(0), "in_dim must be >= 1"),
        (lambda: NerfPositionalEncoding(2, num_frequencies=0), "NerfPositionalEncoding num_frequencies must be >= 1"),
        (lambda: FixedFourier(2, [[1.0, 0.0, 0.0]]), r"FixedFourier frequencies must be \[F, 2\] .* got \(1, 3\)"),
        (lambda: FixedFourier(2, [1.0, 0.0]), r"FixedFourier frequencies must be \[F, 2\] .* got \(2,\)"),
        (lambda: FixedFourier(2, []), r"FixedFourier frequencies must be \[F, 2\]"),
        (lambda: FixedFourier(2, [[1.0, 0.0], [1.0]]), r"FixedFourier frequencies must be \[F, 2\] numbers"),
        (lambda: FixedFourier(2, [[1.0, 0.0]], amplitudes=[1.0, 2.0]), r"FixedFourier amplitudes must be \[1\]"),
    ],
)
def test_bad_encoder_arguments_raise_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_fixed_fourier_matches_the_formula():
    frequencies = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, -1.5]])
    amplitudes = torch.tensor([1.0, 0.5, 2.0])
    coords = torch.rand(4, 3, 2) * 2 - 1
    phases = 2 * math.pi * ((coords + 1) / 2) @ frequencies.T  # [sin 2 pi B u, cos 2 pi B u], u = (x + 1) / 2
    unit = FixedFourier(2, frequencies.tolist())(coords)
    torch.testing.assert_close(unit, torch.cat([phases.sin(), phases.cos()], dim=-1), atol=1e-5, rtol=0)
    scaled = FixedFourier(2, frequencies.tolist(), amplitudes=amplitudes.tolist())(coords)
    torch.testing.assert_close(scaled, torch.cat([amplitudes * phases.sin(), amplitudes * phases.cos()], dim=-1),
                               atol=1e-5, rtol=0)


def test_fixed_fourier_from_a_yaml_config():
    from collections.abc import Callable

    from jsonargparse import ArgumentParser

    parser = ArgumentParser()
    parser.add_argument("--encoder", type=Callable[[int], Encoder])
    config = parser.parse_string(
        "encoder:\n  class_path: inr.nn.encoders.FixedFourier\n  init_args:\n"
        "    frequencies: [[1.0, 0.0], [0.0, 4.0]]\n"
    )
    encoder = parser.instantiate_classes(config).encoder(2)
    assert isinstance(encoder, FixedFourier) and encoder.out_dim == 4
    torch.testing.assert_close(encoder.frequencies, torch.tensor([[1.0, 0.0], [0.0, 4.0]]))


def test_nerf_positional_encoding_is_nerfs_order_on_raw_coordinates():
    coords = torch.tensor([[0.25, -0.5]])
    features = NerfPositionalEncoding(2, num_frequencies=2)(coords)
    y, x = 0.25, -0.5
    expected = [y, x, math.sin(y), math.sin(x), math.cos(y), math.cos(x),
                math.sin(2 * y), math.sin(2 * x), math.cos(2 * y), math.cos(2 * x)]
    torch.testing.assert_close(features, torch.tensor([expected]))
    assert NerfPositionalEncoding(3, num_frequencies=10).out_dim == 63
