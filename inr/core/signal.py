"""SignalSpec: the typed description of the signal a network represents, saved with the network.

A checkpoint stores it as primitives (:meth:`SignalSpec.to_dict`), so ``inr render`` rebuilds and renders a model
without the data, and a resume on other data is refused. The DataModule that read the signal writes it; the
module, the metrics and the renderers read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from inr.core.errors import InputError

#: keys of checkpoints written before the spec had ``shape``: the natural shape was stored per modality.
_LEGACY_SHAPE_KEYS = {"image": ("height", "width"), "audio": ("num_samples",)}
_CORE_KEYS = ("kind", "datamodule", "in_dim", "out_dim", "value_range", "shape", "source", "members",
              "member_sources", "member_meta")


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
        members: None for a single signal; else the K signals of this description fitted at once (K independent
            networks, one per signal), whose tensors carry a leading member axis [K, ...] (K may be 1).
        member_sources: the file of each member, when ``members`` is set.
        member_meta: what differs between members' descriptions (e.g. each shape's normalising transform), one
            dict per member, merged over ``meta`` by :meth:`member`.
    """

    in_dim: int
    out_dim: int
    value_range: tuple[float, float] = (-1.0, 1.0)
    kind: str = "signal"
    datamodule: str = ""
    shape: tuple[int, ...] = ()
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    members: int | None = None
    member_sources: tuple[str, ...] = ()
    member_meta: tuple[dict[str, Any], ...] = ()

    def __post_init__(self) -> None:
        for name in ("in_dim", "out_dim"):
            if getattr(self, name) < 1:
                raise InputError(f"signal {name} must be >= 1, got {getattr(self, name)}")
        low, high = (float(value) for value in self.value_range)
        if not low < high:
            raise InputError(f"signal value_range must be (low, high) with low < high, got {self.value_range}")
        object.__setattr__(self, "value_range", (low, high))
        object.__setattr__(self, "shape", tuple(int(size) for size in self.shape))
        if self.members is not None and self.members < 1:
            raise InputError(f"signal members must be >= 1, got {self.members}")
        object.__setattr__(self, "member_sources", tuple(str(source) for source in self.member_sources))
        if self.member_sources and len(self.member_sources) != (self.members or 1):
            raise InputError(f"signal member_sources names {len(self.member_sources)} files for {self.members} "
                             "members")
        object.__setattr__(self, "member_meta", tuple(dict(meta) for meta in self.member_meta))
        if self.member_meta and len(self.member_meta) != (self.members or 1):
            raise InputError(f"signal member_meta has {len(self.member_meta)} entries for {self.members} members")

    @property
    def batched(self) -> bool:
        """Whether signals are fitted as members (tensors carry a leading member axis)."""
        return self.members is not None

    def member(self, index: int) -> SignalSpec:
        """The description of member ``index`` alone: a single signal, its own source."""
        count = self.members or 1
        if not 0 <= index < count:
            raise InputError(f"member {index} does not exist: the signal has {count} member(s) (0..{count - 1})")
        if not self.batched:
            return self
        source = self.member_sources[index] if self.member_sources else self.source
        meta = {**self.meta, **(self.member_meta[index] if self.member_meta else {})}
        return replace(self, members=None, member_sources=(), member_meta=(), source=source, meta=meta)

    def shard(self, members: slice) -> SignalSpec:
        """The description of the members in ``members`` (a process's shard), still batched."""
        indices = range(self.members or 1)[members]
        sources = self.member_sources[members] if self.member_sources else ()
        metas = self.member_meta[members] if self.member_meta else ()
        return replace(self, members=len(indices), member_sources=sources, member_meta=metas)

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
            **({"members": self.members, "member_sources": list(self.member_sources),
                "member_meta": [dict(meta) for meta in self.member_meta]} if self.batched else {}),
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
            members=None if data.get("members") is None else int(data["members"]),
            member_sources=tuple(data.get("member_sources", ())), member_meta=tuple(data.get("member_meta", ())),
        )

    def differences(self, other: SignalSpec) -> list[tuple[str, Any, Any]]:
        """``(name, this value, other value)`` for every field or meta key that differs, as stored."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [(key, mine.get(key), theirs.get(key)) for key in sorted(mine.keys() | theirs.keys())
                if mine.get(key) != theirs.get(key)]


def given_signal(signal: dict[str, Any] | SignalSpec | None, owner: str, command: str) -> SignalSpec:
    """The ``signal`` argument of a model (a spec, or its ``to_dict()`` as checkpoints store it) as a SignalSpec.

    ``owner`` and ``command`` name the model and the command that links it, for the error when it is missing.
    """
    if signal is None:
        raise InputError(f"{owner} needs `signal` (the DataModule's signal_spec); `{command}` links it from --data")
    return signal if isinstance(signal, SignalSpec) else SignalSpec.from_dict(signal)


def check_resumed_signal(checkpoint: dict[str, Any], signal: SignalSpec) -> None:
    """Refuse to resume ``checkpoint`` on another signal than the one it was fitted to, naming what differs."""
    saved = checkpoint.get("hyper_parameters", {}).get("signal")
    if saved is None:
        return
    differing = SignalSpec.from_dict(saved).differences(signal)
    if differing:
        details = "; ".join(f"{key}: checkpoint {then!r}, now {now!r}" for key, then, now in differing)
        raise InputError(f"cannot resume on different data ({details}); use the run's own --data options")


#: what a model trained on crops needs of other crops it is evaluated on (held-out folders, other recordings).
EVALUATED_FIELDS = ("kind", "in_dim", "out_dim", "shape", "value_range")
_FIELD_NAMES = {"shape": "crop shape", "out_dim": "channels", "in_dim": "coordinate dims"}


def check_evaluated_signal(checkpoint: dict[str, Any], signal: SignalSpec) -> None:
    """Refuse to evaluate ``checkpoint``'s model on signals of another shape, channel count or value range.

    The files, sample rate and other details may differ: a meta-learned model is evaluated on signals it never saw.
    """
    saved = checkpoint.get("hyper_parameters", {}).get("signal")
    if saved is None:
        return
    trained = SignalSpec.from_dict(saved).to_dict()
    given = signal.to_dict()
    differing = [key for key in EVALUATED_FIELDS if trained.get(key) != given.get(key)]
    if differing:
        details = "; ".join(f"{_FIELD_NAMES.get(key, key)}: trained on {trained.get(key)!r}, --data gives "
                            f"{given.get(key)!r}" for key in differing)
        raise InputError(f"cannot evaluate the checkpoint on these signals ({details}); use --data options that "
                         "cut crops of the trained shape and channels")

