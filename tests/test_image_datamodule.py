from pathlib import Path

import imageio.v3 as iio
import numpy as np
import png
import pytest
import torch

from datamodules.image import ImageDataModule, pixel_grid, read_image


def _write_png16(path: Path, pixels: np.ndarray) -> None:
    height, width, channels = pixels.shape
    writer = png.Writer(width, height, greyscale=channels in (1, 2), alpha=channels in (2, 4), bitdepth=16)
    with open(path, "wb") as file:
        writer.write(file, pixels.reshape(height, width * channels).tolist())


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_png16_of_every_channel_count_keeps_full_precision(tmp_path, channels):
    pixels = np.random.default_rng(0).integers(0, 65536, size=(5, 7, channels), dtype=np.uint16)
    pixels[0, 0, 0] = 257  # would read as 1/255 if truncated to 8 bits
    path = tmp_path / "deep.png"
    _write_png16(path, pixels)
    image = read_image(path)
    assert image.shape == (5, 7, channels)
    np.testing.assert_allclose(image, pixels / 65535.0, atol=1e-7)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("shape", [(6, 5), (6, 5, 3), (6, 5, 4)])
def test_8bit_images_gray_rgb_rgba(tmp_path, suffix, shape):
    pixels = np.random.default_rng(1).integers(0, 256, size=shape, dtype=np.uint8)
    path = tmp_path / f"image{suffix}"
    iio.imwrite(path, pixels)
    image = read_image(path)
    assert image.shape == (6, 5, 1 if len(shape) == 2 else shape[2])
    np.testing.assert_allclose(image.reshape(pixels.shape), pixels / 255.0, atol=1e-7)


def test_16bit_gray_tiff_and_jpeg(tmp_path):
    deep = np.arange(30, dtype=np.uint16).reshape(6, 5) * 2000
    iio.imwrite(tmp_path / "deep.tif", deep)
    np.testing.assert_allclose(read_image(tmp_path / "deep.tif")[..., 0], deep / 65535.0, atol=1e-7)
    iio.imwrite(tmp_path / "photo.jpg", np.full((8, 8, 3), 128, dtype=np.uint8))
    np.testing.assert_allclose(read_image(tmp_path / "photo.jpg"), 128 / 255.0, atol=3 / 255)


def test_signal_values_coords_and_spec(rgb_png):
    data = ImageDataModule(path=str(rgb_png))
    tensors = data.signal_tensors()
    assert tensors["coords"].shape == (12 * 16, 2) and tensors["values"].shape == (12 * 16, 3)
    assert tensors["values"].min() >= -1 and tensors["values"].max() <= 1
    assert tensors["coords"][0].tolist() == [-1.0, -1.0] and tensors["coords"][-1].tolist() == [1.0, 1.0]
    assert tensors["coords"][1, 1] > tensors["coords"][0, 1] and tensors["coords"][1, 0] == -1  # x along a row
    spec = data.signal_spec
    assert (spec.shape, spec.out_dim, spec.in_dim) == ((12, 16), 3, 2)


def test_default_is_cameraman_and_resize_keeps_aspect(rgb_png):
    data = ImageDataModule(size=64)
    assert (data.height, data.width, data.channels) == (64, 64, 1)
    assert ImageDataModule(path=str(rgb_png), size=8).pixels.shape == (6, 8, 3)


def test_random_batches_are_reproducible_and_differ_across_ranks_and_steps(gray_png):
    data = ImageDataModule(path=str(gray_png), batch_size=64, seed=3)
    device = torch.device("cpu")
    first = data.sample(device, step=5, rank=0)["coords"]
    assert first.shape == (64, 2)
    assert torch.equal(first, data.sample(device, step=5, rank=0)["coords"])
    assert not torch.equal(first, data.sample(device, step=5, rank=1)["coords"])
    assert not torch.equal(first, data.sample(device, step=6, rank=0)["coords"])
    full = ImageDataModule(path=str(gray_png)).sample(device, step=0, rank=0)
    assert full["coords"].shape == (32 * 32, 2)


def test_pixel_grid_is_linspace():
    grid = pixel_grid(3, 2)
    assert grid.tolist() == [[-1, -1], [-1, 1], [0, -1], [0, 1], [1, -1], [1, 1]]  # (y, x), row-major


def test_bad_images_give_clear_errors(tmp_path):  # missing and empty files: test_bad_input.py
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(ValueError, match="cannot read image file .*text.png"):
        ImageDataModule(path=str(tmp_path / "text.png"))
    good = tmp_path / "good.png"
    iio.imwrite(good, np.zeros((8, 8), dtype=np.uint8))
    (tmp_path / "truncated.png").write_bytes(good.read_bytes()[:40])
    with pytest.raises(ValueError, match="cannot read image file .*truncated.png"):
        ImageDataModule(path=str(tmp_path / "truncated.png"))
    with pytest.raises(ValueError, match="batch_size must be a positive number of points"):
        ImageDataModule(path=str(good), batch_size=-4)
    with pytest.raises(ValueError, match="data size must be >= 1"):
        ImageDataModule(path=str(good), size=0)


@pytest.mark.parametrize("value_range", [(0.0, 1.0), (-1.0, 1.0), (-3.0, 5.0)])
def test_value_range_maps_pixels_and_renders_back(rgb_png, tmp_path, value_range):
    data = ImageDataModule(path=str(rgb_png), value_range=value_range)
    values = data.signal_tensors()["values"]
    low, high = value_range
    pixels = torch.from_numpy(data.pixels).reshape(-1, 3)
    torch.testing.assert_close(values, low + pixels * (high - low))
    spec = data.signal_spec
    assert spec.value_range == value_range
    out = tmp_path / "back.png"
    data.render_to_file(lambda coords: values, spec, str(out), None)
    np.testing.assert_array_equal(iio.imread(out), iio.imread(rgb_png))


def test_bad_value_range_is_refused(rgb_png):
    with pytest.raises(ValueError, match=r"value_range must be finite \(low, high\) with low < high, got \[1.0, 0.0\]"):
        ImageDataModule(path=str(rgb_png), value_range=(1.0, 0.0))
