"""Bad input of every kind gives one error naming the file or option, and leaves nothing half-written.

The catalogue of what is handled, with the messages, is docs/bad_input.md; this file holds the cases that the
per-module tests (test_image_datamodule, test_audio, test_pointcloud, test_cli, test_reliability...) do not.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import png
import pytest
import soundfile as sf
import torch
import trimesh
from conftest import TINY_MODEL

from datamodules.audio import RENDER_BLOCK, AudioDataModule, read_audio
from datamodules.image import ImageDataModule, read_image, write_png
from datamodules.pointcloud import PointCloudDataModule, read_shape
from inr.commands.render import load_model
from inr.core.signal import SignalSpec
from inr.nn.encoders import GaussianFourier, PositionalEncoding
from inr.nn.networks import MLP, Siren

# --- image ---------------------------------------------------------------------------------------------------------


def _png16(path: Path, pixels: np.ndarray) -> Path:
    height, width, channels = pixels.shape
    writer = png.Writer(width, height, greyscale=channels in (1, 2), alpha=channels in (2, 4), bitdepth=16)
    with open(path, "wb") as file:
        writer.write(file, pixels.reshape(height, width * channels).tolist())
    return path


def _noise(shape: tuple[int, ...], dtype=np.uint8) -> np.ndarray:
    return np.random.default_rng(0).integers(0, np.iinfo(dtype).max, size=shape, dtype=dtype, endpoint=True)


@pytest.mark.parametrize(
    "name, pixels",
    [
        ("gray_alpha8.png", _noise((6, 5, 2))),
        ("rgb16.tif", _noise((6, 5, 3), np.uint16)),
        ("gray_alpha16.tif", _noise((6, 5, 2), np.uint16)),
    ],
    ids=["2ch-8bit-png", "3ch-16bit-tiff", "2ch-16bit-tiff"],
)
def test_every_channel_count_and_depth_loads(tmp_path, name, pixels):
    path = tmp_path / name
    iio.imwrite(path, pixels)
    image = read_image(path)
    np.testing.assert_allclose(image, pixels / np.iinfo(pixels.dtype).max, atol=1e-7)


def test_one_bit_palette_and_misnamed_images_load(tmp_path):
    from PIL import Image

    Image.fromarray(np.eye(8, dtype=bool)).save(tmp_path / "bits.png")
    np.testing.assert_array_equal(read_image(tmp_path / "bits.png")[..., 0], np.eye(8))
    Image.fromarray(np.full((8, 8), 200, dtype=np.uint8)).convert("P").save(tmp_path / "palette.png")
    assert read_image(tmp_path / "palette.png").shape == (8, 8, 3)  # palette expanded to RGB
    iio.imwrite(tmp_path / "real.png", _noise((6, 5, 3)))
    (tmp_path / "png_named.jpg").write_bytes((tmp_path / "real.png").read_bytes())
    np.testing.assert_array_equal(read_image(tmp_path / "png_named.jpg"), read_image(tmp_path / "real.png"))


def _image_cases(tmp: Path) -> dict[str, tuple[Path, str]]:
    iio.imwrite(tmp / "photo.jpg", _noise((64, 64, 3)))
    jpeg = (tmp / "photo.jpg").read_bytes()
    (tmp / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    iio.imwrite(tmp / "big.png", _noise((64, 64, 3)))
    corrupt = bytearray((tmp / "big.png").read_bytes())
    middle = len(corrupt) // 2
    corrupt[middle : middle + 50] = bytes(50)
    (tmp / "corrupt.png").write_bytes(bytes(corrupt))
    deep = _png16(tmp / "deep.png", _noise((8, 8, 1), np.uint16)).read_bytes()
    (tmp / "cut16.png").write_bytes(deep[:-30])
    sf.write(tmp / "sound.wav", np.zeros(100), 8000)
    iio.imwrite(tmp / "five.tif", np.zeros((6, 5, 5), dtype=np.uint8))
    iio.imwrite(tmp / "hdr.tif", np.full((6, 5), 2.0, dtype=np.float32))
    iio.imwrite(tmp / "nan.tif", np.full((6, 5), np.nan, dtype=np.float32))
    (tmp / "folder.png").mkdir()
    return {
        "folder": (tmp / "folder.png", "image file .*folder.png is a folder"),
        "jpeg-truncated": (tmp / "cut.jpg", r"cannot read image file .*cut.jpg: not a readable image \(image file is "
                                            "truncated"),
        "png-corrupt": (tmp / "corrupt.png", "cannot read image file .*corrupt.png: not a readable image"),
        "png16-truncated": (tmp / "cut16.png", r"cannot read image file .*cut16.png: not a readable image "
                                               r"\(ChunkError"),
        "wrong-extension": (tmp / "sound.wav", "cannot read image file .*sound.wav: not a readable image "
                                               r"\(no image reader accepts its content or its '.wav' extension\)"),
        "5-channels": (tmp / "five.tif", r"five.tif has shape \(6, 5, 5\); expected \[H, W\] or \[H, W, C\] with C "
                                         "in 1..4"),
        "float-above-1": (tmp / "hdr.tif", r"hdr.tif holds floats outside \[0, 1\] \(or NaN/inf\)"),
        "float-nan": (tmp / "nan.tif", r"nan.tif holds floats outside \[0, 1\] \(or NaN/inf\)"),
    }


@pytest.mark.parametrize("case", ["folder", "jpeg-truncated", "png-corrupt", "png16-truncated", "wrong-extension",
                                  "5-channels", "float-above-1", "float-nan"])
def test_bad_image_file(tmp_path, case):
    path, message = _image_cases(tmp_path)[case]
    with pytest.raises(ValueError, match=message):
        ImageDataModule(path=str(path))


def test_bad_blend_inputs_name_the_file(gray_png, tmp_path):
    from datamodules.blend import BlendDataModule

    with pytest.raises(FileNotFoundError, match="image file not found: .*no_mask.png"):
        BlendDataModule(path=str(gray_png), mask=str(tmp_path / "no_mask.png"))
    (tmp_path / "second.png").write_text("not an image")
    with pytest.raises(ValueError, match="cannot read image file .*second.png"):
        BlendDataModule(path=str(gray_png), second=str(tmp_path / "second.png"))


IMAGE_SPEC = SignalSpec(2, 1, kind="image", shape=(4, 5), meta={"bit_depth": 8})
IMAGE_SPEC_16 = dataclasses.replace(IMAGE_SPEC, meta={"bit_depth": 16})


@pytest.mark.parametrize(
    "spec, out, message",
    [
        (IMAGE_SPEC_16, "x.jpg", "--out .*x.jpg: a 16-bit image renders to one of .png"),
        (dataclasses.replace(IMAGE_SPEC, out_dim=4), "x.jpg",
         "--out .*x.jpg: an image with alpha renders to one of .png, .tif"),
        (IMAGE_SPEC, "x.wav", "--out .*x.wav: an image renders to one of .png, .jpg"),
    ],
    ids=["16bit-as-jpg", "alpha-as-jpg", "image-as-wav"],
)
def test_image_render_refuses_a_file_type_that_cannot_hold_it(tmp_path, spec, out, message):
    def predict(coords):
        raise AssertionError("the output type is checked before the network is evaluated")

    with pytest.raises(ValueError, match=message):
        ImageDataModule.render_to_file(predict, spec, str(tmp_path / out), None)
    with pytest.raises(ValueError, match="--resolution must be >= 1, got 0"):
        ImageDataModule.render_to_file(predict, IMAGE_SPEC, str(tmp_path / "x.png"), 0)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("spec, out", [(IMAGE_SPEC, "x.jpg"), (IMAGE_SPEC_16, "x.png")],
                         ids=["8bit-jpg", "16bit-png"])
def test_image_render_writes_only_the_requested_file(tmp_path, spec, out):
    ImageDataModule.render_to_file(lambda coords: torch.zeros(len(coords), 1), spec, str(tmp_path / out), None)
    assert [path.name for path in tmp_path.iterdir()] == [out] and iio.imread(tmp_path / out).shape == (4, 5)


def test_image_write_that_fails_half_way_leaves_nothing(tmp_path, monkeypatch):
    def dies_halfway(path, pixels):
        Path(path).write_bytes(b"\x89PNG half an image")
        raise OSError("disk full")

    monkeypatch.setattr(iio, "imwrite", dies_halfway)
    with pytest.raises(OSError, match="disk full"):
        write_png(tmp_path / "out.png", np.zeros((4, 5, 1), dtype=np.uint8))
    assert list(tmp_path.iterdir()) == []


# --- audio ---------------------------------------------------------------------------------------------------------


def _tone(count: int = 8000, channels: int = 1) -> np.ndarray:
    return (0.5 * np.sin(np.arange(count * channels).reshape(count, channels) / 5)).astype(np.float32)


def _page_starts(data: bytes) -> list[int]:
    return [match.start() for match in re.finditer(b"OggS", data)]


def _audio_cases(tmp: Path) -> dict[str, tuple[Path, str]]:
    sf.write(tmp / "good.flac", _tone(80000), 8000)
    flac = (tmp / "good.flac").read_bytes()
    (tmp / "cut.flac").write_bytes(flac[: len(flac) // 2])
    sf.write(tmp / "good.ogg", _tone(80000), 8000)
    ogg = (tmp / "good.ogg").read_bytes()
    (tmp / "cut.ogg").write_bytes(ogg[: int(len(ogg) * 0.9)])  # libsndfile reads this silently: 55808 of 80000
    (tmp / "page_cut.ogg").write_bytes(ogg[: _page_starts(ogg)[-2]])  # whole pages, the end-of-stream one missing
    sf.write(tmp / "good.wav", _tone(1000), 8000, subtype="PCM_16")
    (tmp / "header_only.wav").write_bytes((tmp / "good.wav").read_bytes()[:44])
    (tmp / "cut_header.wav").write_bytes((tmp / "good.wav").read_bytes()[:20])
    infinite = _tone(100, 2)
    infinite[7, 0] = np.inf
    sf.write(tmp / "inf.wav", infinite, 8000, subtype="FLOAT")
    sf.write(tmp / "one.wav", _tone(1), 8000)
    (tmp / "folder.wav").mkdir()
    return {
        "folder": (tmp / "folder.wav", "audio file .*folder.wav is a folder"),
        "wav-header-only": (tmp / "header_only.wav", "header_only.wav is truncated: its WAV header declares 2000 "
                                                     "bytes of samples but only 0 follow"),
        "wav-cut-in-header": (tmp / "cut_header.wav", "cannot read audio file .*cut_header.wav: not a format "
                                                      "soundfile reads"),
        "flac-truncated": (tmp / "cut.flac", r"cannot decode audio file .*cut.flac \(truncated or corrupt\?\)"),
        "ogg-truncated": (tmp / "cut.ogg", "cut.ogg is truncated: its last Ogg page is cut short or lacks the "
                                           "end-of-stream flag"),
        "ogg-missing-pages": (tmp / "page_cut.ogg", "page_cut.ogg is truncated: its last Ogg page"),
        "inf-sample": (tmp / "inf.wav", r"inf.wav holds 1 NaN/infinite sample\(s\) \(first at frame 7, channel 0\)"),
        "one-sample": (tmp / "one.wav", r"audio file .*one.wav keeps 1 sample\(s\) at 8000 Hz .* at least 2 are "
                                        "needed"),
    }


@pytest.mark.parametrize("case", ["folder", "wav-header-only", "wav-cut-in-header", "flac-truncated",
                                  "ogg-truncated", "ogg-missing-pages", "inf-sample", "one-sample"])
def test_bad_audio_file(tmp_path, case):
    path, message = _audio_cases(tmp_path)[case]
    with pytest.raises(ValueError, match=message):
        AudioDataModule(path=str(path))


def test_complete_ogg_and_misnamed_audio_load(tmp_path):
    for channels, subtype in ((1, "VORBIS"), (2, "VORBIS"), (1, "OPUS")):
        sf.write(tmp_path / "clip.ogg", _tone(4800, channels), 48000, format="OGG", subtype=subtype)
        assert read_audio(tmp_path / "clip.ogg")[0].shape == (4800, channels)
    sf.write(tmp_path / "flac_named.wav", _tone(), 8000, format="FLAC")  # soundfile goes by the content
    np.testing.assert_allclose(read_audio(tmp_path / "flac_named.wav")[0], _tone(), atol=1e-4)


def test_audio_render_that_fails_half_way_leaves_nothing(tmp_path):
    spec = SignalSpec(1, 1, kind="audio", shape=(RENDER_BLOCK + 10,), meta={"sample_rate": 8000, "subtype": "PCM_16"})
    blocks = []

    def predict(coords):
        blocks.append(len(coords))
        if len(blocks) == 2:
            raise RuntimeError("CUDA out of memory")
        return torch.zeros(len(coords), 1)

    with pytest.raises(RuntimeError, match="out of memory"):
        AudioDataModule.render_to_file(predict, spec, str(tmp_path / "out.wav"), None)
    assert blocks == [RENDER_BLOCK, 10] and list(tmp_path.iterdir()) == []
    spec = dataclasses.replace(spec, shape=(100,))
    AudioDataModule.render_to_file(lambda coords: torch.zeros(len(coords), 1), spec, str(tmp_path / "out.wav"), None)
    assert [path.name for path in tmp_path.iterdir()] == ["out.wav"] and sf.info(tmp_path / "out.wav").frames == 100


# --- point cloud / mesh --------------------------------------------------------------------------------------------

POINTS = np.random.default_rng(0).normal(size=(20, 3))
UP = np.tile([0.0, 0.0, 1.0], (20, 1))


def _ply_cloud(path: Path, points: np.ndarray, normals: np.ndarray | None, binary: bool = False) -> Path:
    names = ["x", "y", "z"] + ([] if normals is None else ["nx", "ny", "nz"])
    table = points if normals is None else np.hstack([points, normals])
    header = ["ply", f"format {'binary_little_endian' if binary else 'ascii'} 1.0", f"element vertex {len(table)}"]
    header += [f"property float {name}" for name in names] + ["end_header"]
    if binary:
        path.write_bytes(("\n".join(header) + "\n").encode() + table.astype("<f4").tobytes())
    else:
        path.write_text("\n".join(header + [" ".join(repr(float(v)) for v in row) for row in table]) + "\n")
    return path


def _with(array: np.ndarray, index: tuple[int, int] | int, value: float) -> np.ndarray:
    changed = array.copy()
    changed[index] = value
    return changed


def _cut(path: Path, name: str, fraction: float) -> Path:
    data = path.read_bytes()
    (path.parent / name).write_bytes(data[: int(len(data) * fraction)])
    return path.parent / name


def _shape_cases(tmp: Path) -> dict[str, tuple[Callable[[], Path], str]]:
    sphere = trimesh.creation.icosphere(2)

    def export(name: str, **options) -> Path:
        sphere.export(tmp / name, **options)
        return tmp / name

    def corrupt_faces() -> Path:
        data = bytearray(export("sphere.ply").read_bytes())
        start = len(data) // 2  # inside the face list of a binary PLY (vertices come first, 12 bytes each)
        data[start : start + 100] = b"\xfe" * 100
        (tmp / "corrupt.ply").write_bytes(bytes(data))
        return tmp / "corrupt.ply"

    def header_only(name: str, declared: int) -> Path:
        (tmp / name).write_text(f"ply\nformat ascii 1.0\nelement vertex {declared}\nproperty float x\n"
                                "property float y\nproperty float z\nend_header\n")
        return tmp / name

    def text(name: str, content: str) -> Path:
        (tmp / name).write_text(content)
        return tmp / name

    def folder() -> Path:
        (tmp / "folder.ply").mkdir()
        return tmp / "folder.ply"

    xyz = lambda name, table: (np.savetxt(tmp / name, table), tmp / name)[1]  # noqa: E731
    return {
        "folder": (folder, "shape file .*folder.ply is a folder"),
        "ply-truncated": (lambda: _cut(export("sphere.ply"), "cut.ply", 0.9), "cut.ply: not a readable PLY file, "
                          r"truncated or corrupt\? \(PLY is unexpected length!\)"),
        "ply-ascii-truncated": (lambda: _cut(export("ascii.ply", encoding="ascii"), "cut_ascii.ply", 0.5),
                                "cut_ascii.ply: not a readable PLY file, truncated or corrupt"),
        "ply-corrupt-faces": (corrupt_faces, "corrupt.ply: is corrupt: face indices run from .* but there are 162 "
                                             "vertices"),
        "ply-not-a-ply": (lambda: text("words.ply", "hello"), r"words.ply: not a readable PLY file, truncated or "
                                                              r"corrupt\? \(Not a ply file!\)"),
        "ply-header-only": (lambda: header_only("empty_cloud.ply", 0), r"empty_cloud.ply: holds no points \(its "
                                                                       "header declares 0 vertices"),
        "ply-header-only-cut": (lambda: header_only("cut_cloud.ply", 5), "cut_cloud.ply: is truncated: its header "
                                "declares 5 vertices and 0 faces but it holds 0 vertices and 0 faces"),
        "ply-nan": (lambda: _ply_cloud(tmp / "nan.ply", _with(POINTS, (2, 0), np.nan), UP),
                    r"nan.ply: 1 point\(s\) have NaN or infinite values \(first at row 2\)"),
        "ply-inf": (lambda: _ply_cloud(tmp / "inf.ply", _with(POINTS, (4, 2), np.inf), UP, binary=True),
                    r"inf.ply: 1 point\(s\) have NaN or infinite values \(first at row 4\)"),
        "ply-identical": (lambda: _ply_cloud(tmp / "same.ply", np.ones((20, 3)), UP), "same.ply: all 20 points are "
                          "identical: a shape of zero size cannot be centred and scaled"),
        "ply-zero-normal": (lambda: _ply_cloud(tmp / "zn.ply", POINTS, _with(UP, 1, 0.0)),
                            r"zn.ply: 1 normal\(s\) have zero length \(first at row 1\)"),
        "ply-no-normals": (lambda: _ply_cloud(tmp / "plain.ply", POINTS, None, binary=True), r"plain.ply: is a point "
                           r"cloud without normals \(no faces, no nx ny nz\): SDFs need oriented normals"),
        "xyz-inf": (lambda: xyz("inf.xyz", np.hstack([_with(POINTS, (0, 1), -np.inf), UP])),
                    r"inf.xyz: 1 point\(s\) have NaN or infinite values \(first at row 0\)"),
        "xyz-4-columns": (lambda: xyz("four.xyz", np.hstack([POINTS, UP[:, :1]])),
                          "four.xyz: has 4 columns; expected 6: x y z nx ny nz"),
        "xyz-ragged": (lambda: text("ragged.xyz", "1 2 3 0 0 1\n1 2 3 0 0\n"), r"ragged.xyz: not a table of numbers "
                       r"\(the number of columns changed from 6 to 5 at row 2"),
        "obj-cut-before-faces": (lambda: _cut(export("sphere.obj"), "cut.obj", 0.3),
                                 "cut.obj: is a mesh with no faces; SDF fitting samples oriented points on faces"),
        "obj-bad-index": (lambda: text("index.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 9\n"),
                          "index.obj: not a readable OBJ file, truncated or corrupt"),
        "obj-nan": (lambda: text("nan.obj", "v 0 0 0\nv nan 0 0\nv 0 1 0\nf 1 2 3\n"),
                    r"nan.obj: 1 point\(s\) have NaN or infinite values \(first at row 1\)"),
        "obj-zero-area": (lambda: text("flat.obj", "v 0 0 0\nv 1 0 0\nv 2 0 0\nf 1 2 3\n"),
                          "flat.obj: is a mesh whose faces all have zero area"),
        "off-truncated": (lambda: _cut(export("sphere.off"), "cut.off", 0.9), "cut.off: is truncated or corrupt: its "
                          "OFF header declares 162 vertices and 320 faces but only .* rows follow"),
        "stl-truncated": (lambda: _cut(export("sphere.stl"), "cut.stl", 0.9), "cut.stl: is truncated or not an STL: "
                          r"its binary header declares 320 triangles \(16084 bytes\) but the file has 14475 bytes"),
        "stl-ascii-truncated": (lambda: _cut(export("ascii.stl", file_type="stl_ascii"), "cut_ascii.stl", 0.5),
                                "cut_ascii.stl: is a truncated ASCII STL"),
        "stl-tiny": (lambda: text("tiny.stl", "hello"), r"tiny.stl: is not an STL file \(5 bytes"),
        "glb-truncated": (lambda: _cut(export("sphere.glb"), "cut.glb", 0.9), "cut.glb: not a readable GLB file, "
                          "truncated or corrupt"),
    }


SHAPE_CASES = ["folder", "ply-truncated", "ply-ascii-truncated", "ply-corrupt-faces", "ply-not-a-ply",
               "ply-header-only", "ply-header-only-cut", "ply-nan", "ply-inf", "ply-identical", "ply-zero-normal",
               "ply-no-normals", "xyz-inf", "xyz-4-columns", "xyz-ragged", "obj-cut-before-faces", "obj-bad-index",
               "obj-nan", "obj-zero-area", "off-truncated", "stl-truncated", "stl-ascii-truncated", "stl-tiny",
               "glb-truncated"]


@pytest.mark.parametrize("case", SHAPE_CASES)
def test_bad_shape_file(tmp_path, case):
    make, message = _shape_cases(tmp_path)[case]
    path = make()
    with pytest.raises(ValueError, match=message) as error:
        read_shape(path)
    assert str(path) in str(error.value)


def test_binary_ply_cloud_with_normals_loads(tmp_path):
    _, points, normals = read_shape(_ply_cloud(tmp_path / "cloud.ply", POINTS, UP * 2, binary=True))
    np.testing.assert_allclose(points, POINTS, rtol=1e-6)
    np.testing.assert_allclose(normals, UP * 2)


def test_bad_shape_options():
    small = {"surface_points": 100, "val_points": 10}
    for options, message in [({"batch_size": 0}, "data batch_size must be a positive number of points"),
                             ({"surface_points": 0}, "data surface_points must be >= 1, got 0"),
                             ({"val_points": -1}, "data val_points must be >= 1, got -1"),
                             ({"scale_to": 0.0}, r"data scale_to must be in \(0, 1\], got 0.0")]:
        with pytest.raises(ValueError, match=message):
            PointCloudDataModule(**{**small, **options})


SDF_SPEC = SignalSpec(3, 1, kind="sdf", meta={"center": [0.0, 0.0, 0.0], "scale": 1.0})


def test_mesh_render_without_a_surface_or_with_a_bad_out_writes_nothing(tmp_path):
    def sphere(coords):
        return coords.norm(dim=-1, keepdim=True) - 0.5

    with pytest.raises(ValueError, match="the SDF has no zero level set on the 8\\^3 grid: nothing to write to"):
        PointCloudDataModule.render_to_file(lambda coords: torch.ones(len(coords), 1), SDF_SPEC,
                                            str(tmp_path / "empty.ply"), 8)
    with pytest.raises(ValueError, match="--out .*shape.png: an SDF renders to a mesh; use one of .ply"):
        PointCloudDataModule.render_to_file(sphere, SDF_SPEC, str(tmp_path / "shape.png"), 8)
    with pytest.raises(ValueError, match="--resolution must be >= 2 grid points per axis"):
        PointCloudDataModule.render_to_file(sphere, SDF_SPEC, str(tmp_path / "shape.ply"), 1)
    assert list(tmp_path.iterdir()) == []
    assert "wrote" in PointCloudDataModule.render_to_file(sphere, SDF_SPEC, str(tmp_path / "shape.ply"), 8)
    assert [path.name for path in tmp_path.iterdir()] == ["shape.ply"]  # no temporary left beside it


# --- encoders and networks -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: GaussianFourier(2, mapping_size=0), "GaussianFourier mapping_size must be >= 1, got 0"),
        (lambda: GaussianFourier(2, sigma=float("nan")), "GaussianFourier sigma must be > 0, got nan"),
        (lambda: PositionalEncoding(2, num_frequencies=0), "PositionalEncoding num_frequencies must be >= 1, got 0"),
        (lambda: PositionalEncoding(2, sigma=0.0), "PositionalEncoding sigma must be > 0, got 0.0"),
        (lambda: MLP(0, 1), "MLP in_dim must be >= 1, got 0"),
        (lambda: Siren(2, 1, hidden=-4), "Siren hidden must be >= 1, got -4"),
        (lambda: Siren(2, 1, layers=-1), "Siren layers must be >= 0, got -1"),
        (lambda: Siren(2, 1, hidden_omega_0=-30.0), "Siren hidden_omega_0 must be > 0, got -30.0"),
    ],
    ids=["mapping_size-0", "sigma-nan", "num_frequencies-0", "pe-sigma-0", "mlp-in_dim-0", "hidden-negative",
         "layers-negative", "omega-negative"],
)
def test_bad_component_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


# --- config / CLI --------------------------------------------------------------------------------------------------


def _fit_error(tmp_path: Path, capsys, *args: str) -> str:
    """Run ``inr fit`` in-process with bad options; return its stderr after checking exit code 2 and no traceback."""
    from inr.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["fit", *args, "--trainer.max_steps", "1", "--trainer.logger", "false",
              "--trainer.default_root_dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert not (tmp_path / "runs").exists()  # refused before anything was written
    return err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--data.size", "-5"], "inr: error: data size must be >= 1 pixel, got -5"),
        (["--model.network.init_args.hidden", "-4"], "inr: error: Siren hidden must be >= 1, got -4"),
        (["--config", "configs/image_ffn_gaussian.yaml", "--model.encoder.init_args.mapping_size", "0"],
         "inr: error: GaussianFourier mapping_size must be >= 1, got 0"),
        (["--config", "configs/audio_siren.yaml", "--data.path", "null", "--data.crop_seconds", "0"],
         "inr: error: data crop_seconds must be > 0 (or null for the whole clip), got 0.0"),
        (["--config", "configs/sdf_siren.yaml", "--data.path", "null", "--data.scale_to", "2"],
         "inr: error: data scale_to must be in (0, 1], got 2.0"),
        (["--config", "configs/sdf_siren.yaml", "--data.path", "null", "--data.batch_size", "null"],
         "inr: error: data batch_size must be a number of on-surface points for SDFs, not null"),
    ],
    ids=["image-size-negative", "hidden-negative", "mapping_size-0", "audio-crop-0", "sdf-scale_to-2",
         "sdf-batch_size-null"],
)
def test_bad_option_value_gives_one_line(tmp_path, capsys, gray_png, args, message):
    err = _fit_error(tmp_path, capsys, "--data.path", str(gray_png), *args)
    assert err.strip().splitlines()[-1] == message


@pytest.mark.parametrize(
    "args, key, reason",
    [
        (["--model.network", "inr.nn.networks.Nope"], "model.network",
         "module 'inr.nn.networks' has no attribute 'Nope'"),
        (["--model.network", "nope.Nope"], "model.network", "No module named 'nope'"),
        (["--data", "datamodules.image.Nope"], "data", "module 'datamodules.image' has no attribute 'Nope'"),
        (["--data.nope", "3"], "data", "Option 'nope' is not accepted"),
        (["--trainer.max_steps", "abc"], "trainer.max_steps", "Expected a <class 'int'>. Got value: abc"),
        (["--config", "missing.yaml"], "config", "File does not exist: '.*missing.yaml'"),
    ],
    ids=["network-unknown-class", "network-unknown-module", "data-unknown-class", "data-unknown-option",
         "max_steps-not-int", "config-missing"],
)
def test_unknown_class_path_or_option_names_the_key(tmp_path, capsys, gray_png, args, key, reason):
    # jsonargparse's several-line "Parser key ...: reasons", condensed by inr.cli.main to one line
    err = _fit_error(tmp_path, capsys, "--data.path", str(gray_png), *args)
    (line,) = err.strip().splitlines()
    assert line.startswith(f"inr: error: --{key}: ") and re.search(reason, line), line
    assert line.endswith("(see inr fit --help)") and "Subtypes" not in line


# --- checkpoint / resume -------------------------------------------------------------------------------------------


def test_bad_checkpoints_for_render(tmp_path, capsys):
    from inr.commands.render import main

    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    torch.save({"state_dict": {"w": torch.zeros(1000)}, "hyper_parameters": {}}, tmp_path / "foreign.ckpt")
    whole = (tmp_path / "foreign.ckpt").read_bytes()
    (tmp_path / "cut.ckpt").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(FileNotFoundError, match="checkpoint not found: .*missing.ckpt"):
        load_model(tmp_path / "missing.ckpt")
    with pytest.raises(ValueError, match=r"junk.ckpt is not a readable checkpoint \(torch.load failed: "):
        load_model(tmp_path / "junk.ckpt")
    with pytest.raises(ValueError, match=r"cut.ckpt is not a readable checkpoint \(torch.load failed: "):
        load_model(tmp_path / "cut.ckpt")
    with pytest.raises(ValueError, match="foreign.ckpt was not written by inr fit: its hyper_parameters hold no "
                                         "'signal' description"):
        load_model(tmp_path / "foreign.ckpt")
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "cut.ckpt"), "--out", str(tmp_path / "out.png")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith(f"inr render: error: {tmp_path / 'cut.ckpt'} is not a readable")
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("name", ["missing.ckpt", "junk.ckpt"])
def test_fit_with_a_missing_or_unreadable_ckpt_path_gives_one_line(tmp_path, capsys, gray_png, name):
    from inr.cli import main

    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(SystemExit):
        main(["fit", "--data.path", str(gray_png), "--ckpt_path", str(tmp_path / name), "--trainer.max_steps", "1",
              "--trainer.logger", "false", "--trainer.default_root_dir", str(tmp_path / "runs"), *TINY_MODEL])
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    expected = {"missing.ckpt": "no such checkpoint file",
                "junk.ckpt": "is not a readable checkpoint (torch.load failed: UnpicklingError: "}[name]
    assert last_line.startswith(f"inr: error: --ckpt_path {tmp_path / name}") and expected in last_line


@pytest.mark.parametrize(("datamodule", "what", "suffix"), [(ImageDataModule, "image file", ".png"),
                                                            (AudioDataModule, "audio file", ".wav"),
                                                            (PointCloudDataModule, "shape file", ".ply")])
def test_missing_and_empty_files_are_refused_naming_them(datamodule, what, suffix, tmp_path):
    with pytest.raises(FileNotFoundError, match=f"^{what} not found: .*missing{suffix}$"):
        datamodule(path=str(tmp_path / f"missing{suffix}"))
    (tmp_path / f"empty{suffix}").write_bytes(b"")
    with pytest.raises(ValueError, match=f"^{what} .*empty{suffix} is empty \\(0 bytes\\)$"):
        datamodule(path=str(tmp_path / f"empty{suffix}"))
