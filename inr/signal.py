"""SignalSpec: the typed description of the signal a network represents, saved with the network.

A checkpoint stores it as primitives (:meth:`SignalSpec.to_dict`), so ``inr render`` rebuilds and renders a model
without the data, and a resume on other data is refused. The DataModule that read the signal writes it; the
module, the metrics and the renderers read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inr.errors import InputError

#: keys of checkpoints written before the spec had ``shape``: the natural shape was stored per modality.
_LEGACY_SHAPE_KEYS = {"image": ("height", "width"), "audio": ("num_samples",)}
_CORE_KEYS = ("kind", "datamodule", "in_dim", "out_dim", "value_range", "shape", "source")


@dataclass(frozen=True)
class SignalSpec:
    """What a signal is: its coordinates, its values, its natural shape and where it came from.

    Args:
        in_dim: coordinate dimension (2 for images, 1 for audio, 3 for shapes).
        out_dim: value channels.
        value_range: (low, high) of the values: the metrics' data range and the renders' clipping.
        kind: the modality, ``image``, ``audio`` or ``sdf``.
        datamodule: class path of the DataModule that reads such signals and writes their renders.
        shape: the natural grid the points lie on, ``(height, width)`` for an image, ``(samples,)`` for a clip;
            ``()`` for a set of points.
        source: the file the signal was read from, or the name of the built-in sample.
        meta: the rest of the modality's description, primitives only (bit depth, sample rate, the transform
            that normalised a shape, ...).
    """

    in_dim: int
    out_dim: int
    value_range: tuple[float, float] = (-1.0, 1.0)
    kind: str = "signal"
    datamodule: str = ""
    shape: tuple[int, ...] = ()
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("in_dim", "out_dim"):
            if getattr(self, name) < 1:
                raise InputError(f"signal {name} must be >= 1, got {getattr(self, name)}")
        low, high = (float(value) for value in self.value_range)
        if not low < high:
            raise InputError(f"signal value_range must be (low, high) with low < high, got {self.value_range}")
        object.__setattr__(self, "value_range", (low, high))
        object.__setattr__(self, "shape", tuple(int(size) for size in self.shape))

    @property
    def points(self) -> int | None:
        """Number of points of the natural grid (its product), or None for a set of points."""
        if not self.shape:
            return None
        count = 1
        for size in self.shape:
            count *= size
        return count

    def to_dict(self) -> dict[str, Any]:
        """Primitives for a checkpoint: the fields, with ``meta`` flattened beside them."""
        return {
            "kind": self.kind, "datamodule": self.datamodule, "in_dim": self.in_dim, "out_dim": self.out_dim,
            "value_range": list(self.value_range), "shape": list(self.shape), "source": self.source, **self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignalSpec:
        """The spec a checkpoint or a config stored (:meth:`to_dict`); checkpoints without ``shape`` included."""
        missing = [key for key in ("in_dim", "out_dim") if key not in data]
        if missing:
            raise InputError(f"signal description lacks {missing}: it needs at least in_dim and out_dim")
        meta = {key: value for key, value in data.items() if key not in _CORE_KEYS}
        shape = data.get("shape")
        if shape is None:
            legacy = _LEGACY_SHAPE_KEYS.get(data.get("kind", ""), ())
            shape = [meta.pop(key) for key in legacy if key in meta]
            if data.get("kind") == "audio":
                meta.pop("channels", None)  # the same as out_dim
        return cls(
            in_dim=int(data["in_dim"]), out_dim=int(data["out_dim"]),
            value_range=tuple(data.get("value_range", (-1.0, 1.0))), kind=data.get("kind", "signal"),
            datamodule=data.get("datamodule", ""), shape=tuple(shape), source=data.get("source", ""), meta=meta,
        )

    def differences(self, other: SignalSpec) -> list[tuple[str, Any, Any]]:
        """``(name, this value, other value)`` for every field or meta key that differs, as stored."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [(key, mine.get(key), theirs.get(key)) for key in sorted(mine.keys() | theirs.keys())
                if mine.get(key) != theirs.get(key)]
