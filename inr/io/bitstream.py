"""The compressed file: everything decoding needs, in one checksummed byte string.

Layout (little endian; ``varint`` is unsigned LEB128)::

    magic  b"INRZ"   version u8   header_length varint   header (zlib-compressed JSON)
    tensor_count varint   tensor records ...   crc32 u32 (of every byte before it)

The header describes the model (the signal spec, the encoder's and the network's class and options); the records
hold the model's tensors in ``state_dict`` order. A record starts with its mode byte:

- 0, quantised: bits u8, per_channel u8, groups varint, low f32[groups], step f32[groups] (see
  :mod:`inr.core.quantise`), family u8, mean f32, scale f32, count varint, payload_length varint, payload (the range
  coder's words, :mod:`inr.io.entropy`);
- 1, float16 / 2, float32: count varint, the raw values.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

from inr.core.atomic import atomic_output
from inr.core.errors import InputError, MissingFileError
from inr.io.entropy import FAMILIES, CodedStream

MAGIC = b"INRZ"
VERSION = 1
MODES = ("quantised", "float16", "float32")


@dataclass(frozen=True)
class TensorRecord:
    """One tensor as stored: ``quantised`` (grouped low/step and a coded stream) or raw ``float16``/``float32``."""

    mode: str
    bits: int = 0
    per_channel: bool = False
    low: np.ndarray | None = None
    step: np.ndarray | None = None
    stream: CodedStream | None = None
    raw: np.ndarray | None = None


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


class _Reader:
    """Reads fields from the bytes of ``path``; running past the end is a truncated file."""

    def __init__(self, data: bytes, path: str) -> None:
        self.data, self.path, self.at = data, path, 0

    def take(self, count: int) -> bytes:
        if self.at + count > len(self.data):
            raise InputError(f"{self.path} is truncated: it ends at byte {len(self.data)} inside a record")
        piece = self.data[self.at:self.at + count]
        self.at += count
        return piece

    def varint(self) -> int:
        value = shift = 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    def floats(self, count: int, dtype: str) -> np.ndarray:
        width = np.dtype(dtype).itemsize
        return np.frombuffer(self.take(count * width), dtype=dtype).copy()


def encode_file(header: dict[str, Any], records: list[TensorRecord]) -> bytes:
    """The file's bytes for ``header`` and ``records`` (see the module docstring)."""
    body = BytesIO()
    text = zlib.compress(json.dumps(header, separators=(",", ":"), sort_keys=True).encode(), 9)
    body.write(MAGIC + bytes([VERSION]) + _varint(len(text)) + text + _varint(len(records)))
    for record in records:
        body.write(bytes([MODES.index(record.mode)]))
        if record.mode == "quantised":
            low, step, stream = record.low, record.step, record.stream
            body.write(bytes([record.bits, int(record.per_channel)]) + _varint(len(low)))
            body.write(low.astype("<f4").tobytes() + step.astype("<f4").tobytes())
            body.write(bytes([FAMILIES.index(stream.family)]) + struct.pack("<ff", stream.mean, stream.scale))
            body.write(_varint(stream.count) + _varint(len(stream.payload)) + stream.payload)
        else:
            raw = np.asarray(record.raw, dtype="<f2" if record.mode == "float16" else "<f4").reshape(-1)
            body.write(_varint(raw.size) + raw.tobytes())
    data = body.getvalue()
    return data + struct.pack("<I", zlib.crc32(data))


def write_file(path: str | Path, header: dict[str, Any], records: list[TensorRecord]) -> int:
    """Write the file atomically (never a partial file); returns its size in bytes."""
    data = encode_file(header, records)
    with atomic_output(str(path)) as temporary:
        Path(temporary).write_bytes(data)
    return len(data)


def read_file(path: str | Path) -> tuple[dict[str, Any], list[TensorRecord]]:
    """The header and tensor records of a file :func:`write_file` wrote.

    A foreign, newer, truncated or corrupted file is refused in one line naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"compressed file not found: {path}")
    data = path.read_bytes()
    if data[:4] != MAGIC:
        raise InputError(f"{path} is not an inr compressed file (it does not start with {MAGIC!r}; write one with "
                         "inr compress)")
    if len(data) < 9:
        raise InputError(f"{path} is truncated: {len(data)} bytes")
    if data[4] > VERSION:
        raise InputError(f"{path} has format version {data[4]}, newer than this inr reads ({VERSION}): update inr")
    if zlib.crc32(data[:-4]) != struct.unpack("<I", data[-4:])[0]:
        raise InputError(f"{path} is corrupted or truncated: its checksum does not match its bytes")
    reader = _Reader(data[:-4], str(path))
    reader.take(5)
    header = json.loads(zlib.decompress(reader.take(reader.varint())))
    records = []
    for _ in range(reader.varint()):
        mode = MODES[reader.take(1)[0]]
        if mode == "quantised":
            bits, per_channel = reader.take(2)
            groups = reader.varint()
            low, step = reader.floats(groups, "<f4"), reader.floats(groups, "<f4")
            family = FAMILIES[reader.take(1)[0]]
            mean, scale = struct.unpack("<ff", reader.take(8))
            count = reader.varint()
            stream = CodedStream(family, mean, scale, count, reader.take(reader.varint()))
            records.append(TensorRecord(mode, bits, bool(per_channel), low, step, stream))
        else:
            count = reader.varint()
            records.append(TensorRecord(mode, raw=reader.floats(count, "<f2" if mode == "float16" else "<f4")))
    return header, records
