"""Shapes as signed distance functions: f(x, y, z) -> signed distance, fitted from oriented surface points.

Follows SIREN's SDF experiment (Sitzmann et al. 2020, Sec. 4.2): every step draws N points on the surface with
their normals and N points uniform in the cube. The input is read through trimesh:

- meshes (PLY, OBJ, OFF, STL, GLB/GLTF): ``surface_points`` area-uniform points are sampled once, with the
  normals of their faces (the mesh must have faces);
- oriented point clouds: XYZ/PTS/TXT text with six columns ``x y z nx ny nz``, or a PLY without faces whose
  vertices carry ``nx ny nz``. Clouds without normals are refused: normals estimated from neighbours (PCA) have
  no consistent sign, and a wrong sign turns inside out the normal term of the loss.

The shape is centred (bounding-box centre) and scaled uniformly so its longest side spans
[-scale_to, scale_to]; the transform (``center``, ``scale``: original = normalised * scale + center) is kept in
the signal spec so rendered meshes come back in the input's coordinates. The validation batch holds
``val_points`` reference points with normals on the input surface (in the normalised cube), which the
:class:`inr.metrics.SurfaceDistance` metric compares with the extracted zero level set.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import trimesh
from torch import Tensor

from datamodules.base import SignalDataModule, sampling_seed
from inr.core import grids
from inr.core.atomic import atomic_output
from inr.core.errors import InputError
from inr.core.evaluation import Evaluation
from inr.core.media import Media, Picture, Shape
from inr.core.mesh import extract_mesh, sample_surface, to_original
from inr.core.signal import SignalSpec
from inr.io.files import input_file

MESH_SUFFIXES = (".obj", ".off", ".stl", ".glb", ".gltf")
TEXT_SUFFIXES = (".xyz", ".pts", ".txt")
SUPPORTED = (".ply", *MESH_SUFFIXES, *TEXT_SUFFIXES)
#: most lines read looking for a PLY header's ``end_header``.
_PLY_HEADER_LINES = 1000
#: formats ``inr render`` writes.
RENDER_SUFFIXES = (".ply", ".obj", ".off", ".stl", ".glb")
#: pixels per side of each SDF slice in the validation picture.
SLICE_PIXELS = 128
DEFAULT_SHAPE = "trimesh: torus (thin tube) with a capsule rod through its hole"


def default_shape() -> trimesh.Trimesh:
    """A generated shape with thin and curved parts: a torus (tube radius 0.12) and a thin capsule rod.

    The rod (radius 0.05) runs along the torus axis through the hole without touching it, so the union is two
    disjoint watertight parts and needs no boolean operation.
    """
    torus = trimesh.creation.torus(major_radius=0.6, minor_radius=0.12, major_sections=96, minor_sections=32)
    rod = trimesh.creation.capsule(height=1.3, radius=0.05, count=[32, 32])
    return trimesh.util.concatenate([torus, rod])


def _fail(path: Path, reason: str) -> ValueError:
    return ValueError(f"shape file {path}: {reason}")


def _check_points(path: Path, points: np.ndarray, normals: np.ndarray) -> None:
    """Refuse NaN/inf, a zero-size shape and zero-length normals, naming the file."""
    if len(points) == 0:
        raise _fail(path, "holds no points")
    bad = ~np.isfinite(points).all(axis=1) | ~np.isfinite(normals).all(axis=1)
    if bad.any():
        raise _fail(path, f"{bad.sum()} point(s) have NaN or infinite values (first at row {bad.argmax()})")
    if np.ptp(points, axis=0).max() == 0:
        raise _fail(path, f"all {len(points)} points are identical: a shape of zero size cannot be centred and scaled")
    short = np.linalg.norm(normals, axis=1) < 1e-12
    if short.any():
        raise _fail(path, f"{short.sum()} normal(s) have zero length (first at row {short.argmax()})")


def _read_text_cloud(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Six-column text ``x y z nx ny nz`` -> points, normals (float64)."""
    try:
        table = np.loadtxt(path, dtype=np.float64, ndmin=2, comments="#")
    except ValueError as error:
        raise _fail(path, f"not a table of numbers ({str(error).splitlines()[0]})") from None
    if table.size == 0:
        raise _fail(path, "holds no points")
    if table.shape[1] == 3:
        raise _fail(path, "has no normals (3 columns); give x y z nx ny nz: estimated normals have no consistent sign")
    if table.shape[1] != 6:
        raise _fail(path, f"has {table.shape[1]} columns; expected 6: x y z nx ny nz")
    return table[:, :3], table[:, 3:]


def _ply_cloud_normals(path: Path, cloud: trimesh.PointCloud) -> np.ndarray:
    """Per-vertex ``nx ny nz`` of a PLY point cloud, or a clear refusal."""
    vertex = cloud.metadata.get("_ply_raw", {}).get("vertex", {}).get("data", {})
    # trimesh keeps ASCII PLY properties as a dict of columns and binary ones as a structured array
    names = (vertex.dtype.names or ()) if isinstance(vertex, np.ndarray) else vertex.keys()
    if not all(key in names for key in ("nx", "ny", "nz")):
        raise _fail(path, "is a point cloud without normals (no faces, no nx ny nz): SDFs need oriented normals")
    return np.concatenate([np.asarray(vertex[key], dtype=np.float64).reshape(-1, 1) for key in ("nx", "ny", "nz")], 1)


def _ply_header_counts(path: Path) -> dict[str, int]:
    """Element counts a PLY header declares, e.g. ``{"vertex": 642, "face": 1280}`` (empty if no header)."""
    counts = {}
    with open(path, "rb") as file:
        for _, line in zip(range(_PLY_HEADER_LINES), file):
            words = line.split()
            if words[:1] == [b"end_header"]:
                break
            if len(words) == 3 and words[0] == b"element" and words[2].isdigit():
                counts[words[1].decode(errors="replace")] = int(words[2])
    return counts


def _off_counts(path: Path) -> tuple[int, int, int] | None:
    """(vertices, faces) an ASCII OFF header declares and the number of data rows after it, else None."""
    text = path.read_bytes().decode("utf-8", errors="replace")  # a corrupt byte must not hide the row count
    rows = [line for line in (raw.split("#", 1)[0].strip() for raw in text.splitlines()) if line]
    first = rows[0].split() if rows else [""]
    if not first[0].endswith("OFF") or "BINARY" in first:
        return None
    if len(first) > 1:  # "OFF V F E" on one line
        counts, body = first[1:], len(rows) - 1
    else:
        counts, body = (rows[1].split() if len(rows) > 1 else []), len(rows) - 2
    if len(counts) < 2 or not all(word.isdigit() for word in counts[:2]):
        return None
    return int(counts[0]), int(counts[1]), max(body, 0)


def _check_stl(path: Path) -> None:
    """Refuse a binary STL whose size does not match its triangle count, or an ASCII STL without its end."""
    size = path.stat().st_size
    with open(path, "rb") as file:
        head = file.read(4096)
        file.seek(max(0, size - 4096))
        tail = file.read()
    if head[:5].lower() == b"solid" and b"facet" in head:  # ASCII STL (a binary header may also start "solid")
        if b"endsolid" not in tail:
            raise _fail(path, "is a truncated ASCII STL (no 'endsolid' at its end)")
        return
    if size < 84:
        raise _fail(path, f"is not an STL file ({size} bytes: too short for a binary STL header, no ASCII 'solid')")
    triangles = int.from_bytes(head[80:84], "little")
    if size < 84 + 50 * triangles:
        raise _fail(path, f"is truncated or not an STL: its binary header declares {triangles} triangles "
                          f"({84 + 50 * triangles} bytes) but the file has {size} bytes")


def _check_counts(path: Path, suffix: str, vertices: int, faces: int) -> None:
    """Refuse a PLY/OFF file holding fewer vertices or faces than its header declares (cut short)."""
    if suffix == ".ply":
        declared = _ply_header_counts(path)
        want_vertices, want_faces = declared.get("vertex"), declared.get("face", 0)
    elif suffix == ".off" and (counts := _off_counts(path)) is not None:
        want_vertices, want_faces, rows = counts
        if rows < want_vertices + want_faces:
            raise _fail(path, f"is truncated or corrupt: its OFF header declares {want_vertices} vertices and "
                              f"{want_faces} faces but only {rows} rows follow")
    else:
        return
    # polygons are split into triangles, so a complete file has at least as many faces as it declares
    if want_vertices is not None and (vertices < want_vertices or faces < want_faces):
        raise _fail(path, f"is truncated: its header declares {want_vertices} vertices and {want_faces} faces "
                          f"but it holds {vertices} vertices and {faces} faces")


def read_shape(path: str | Path) -> tuple[trimesh.Trimesh | None, np.ndarray, np.ndarray]:
    """Read a mesh or an oriented point cloud.

    Returns:
        ``(mesh, points, normals)``: for a mesh, the mesh and its vertices with zero normals (to be sampled);
        for a point cloud, ``None`` and the points [M, 3] with their normals [M, 3] (float64).
    """
    path = input_file(path, "shape file")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise _fail(path, f"unsupported format {suffix!r}; expected one of {', '.join(SUPPORTED)}")
    if suffix in TEXT_SUFFIXES:
        points, normals = _read_text_cloud(path)
        _check_points(path, points, normals)
        return None, points, normals
    if suffix == ".stl":
        _check_stl(path)  # trimesh reads a cut binary STL as an empty ASCII one
    try:
        loaded = trimesh.load(path, force="mesh" if suffix in MESH_SUFFIXES else None, process=False)
    except Exception as error:  # trimesh raises many types; the user needs the file name and the reason
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise _fail(path, f"not a readable {suffix[1:].upper()} file, truncated or corrupt? ({reason})") from None
    vertices = np.asarray(getattr(loaded, "vertices", np.zeros((0, 3))), dtype=np.float64)
    faces = np.asarray(getattr(loaded, "faces", np.zeros((0, 3))), dtype=np.int64)
    _check_counts(path, suffix, len(vertices), len(faces))
    if len(vertices) == 0 and suffix == ".ply":  # other formats: an empty mesh is refused for having no faces
        raise _fail(path, "holds no points (its header declares 0 vertices)")
    if isinstance(loaded, trimesh.PointCloud) and suffix == ".ply":
        normals = _ply_cloud_normals(path, loaded)
        _check_points(path, vertices, normals)
        return None, vertices, normals
    if not isinstance(loaded, trimesh.Trimesh) or len(faces) == 0:
        raise _fail(path, "is a mesh with no faces; SDF fitting samples oriented points on faces "
                          "(for a point cloud give .xyz/.pts text or a PLY with x y z nx ny nz)")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise _fail(path, f"is corrupt: face indices run from {faces.min()} to {faces.max()} but there are "
                          f"{len(vertices)} vertices")
    _check_points(path, vertices, np.ones_like(vertices))
    if loaded.area == 0:
        raise _fail(path, "is a mesh whose faces all have zero area")
    return loaded, vertices, np.zeros_like(vertices)


def normalising_transform(points: np.ndarray, scale_to: float) -> tuple[np.ndarray, float]:
    """``(center, scale)`` with original = normalised * scale + center; the longest side spans 2 * scale_to."""
    low, high = points.min(axis=0), points.max(axis=0)
    return (low + high) / 2, float((high - low).max() / 2 / scale_to)


def slice_coords(pixels: int) -> Tensor:
    """Coordinates of the three axis-aligned planes through the origin, [3 * pixels^2, 3].

    Panel k is the plane coordinate k = 0; its columns follow the lower remaining axis, its rows the higher one,
    top row = +1 (pictures read like plots).
    """
    axis = grids.axis(pixels)
    rows, cols = torch.meshgrid(axis.flip(0), axis, indexing="ij")
    panels = []
    for normal in range(3):
        col_axis, row_axis = [a for a in range(3) if a != normal]
        coords = torch.zeros(pixels, pixels, 3)
        coords[..., col_axis], coords[..., row_axis] = cols, rows
        panels.append(coords.reshape(-1, 3))
    return torch.cat(panels)


def sdf_picture(values: np.ndarray, band: float = 0.1) -> np.ndarray:
    """Colour an SDF slice [H, W] as uint8 [H, W, 3]: orange outside, blue inside, iso-lines, black zero set."""
    outside, inside = np.array([0.93, 0.55, 0.25]), np.array([0.25, 0.50, 0.90])
    base = np.where(values[..., None] >= 0, outside, inside)
    fade = 1.0 - np.exp(-4.0 * np.abs(values))[..., None]  # white at the surface, saturated far away
    colour = (1.0 - fade * (1.0 - base)) * (0.85 + 0.15 * np.cos(2 * np.pi * values / band))[..., None]
    sign = values >= 0
    zero = np.zeros_like(sign)
    zero[:-1] |= sign[:-1] != sign[1:]
    zero[:, :-1] |= sign[:, :-1] != sign[:, 1:]
    colour[zero] = 0.0
    return (colour.clip(0, 1) * 255).round().astype(np.uint8)


class PointCloudDataModule(SignalDataModule):
    """A shape (mesh or oriented point cloud) as a signed distance function f(x, y, z) -> 1 channel.

    Args:
        path: mesh (PLY/OBJ/OFF/STL/GLB/GLTF) or oriented point cloud (XYZ/PTS/TXT ``x y z nx ny nz``, or PLY
            vertices with ``nx ny nz``); ``None`` uses a generated torus with a thin rod through it.
        batch_size: on-surface points per training step; as many off-surface points are added (2x in total).
        surface_points: points sampled once on a mesh's faces (ignored for point clouds, which are used whole).
        scale_to: half-size of the box the shape's longest side is scaled into; below 1 the zero level set
            closes inside the [-1, 1] grid.
        val_points: reference points (with normals) on the input surface in the validation batch, for the Chamfer
            distance / normal consistency (the grid the mesh is extracted on is the metric's ``resolution``).
        seed: seed of the batch sampler; ``None`` takes the run's ``seed_everything``.
    """

    kind = "sdf"
    available_targets = ("values", "normals", "on_surface")

    def __init__(
        self,
        path: str | None = None,
        batch_size: int = 10000,
        surface_points: int = 1_000_000,
        scale_to: float = 0.9,
        val_points: int = 20000,
        seed: int | None = None,
    ) -> None:
        super().__init__(batch_size=batch_size, seed=seed)
        if batch_size is None:
            raise InputError("data batch_size must be a number of on-surface points for SDFs, not null")
        for option, value, low in (("surface_points", surface_points, 1), ("val_points", val_points, 1)):
            if value < low:
                raise InputError(f"data {option} must be >= {low}, got {value}")
        if not 0 < scale_to <= 1:
            raise InputError(f"data scale_to must be in (0, 1], got {scale_to}")
        self.path, self.scale_to = path, scale_to
        self.val_points = val_points
        if path is None:
            mesh, points, normals = default_shape(), None, None
        else:
            mesh, points, normals = read_shape(path)
        center, self.scale = normalising_transform(mesh.vertices if mesh is not None else points, scale_to)
        self.center = center.tolist()
        if mesh is not None:
            self.mesh = to_original(mesh, -center / self.scale, 1.0 / self.scale)
            points, normals = sample_surface(self.mesh, surface_points, seed=self.seed)
        else:
            self.mesh = None
            points = (points - center) / self.scale
            normals = normals / np.linalg.norm(normals, axis=1, keepdims=True)
        self.points = torch.from_numpy(points.astype(np.float32))
        self.normals = torch.from_numpy(normals.astype(np.float32))
        self._reference: tuple[np.ndarray, np.ndarray] | None = None

    def signal_tensors(self) -> dict[str, Tensor]:
        """Surface samples (normalised): ``coords [M, 3]``, ``normals [M, 3]`` (unit), ``values [M, 1]`` = 0."""
        return {"coords": self.points, "normals": self.normals, "values": torch.zeros(len(self.points), 1)}

    @property
    def signal_spec(self) -> SignalSpec:
        """Dims, SDF range and the normalising transform (original = normalised * scale + center)."""
        return self.spec(3, 1, value_range=(-2 * math.sqrt(3), 2 * math.sqrt(3)),  # distances inside the cube
                         source=self.path or DEFAULT_SHAPE, meta={"center": self.center, "scale": self.scale})

    def sample(self, device: torch.device, step: int, rank: int) -> dict[str, Tensor]:
        """``batch_size`` on-surface points (with normals) then as many uniform in [-1, 1]^3, drawn on ``device``.

        Returns:
            ``coords [2B, 3]``, ``normals [2B, 3]`` (zero off the surface), ``on_surface [2B]`` (bool).
        """
        signal = self.on_device(device)
        count = self.batch_size
        generator = torch.Generator(device=device).manual_seed(sampling_seed(self.seed, step, rank))
        index = torch.randint(signal["coords"].shape[0], (count,), generator=generator, device=device)
        off = torch.rand((count, 3), generator=generator, device=device) * 2 - 1
        return {
            "coords": torch.cat([signal["coords"][index], off]),
            "normals": torch.cat([signal["normals"][index], torch.zeros_like(off)]),
            "on_surface": torch.arange(2 * count, device=device) < count,
        }

    def reference(self) -> tuple[np.ndarray, np.ndarray]:
        """``val_points`` points with normals on the input surface (normalised), drawn once with a fixed seed."""
        if self._reference is None:
            if self.mesh is not None:
                self._reference = sample_surface(self.mesh, self.val_points, seed=1)
            else:
                pick = np.random.default_rng(1).choice(len(self.points), min(self.val_points, len(self.points)), False)
                self._reference = self.points[pick].double().numpy(), self.normals[pick].double().numpy()
        return self._reference

    def validation_batch(self, device: torch.device) -> dict[str, Tensor]:
        """The reference surface on ``device``: ``coords [M, 3]``, unit ``normals [M, 3]``, ``values`` 0 [M, 1]."""
        points, normals = self.reference()
        batch = {"coords": torch.from_numpy(points).float(), "normals": torch.from_numpy(normals).float(),
                 "values": torch.zeros(len(points), 1)}
        return {key: value.to(device) for key, value in batch.items()}

    def media_coords(self) -> dict[str, Tensor]:
        """The three axis-aligned slices through the origin (:func:`slice_coords`)."""
        return {"slices": slice_coords(SLICE_PIXELS)}

    def media(self, evaluation: Evaluation, extra: dict[str, Tensor]) -> list[Media]:
        """The SDF slices as a picture and, when a metric extracted one with faces, the mesh as a 3D object."""
        values = extra["slices"].detach().float().cpu().reshape(3, SLICE_PIXELS, SLICE_PIXELS).numpy()
        picture = np.concatenate([sdf_picture(panel) for panel in values], axis=1)
        items: list[Media] = [Picture("val/sdf_slices", [picture], ["x = 0 | y = 0 | z = 0"])]
        mesh = evaluation.extras.get("mesh")
        if mesh is not None and len(mesh.faces):
            items.append(Shape("val/mesh", mesh))
        return items

    @staticmethod
    def render_to_file(
        predict: Callable[[Tensor], Tensor], spec: SignalSpec, out: str, resolution: int | None
    ) -> str:
        """Extract the zero level set on a ``resolution``^3 grid (default 256) and write it in original coordinates."""
        resolution = 256 if resolution is None else resolution
        if resolution < 2:
            raise InputError(f"--resolution must be >= 2 grid points per axis for a mesh, got {resolution}")
        if Path(out).suffix.lower() not in RENDER_SUFFIXES:
            raise InputError(f"--out {out}: an SDF renders to a mesh; use one of {', '.join(RENDER_SUFFIXES)}")
        mesh = extract_mesh(predict, resolution, progress=True)
        if len(mesh.faces) == 0:
            raise InputError(f"the SDF has no zero level set on the {resolution}^3 grid: nothing to write to {out}")
        mesh = to_original(mesh, spec.meta["center"], spec.meta["scale"])
        with atomic_output(out) as temporary:
            mesh.export(temporary)
        return (f"wrote {out}: mesh of {len(mesh.vertices)} vertices / {len(mesh.faces)} faces from a {resolution}^3 "
                f"grid, watertight: {mesh.is_watertight}")
