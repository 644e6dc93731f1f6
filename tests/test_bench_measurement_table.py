"""bench/measurement_table's plain CT loop draws the shipped Gaussian config's Fourier features, by its own code."""

import torch
import yaml

from bench.measurement_table import PlainGaussianMLP, config_sigma
from inr.commands.measurements import config_file
from inr.nn.encoders import GaussianFourier


def test_the_plain_loop_draws_the_configs_fourier_features():
    encoder = GaussianFourier(2, **yaml.safe_load(config_file("ct", "gaussian").read_text())["model"]["encoder"]
                              ["init_args"])
    assert config_sigma() == encoder.sigma
    plain = PlainGaussianMLP(config_sigma())
    torch.testing.assert_close(plain.B, encoder.frequencies)
    coords = torch.rand(5, 2) * 2 - 1
    phases = 2 * torch.pi * ((coords + 1) / 2) @ plain.B.T
    torch.testing.assert_close(encoder(coords), torch.cat([torch.sin(phases), torch.cos(phases)], -1),
                               atol=1e-4, rtol=1e-4)
