"""bench/axis_spectra: the mean frequency along each axis of a volume."""

import numpy as np
import pytest

from bench.axis_spectra import axis_mean_frequencies


def test_a_volume_varying_along_one_axis_has_its_frequency_there_and_none_elsewhere():
    x = np.arange(16) / 16
    volume = np.broadcast_to(np.cos(2 * np.pi * 3 * x)[:, None, None], (16, 16, 16)) + 5.0
    assert axis_mean_frequencies(volume) == pytest.approx([3.0, 0.0, 0.0], abs=1e-9)


def test_the_frequency_along_an_axis_is_the_energy_weighted_mean_of_its_components():
    z = np.arange(16) / 16
    # amplitudes 1 and 2 at 2 and 5 cycles: energies 1 : 4, mean (2 + 4 * 5) / 5 = 4.4
    line = np.cos(2 * np.pi * 2 * z) + 2 * np.cos(2 * np.pi * 5 * z)
    volume = np.broadcast_to(line[None, None, :], (16, 16, 16))
    assert axis_mean_frequencies(volume) == pytest.approx([0.0, 0.0, 4.4], abs=1e-9)
