"""Networks for a target rate: SIREN architectures (COIN's and a finer ladder), sized by the file they would make.

COIN (Dupont et al. 2021) fits Kodak at 0.07-1.2 bpp with SIRENs of 5 x 20 ... 13 x 49 (sine layers x width) in
float16; smaller images need smaller networks for the same bpp, so the ladder adds narrower and shallower ones.
A network's size is measured, not estimated: its freshly initialised weights are encoded exactly as
:func:`inr.training.compression.encode_tensor` will encode the fitted ones, with the file's header (a quantised
fit codes slightly shorter than its uniform initialisation, so the choice errs small).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from inr.core.errors import InputError
from inr.io.bitstream import encode_file
from inr.nn.networks import Siren
from inr.training.compression import Compression, encode_tensor, tensor_compression

#: COIN's architectures, (sine layers, width), smallest first.
COIN = ((5, 20), (5, 30), (10, 28), (10, 40), (13, 49))
#: every architecture a rate may pick: COIN's and a ladder of 2-10 sine layers, 8-64 wide.
LADDER = tuple(sorted({*COIN, *((depth, width) for depth in (2, 3, 4, 5, 6, 8, 10)
                                for width in (8, 12, 16, 20, 24, 28, 32, 40, 48, 64))},
                      key=lambda shape: shape[0] * shape[1] ** 2))


def sized_network(base: dict[str, Any], sine_layers: int, width: int) -> dict[str, Any]:
    """``base`` (a SIREN's network config) at ``sine_layers`` sine layers of ``width``, its other options kept.

    inr's ``layers`` counts the hidden-to-hidden layers: one fewer than the sine layers.
    """
    if not str(base.get("class_path", "")).endswith("Siren"):
        raise InputError(f"--bpp sizes a SIREN, but the config's network is {base.get('class_path')}: give a SIREN "
                         "config (configs/image_siren.yaml) or compress a fitted checkpoint with --bits")
    return {"class_path": base["class_path"],
            "init_args": {**base.get("init_args", {}), "hidden": width, "layers": sine_layers - 1}}


def file_bytes(header: dict[str, Any], sine_layers: int, width: int, how: Compression) -> int:
    """The size of the file of ``header``'s SIREN at ``sine_layers`` x ``width`` for the signal it describes."""
    signal = header["signal"]
    network_config = sized_network(header["network"], sine_layers, width)
    torch.manual_seed(0)
    network = Siren(signal["in_dim"], signal["out_dim"], **network_config["init_args"])
    state = {f"network.{name}": value for name, value in network.state_dict().items()}
    records = [encode_tensor(value, tensor_compression(how, name, network_config))[0] for name, value in state.items()]
    return len(encode_file({**header, "network": network_config, "tensors": list(state)}, records))


def siren_weights(header: dict[str, Any], sine_layers: int, width: int) -> int:
    """The number of weights of ``header``'s SIREN at ``sine_layers`` x ``width``."""
    signal = header["signal"]
    return (signal["in_dim"] + 1) * width + (sine_layers - 1) * (width + 1) * width + (width + 1) * signal["out_dim"]


def network_for_rate(bpp: float, header: dict[str, Any], how: Compression) -> tuple[tuple[int, int], int]:
    """The SIREN of :data:`LADDER` with the most weights whose file stays within ``bpp`` bits per point.

    Returns ((layers, width), bytes). The most weights, not the largest file: that would favour deep, narrow
    networks whose many small tensors each carry their own coding parameters (10 x 12, 1479 weights, over 2 x 40,
    1883 weights, at 0.3 bpp on a 256 x 256 RGB image).
    """
    if not bpp > 0:
        raise InputError(f"--bpp must be > 0 bits per point, got {bpp}")
    budget = bpp * math.prod(header["signal"]["shape"]) / 8
    for shape in sorted(LADDER, key=lambda shape: siren_weights(header, *shape), reverse=True):
        size = file_bytes(header, *shape, how)  # encoded only until the first that fits
        if size <= budget:
            return shape, size
    smallest = file_bytes(header, *LADDER[0], how)
    raise InputError(f"--bpp {bpp}: even the smallest network ({LADDER[0][0]} x {LADDER[0][1]}) takes "
                     f"{smallest} bytes, {smallest * 8 / math.prod(header['signal']['shape']):.3f} bits per "
                     "point, for this signal; ask for more, or fewer --bits")
