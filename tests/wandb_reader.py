"""Minimal reader for W&B offline run files (``<dir>/wandb/offline-run-*/run-<id>.wandb``).

wandb ships no public reader for these files. They use LevelDB-log framing: a 7-byte file header
(``":W&B"``, magic ``0xBEE1``, version byte), then 32 KiB blocks of chunks, each with a 7-byte header
``crc32(4, little endian, zlib crc32 over type byte + data) | length(2) | type(1)``, type FULL=1, FIRST=2,
MIDDLE=3, LAST=4. When fewer than 7 bytes are left in a block, they are zero padding. Reassembled payloads are
serialized ``wandb.proto.wandb_internal_pb2.Record`` messages. Reading stops quietly at a truncated or corrupt
chunk, so files of still-running or killed processes can be read.

Usage: ``python tests/wandb_reader.py PATH`` prints the history of every offline run under PATH.
"""

from __future__ import annotations

import json
import struct
import sys
import zlib
from pathlib import Path
from typing import Any

from wandb.proto.wandb_internal_pb2 import Record

_FILE_HEADER = struct.Struct("<4sHB")
_IDENT, _MAGIC = b":W&B", 0xBEE1
_CHUNK_HEADER = struct.Struct("<IHB")
_BLOCK_SIZE = 32 * 1024
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def find_offline_runs(root: str | Path) -> list[Path]:
    """Returns every ``offline-run-*`` folder under ``root`` (recursively), sorted by name."""
    return sorted((p for p in Path(root).rglob("offline-run-*") if p.is_dir()), key=lambda p: p.name)


def _wandb_file(path: str | Path) -> Path:
    """Resolves a ``.wandb`` file, an ``offline-run-*`` folder, or a folder holding exactly one offline run."""
    path = Path(path)
    if path.is_file():
        return path
    files = sorted(path.glob("run-*.wandb"))
    if not files:
        runs = find_offline_runs(path)
        if len(runs) != 1:
            raise FileNotFoundError(f"expected exactly one offline run under {path}, found {len(runs)}")
        files = sorted(runs[0].glob("run-*.wandb"))
    if len(files) != 1:
        raise FileNotFoundError(f"expected exactly one run-*.wandb file in {path}, found {len(files)}")
    return files[0]


def read_records(wandb_file: str | Path) -> list[Record]:
    """Reads all protobuf records of a ``.wandb`` file (or run folder), stopping at a truncated tail."""
    data = _wandb_file(wandb_file).read_bytes()
    if len(data) < _FILE_HEADER.size:
        return []
    ident, magic, _version = _FILE_HEADER.unpack_from(data)
    if ident != _IDENT or magic != _MAGIC:
        raise ValueError(f"not a W&B run file: {wandb_file}")
    records: list[Record] = []
    pending: bytearray | None = None
    pos = _FILE_HEADER.size
    while True:
        left_in_block = _BLOCK_SIZE - pos % _BLOCK_SIZE
        if left_in_block < _CHUNK_HEADER.size:
            pos += left_in_block  # zero padding at the end of a block
        if pos + _CHUNK_HEADER.size > len(data):
            break
        crc, length, kind = _CHUNK_HEADER.unpack_from(data, pos)
        start = pos + _CHUNK_HEADER.size
        chunk = data[start : start + length]
        if kind not in (_FULL, _FIRST, _MIDDLE, _LAST) or len(chunk) < length:
            break
        if zlib.crc32(chunk, zlib.crc32(bytes([kind]))) != crc:
            break
        pos = start + length
        if kind in (_FULL, _FIRST):
            pending = bytearray(chunk)
        elif pending is None:
            break  # MIDDLE/LAST without a FIRST: corrupt
        else:
            pending += chunk
        if kind in (_FULL, _LAST):
            record = Record()
            record.ParseFromString(bytes(pending))
            records.append(record)
            pending = None
    return records


def read_history(run_dir_or_wandb_file: str | Path) -> list[dict[str, Any]]:
    """Returns one dict per history record: key (or "/"-joined nested key) to json-decoded value."""
    history = []
    for record in read_records(run_dir_or_wandb_file):
        if record.WhichOneof("record_type") == "history":
            history.append(
                {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
            )
    return history


def metric_values(run_dir: str | Path, key: str) -> list[tuple[int, float]]:
    """Returns ``(trainer/global_step or _step, value)`` pairs for a scalar ``key``, in file order."""
    pairs = []
    for row in read_history(run_dir):
        if key in row and isinstance(row[key], (int, float)):
            step = row.get("trainer/global_step", row.get("_step"))
            pairs.append((int(step), float(row[key])))
    return pairs


def read_config(run_dir: str | Path) -> dict[str, Any]:
    """Returns the merged run config (from config records and the run record), with ``{"value": ...}`` unwrapped."""
    config: dict[str, Any] = {}
    for record in read_records(run_dir):
        kind = record.WhichOneof("record_type")
        if kind not in ("config", "run"):
            continue
        cfg = record.config if kind == "config" else record.run.config
        for item in cfg.update:
            value = json.loads(item.value_json)
            if isinstance(value, dict) and set(value) == {"value"}:
                value = value["value"]
            config[item.key or "/".join(item.nested_key)] = value
        for item in cfg.remove:
            config.pop(item.key or "/".join(item.nested_key), None)
    return config


def read_summary(run_dir: str | Path) -> dict[str, Any]:
    """Returns the run summary as written by explicit summary updates (``summary`` records), merged in order."""
    summary: dict[str, Any] = {}
    for record in read_records(run_dir):
        if record.WhichOneof("record_type") == "summary":
            for item in record.summary.update:
                summary[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return summary


def run_id(run_dir: str | Path) -> str:
    """Returns the run id from the run record."""
    for record in read_records(run_dir):
        if record.WhichOneof("record_type") == "run":
            return record.run.run_id
    raise ValueError(f"no run record in {run_dir}")


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    for run in [target] if target.is_file() or target.name.startswith("offline-run-") else find_offline_runs(target):
        print(f"== {run} (id {run_id(run)})")
        for row in read_history(run):
            print(json.dumps(row, default=str))


def wait_until_finished(root: str | Path, timeout: float = 60.0) -> None:
    """Wait until every offline run under ``root`` holds its exit record (wandb-core writes asynchronously)."""
    import time

    deadline = time.monotonic() + timeout
    for run in find_offline_runs(root):
        while not any(record.WhichOneof("record_type") == "exit" for record in read_records(run)):
            if time.monotonic() > deadline:
                raise TimeoutError(f"W&B run {run} has no exit record after {timeout} s")
            time.sleep(0.2)
