"""Full float32 for the parts of a model that see coordinates and phases.

Under mixed precision (Lightning's ``bf16-mixed`` / ``16-mixed`` run the step under autocast) matmuls take half
precision inputs, and with ``model.matmul_precision high`` float32 matmuls may use TF32 (10-bit mantissa) on GPUs.
Coordinates and phases cannot afford either: bfloat16 has an 8-bit mantissa, so of a 16 kHz, 1 s clip's 16,000 time
stamps on [-1, 1] only ~1,800 stay distinct (float16: ~8,000); SIREN's first layer multiplies its pre-activation by
w0 = 3000, and a Fourier phase 2 pi b u reaches 10^5 radians for b ~ 10^4 cycles, beyond float16's range. Encoders
and the first layer of every network therefore run inside :func:`full_float32`; the later layers, whose inputs are
bounded activations, keep the speed of the mixed precision.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor, nn


@contextlib.contextmanager
def full_float32(device_type: str) -> Iterator[None]:
    """Inside the block: autocast off on ``device_type`` and IEEE float32 matmuls (no TF32, no bf16 passes).

    The process's matmul precision is restored on exit.
    """
    previous = torch.get_float32_matmul_precision()
    if previous != "highest":
        torch.set_float32_matmul_precision("highest")
    try:
        with torch.autocast(device_type, enabled=False):
            yield
    finally:
        if previous != "highest":
            torch.set_float32_matmul_precision(previous)



def at_least_float32(tensor: Tensor) -> Tensor:
    """``tensor`` in float32 if it holds half-precision values; float32 and float64 tensors as they are."""
    return tensor.float() if tensor.dtype in (torch.float16, torch.bfloat16) else tensor


def to_float64(module: nn.Module) -> nn.Module:
    """``module`` with float parameters and buffers in float64 and complex ones in complex128, in place.

    ``Module.double()`` leaves complex tensors (WIRE's hidden layers) in complex64, which float64 inputs cannot meet.
    """

    def widen(tensor: Tensor) -> Tensor:
        if tensor.is_complex():
            return tensor.to(torch.complex128)
        return tensor.double() if tensor.is_floating_point() else tensor

    return module._apply(widen)
