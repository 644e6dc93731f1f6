"""inr.core.devices: the --device of inr ntk / experiment, and seeded model building that leaves the caller's RNGs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from inr.cli import main
from inr.core.devices import resolve_device, seeded


def test_default_device_is_the_gpu_when_one_is_visible():
    assert resolve_device(None) == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("name, message", [
    ("banana", "--device 'banana' is not a device name"),
    ("meta", "--device meta: only cpu and cuda devices are supported"),
    ("cuda:99", "--device cuda:99: "),
])
def test_unknown_or_missing_devices_are_refused_naming_the_option(name, message):
    with pytest.raises(ValueError, match=message):
        resolve_device(name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_ntk_command_on_a_gpu_this_machine_lacks_says_so_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["ntk", "--device", "cuda", "--points", "8", "--seeds", "1", "--out", str(tmp_path), "--wandb", "false"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "inr ntk: error: --device cuda: torch sees no CUDA GPU on this machine (use --device cpu)")


def test_seeded_builds_the_same_weights_and_leaves_the_callers_rng_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    with seeded(7):
        first = nn.Linear(3, 4).weight.detach().clone()
    assert torch.equal(torch.random.get_rng_state(), before)
    with seeded(7):
        assert torch.equal(nn.Linear(3, 4).weight, first)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_seeded_leaves_the_cuda_rng_alone():
    torch.cuda.manual_seed_all(123)
    before = torch.cuda.get_rng_state_all()
    with seeded(7):
        torch.rand(4, device="cuda")
    assert all(torch.equal(a, b) for a, b in zip(torch.cuda.get_rng_state_all(), before))


def test_ntk_on_an_explicit_device_matches_the_default(tmp_path):
    args = ["ntk", "--network.hidden", "8", "--network.layers", "1", "--points", "8", "--seeds", "2", "--wandb",
            "false"]
    main([*args, "--out", str(tmp_path / "a"), "--device", "cpu"])
    main([*args, "--out", str(tmp_path / "b")])
    import csv

    def kernel(folder):
        with open(tmp_path / folder / "ntk.csv") as handle:
            return torch.tensor([float(row["cross_section"]) for row in csv.DictReader(handle)])

    # same weights on every device (drawn on the CPU); on a GPU host the default runs there
    assert torch.allclose(kernel("a"), kernel("b"), rtol=1e-4, atol=1e-6)
