"""A fitted representation as a compressed file, and back (``inr compress`` / ``inr decompress``).

The file (:mod:`inr.io.bitstream`) holds what an ``inr fit`` checkpoint needs to rebuild the model (the signal spec,
the encoder's and the network's configs) and the model's tensors in ``state_dict`` order, each quantised
(:mod:`inr.core.quantise`) and range-coded (:mod:`inr.io.entropy`), or stored as float16 (COIN's mode) or float32.
Decoding rebuilds the module as a checkpoint would be loaded, so old class paths keep working.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import lightning
import numpy as np
import torch
from torch import Tensor

from inr.core.errors import InputError
from inr.core.quantise import Quantised, quantise
from inr.io.bitstream import TensorRecord, read_file, write_file
from inr.io.entropy import decode_symbols, encode_symbols
from inr.training.checkpoints import read_checkpoint

#: what the header keeps of a checkpoint's hyper-parameters: enough to rebuild the representation.
MODEL_KEYS = ("encoder", "network", "signal")


@dataclass(frozen=True)
class Compression:
    """How tensors are stored: quantised (``bits``, ``per_channel``, ``range`` or ``mse`` step), float16, float32."""

    mode: str = "quantised"
    bits: int = 8
    per_channel: bool = False
    step: str = "range"

    def __post_init__(self) -> None:
        if self.mode not in ("quantised", "float16", "float32"):
            raise InputError(f"compression mode must be quantised, float16 or float32, got {self.mode!r}")
        if self.mode == "quantised":
            quantise(torch.zeros(1), self.bits, step=self.step)  # refuses bits or a step it does not know

    def round_trip(self, tensor: Tensor) -> Tensor:
        """What storing ``tensor`` gives back (float32 on its device; complex stays complex)."""
        if tensor.is_complex():
            return torch.view_as_complex(self.round_trip(torch.view_as_real(tensor)).contiguous())
        if self.mode == "float32":
            return tensor.detach().float()
        if self.mode == "float16":
            return tensor.detach().half().float()
        return quantise(tensor, self.bits, self.per_channel, self.step).dequantise().to(tensor.device)


#: the w0 a sine layer's weights are quantised for at the chosen bits: a layer of w0 multiplies a weight's error by
#: w0, so every doubling of the first layer's w0 above this costs one more bit for the same phase error.
REFERENCE_OMEGA_0 = 30.0
MAX_BITS = 16


def tensor_compression(how: Compression, name: str, network: dict[str, Any]) -> Compression:
    """How tensor ``name`` of the network configured by ``network`` is stored.

    ``how``, with more bits in a first sine layer of w0 above 30 (SIREN's audio w0 3000: 7 more, up to 16), whose
    rounding at ``how.bits`` would scramble its phases.
    """
    if how.mode != "quantised" or not name.startswith("network.net.0."):
        return how
    omega = float(network.get("init_args", {}).get("first_omega_0", REFERENCE_OMEGA_0))
    extra = max(0, math.ceil(math.log2(omega / REFERENCE_OMEGA_0)))
    return replace(how, bits=min(MAX_BITS, how.bits + extra)) if extra else how


def encode_tensor(tensor: Tensor, how: Compression) -> tuple[TensorRecord, Tensor]:
    """The record of ``tensor`` and what decoding it gives (float32, or complex64 for a complex tensor; its shape).

    A complex tensor is stored as its real view, ``[..., 2]`` (real, imaginary).
    """
    if tensor.is_complex():
        record, decoded = encode_tensor(torch.view_as_real(tensor.detach().cpu().to(torch.complex64)), how)
        return record, torch.view_as_complex(decoded.contiguous())
    if how.mode != "quantised":
        dtype = np.float16 if how.mode == "float16" else np.float32
        raw = tensor.detach().float().cpu().numpy().astype(dtype)
        return TensorRecord(how.mode, raw=raw.reshape(-1)), torch.from_numpy(raw.astype(np.float32))
    quantised = quantise(tensor, how.bits, how.per_channel, how.step)
    stream = encode_symbols(quantised.symbols.numpy(), 2**how.bits)
    record = TensorRecord("quantised", how.bits, quantised.per_channel, quantised.low.numpy(),
                          quantised.step.numpy(), stream)
    return record, quantised.dequantise()


def decode_tensor(record: TensorRecord, shape: tuple[int, ...], name: str) -> Tensor:
    """The float32 tensor of ``shape`` a record holds; a record of another size is refused, naming the tensor."""
    numel = int(np.prod(shape)) if shape else 1
    count = record.stream.count if record.mode == "quantised" else record.raw.size
    if count != numel:
        raise InputError(f"the file's tensor {name} holds {count} values, but the model's has shape {list(shape)}")
    if record.mode != "quantised":
        return torch.from_numpy(record.raw.astype(np.float32)).reshape(shape)
    symbols = torch.from_numpy(decode_symbols(record.stream, 2**record.bits))
    low, step = torch.from_numpy(record.low), torch.from_numpy(record.step)
    return Quantised(shape, record.bits, record.per_channel, low, step, symbols).dequantise()


def checkpoint_model(path: str | Path) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """The model description and the representation's tensors of an ``inr fit`` checkpoint of one signal."""
    checkpoint = read_checkpoint(path)
    hyper = checkpoint.get("hyper_parameters", {})
    if "signal" not in hyper:
        raise InputError(f"{path} was not written by inr fit: its hyper_parameters hold no 'signal' description")
    if hyper["signal"].get("members", 1) > 1:
        raise InputError(f"{path} holds {hyper['signal']['members']} members: compress one at a time (inr export "
                         "CKPT --checkpoints DIR writes one checkpoint per member)")
    state = {key: value for key, value in checkpoint["state_dict"].items() if key.startswith(("encoder.", "network."))}
    return {key: hyper[key] for key in MODEL_KEYS if key in hyper}, state


def compress_checkpoint(path: str | Path, out: str | Path, how: Compression) -> tuple[int, dict[str, Tensor]]:
    """Write checkpoint ``path``'s representation to ``out``; (the file's bytes, the decoded tensors by name)."""
    return compress_state(*checkpoint_model(path), out, how)


def compress_state(header: dict[str, Any], state: dict[str, Tensor], out: str | Path, how: Compression,
                   init: str | Path | None = None) -> tuple[int, dict[str, Tensor]]:
    """Write the model ``header`` describes with tensors ``state`` to ``out``; (bytes, the decoded tensors).

    With ``init`` (a checkpoint the fit started from: a learned initialisation), each tensor is coded as its
    difference from the init's, and the header names the init by file name and SHA-256; decoding needs that file.
    """
    header = dict(header)
    base = _init_state(init, state) if init is not None else {}
    if init is not None:
        header["init"] = {"file": Path(init).name, "sha256": _digest(init)}
    records, decoded = [], {}
    for name, tensor in state.items():
        offset = base.get(name)
        stored = tensor_compression(how, name, header.get("network", {}))
        record, decoded[name] = encode_tensor(tensor if offset is None else tensor - offset, stored)
        decoded[name] = decoded[name] if offset is None else decoded[name] + offset.to(decoded[name].dtype)
        records.append(record)
    header["tensors"] = list(state)
    return write_file(out, header, records), decoded


def finetune_quantised(model, batch: dict[str, Tensor], how: Compression, steps: int, lr: float = 1e-4) -> list[float]:
    """Quantisation-aware fine-tuning; the stored weights' loss before every step and after the last.

    ``steps`` Adam steps on the representation's MSE to ``batch['values']`` at ``batch['coords']``: the forward pass
    sees the stored (quantised) weights, the gradient passes straight through the rounding (straight-through
    estimator) to the float weights. The model keeps the weights whose stored form had the lowest loss, so it never
    ends worse than it started: at fine steps (8 bits) rounding costs little, and a fresh Adam's first steps
    (about ``lr`` per weight) can cost more than they win back.
    """
    names = [name for name, _ in model.named_parameters() if name.startswith(("encoder.", "network."))]
    parameters = dict(model.named_parameters())
    network = model.hparams.get("network", {})
    stores = {name: tensor_compression(how, name, network) for name in names}
    optimizer = torch.optim.Adam([parameters[name] for name in names], lr=lr)
    coords, values = batch["coords"], batch["values"]

    def stored_loss() -> Tensor:
        stored = {name: parameters[name] + (stores[name].round_trip(parameters[name]) - parameters[name]).detach()
                  for name in names}
        return (torch.func.functional_call(model, stored, (coords,)) - values).square().mean()

    losses, best = [], (math.inf, {})
    model.train()
    for step in range(steps + 1):
        with torch.set_grad_enabled(step < steps):  # the last pass only scores the last update
            loss = stored_loss()
        losses.append(float(loss.detach()))
        if losses[-1] < best[0]:
            best = (losses[-1], {name: parameters[name].detach().clone() for name in names})
        if step < steps:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        for name, value in best[1].items():
            parameters[name].copy_(value)
    model.eval()
    return losses


def _digest(path: str | Path) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _init_state(init: str | Path, state: dict[str, Tensor]) -> dict[str, Tensor]:
    """The init checkpoint's tensors, which must have the shapes of ``state``'s (the same network)."""
    _, base = checkpoint_model(init)
    for name, value in state.items():
        if name not in base or base[name].shape != value.shape:
            raise InputError(f"init {init} does not hold this model's {name} {list(value.shape)}: give the init "
                             "the fit started from")
    return base


def resolve_init(header: dict[str, Any], path: str | Path, init: str | Path | None) -> Path | None:
    """The init file a compressed file was coded against (``init``, or its named file beside ``path``), checked."""
    named = header.get("init")
    if named is None:
        return None
    candidate = Path(init) if init is not None else Path(path).parent / named["file"]
    if not candidate.is_file():
        raise InputError(f"{path} was coded against the init {named['file']}: give it with --init FILE (not found "
                         f"at {candidate})")
    if _digest(candidate) != named["sha256"]:
        raise InputError(f"{path} was coded against another {named['file']} (SHA-256 {named['sha256'][:12]}...): "
                         f"{candidate} differs")
    return candidate


def load_compressed(path: str | Path, device: str = "cpu", init: str | Path | None = None):
    """The :class:`~inr.training.module.INRModule` a compressed file holds, in eval mode on ``device``.

    A file coded against an init needs that init: ``init``, or the file its header names in ``path``'s folder.
    """
    from inr.training.module import INRModule

    header, records = read_file(path)
    init_path = resolve_init(header, path, init)
    names = header.get("tensors", [])
    if len(names) != len(records):
        raise InputError(f"{path} names {len(names)} tensors but holds {len(records)}")
    hyper = {key: header[key] for key in MODEL_KEYS if key in header}
    with warnings.catch_warnings():  # the skeleton holds no tensors on purpose: they are decoded next
        warnings.filterwarnings("ignore", message="Found keys that are in the model state dict but not in the")
        warnings.filterwarnings("ignore", message="The state dict in .* contains no parameters")
        model = INRModule.load_from_checkpoint(_checkpoint_bytes(hyper, {}), map_location="cpu", weights_only=True,
                                               strict=False)
    targets = model.state_dict()
    shapes = {name: tuple(value.shape) for name, value in targets.items()}
    missing = [name for name in shapes if name.startswith(("encoder.", "network.")) and name not in names]
    if missing:
        raise InputError(f"{path} lacks the model's tensor(s) {', '.join(missing)}")
    state = {}
    for name, record in zip(names, records):
        if name not in shapes:
            raise InputError(f"{path} holds tensor {name}, which the model it describes does not have")
        if targets[name].is_complex():
            state[name] = torch.view_as_complex(decode_tensor(record, (*shapes[name], 2), name))
        else:
            state[name] = decode_tensor(record, shapes[name], name)
    if init_path is not None:
        base = _init_state(init_path, state)
        state = {name: value + base[name].to(value.dtype) for name, value in state.items()}
    model.load_state_dict(state, strict=False)
    return model.to(device).eval()


def _checkpoint_bytes(hyper: dict[str, Any], state: dict[str, Tensor]) -> io.BytesIO:
    """An in-memory ``inr fit`` checkpoint of ``hyper`` and ``state`` (what ``load_from_checkpoint`` reads)."""
    buffer = io.BytesIO()
    torch.save({"state_dict": state, "global_step": 0, "epoch": 0,
                "hyper_parameters": {**hyper, "_instantiator": "lightning.pytorch.cli.instantiate_module"},
                "pytorch-lightning_version": lightning.__version__}, buffer)
    buffer.seek(0)
    return buffer
