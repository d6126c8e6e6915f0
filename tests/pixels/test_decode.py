"""Every kind of source file decodes to the RGB the rules in rses.pixels promise, or stops with one line.

Expected values are computed here by hand with numpy from the stated rule (16-bit: round(v / 257); alpha:
round(255 * (a v + 1 - a)) on white; palette: the palette colour; CMYK: round((255 - C)(255 - K) / 255)).
"""

import cv2
import numpy as np
import pytest
from PIL import Image

from rses.errors import InvalidSampleError
from rses.io import load_image

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)
V16 = RNG.integers(0, 65536, (5, 7, 3), dtype=np.uint16)


def by_hand_16(v):
    return np.floor(v.astype(np.float64) / 257 + 0.5).astype(np.uint8)  # never a tie: v / 257 != k + 0.5


def save16(path, planes):
    """A 16-bit PNG written by OpenCV (BGR(A) order), so Pillow's own 16-bit handling is not the writer."""
    order = {3: [2, 1, 0], 4: [2, 1, 0, 3]}.get(planes.shape[-1] if planes.ndim == 3 else 0)
    cv2.imwrite(str(path), planes[..., order] if order else planes)


def test_grey_8bit_repeats_on_three_channels(tmp_path):
    Image.fromarray(RGB[..., 0], "L").save(tmp_path / "g.png")
    np.testing.assert_array_equal(load_image(tmp_path / "g.png"), np.repeat(RGB[..., :1], 3, axis=2))


@pytest.mark.parametrize("fmt", ["png", "tif"])
def test_16bit_grey_is_divided_by_65535_whatever_its_brightest_pixel(tmp_path, fmt):
    dark = (V16[..., 0] % 240).astype(np.uint16)  # max 239: a dark 16-bit image, not an 8-bit one
    save16(tmp_path / f"d.{fmt}", dark)
    out = load_image(tmp_path / f"d.{fmt}")
    np.testing.assert_array_equal(out, np.repeat(by_hand_16(dark)[..., None], 3, axis=2))
    assert out.max() <= 1


@pytest.mark.parametrize("fmt", ["png", "tif"])
def test_48bit_rgb_is_rounded_not_truncated(tmp_path, fmt):
    v = V16.copy()
    v[0, 0] = [65300, 32767, 32896]  # >> 8 would give 255, 127, 128; round(v / 257) gives 254, 127, 128
    save16(tmp_path / f"c.{fmt}", v)
    out = load_image(tmp_path / f"c.{fmt}")
    np.testing.assert_array_equal(out, by_hand_16(v))
    assert out[0, 0].tolist() == [254, 127, 128]


def test_64bit_rgba_composites_on_white_at_16_bits(tmp_path):
    alpha = RNG.integers(0, 65536, (5, 7, 1), dtype=np.uint16)
    save16(tmp_path / "a.png", np.concatenate([V16, alpha], axis=2))
    a = alpha / 65535
    want = np.floor(255 * (V16 / 65535 * a + (1 - a)) + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(load_image(tmp_path / "a.png"), want)


def test_rgba_8bit_composites_on_white(tmp_path):
    alpha = RNG.integers(0, 256, (5, 7, 1), dtype=np.uint8)
    Image.fromarray(np.concatenate([RGB, alpha], axis=2), "RGBA").save(tmp_path / "a.png")
    want = np.floor((RGB.astype(int) * alpha + 255 * (255 - alpha.astype(int))) / 255 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(load_image(tmp_path / "a.png"), want)


def test_palette_takes_its_colours_and_trns_composites(tmp_path):
    indices = RNG.integers(0, 4, (5, 7), dtype=np.uint8)
    palette = np.array([[10, 20, 30], [200, 100, 0], [0, 255, 0], [90, 90, 90]], np.uint8)
    img = Image.fromarray(indices, "P")
    img.putpalette(palette.ravel().tolist())
    img.save(tmp_path / "p.png")
    np.testing.assert_array_equal(load_image(tmp_path / "p.png"), palette[indices])
    img.save(tmp_path / "t.png", transparency=1)  # index 1 fully transparent: white
    want = np.where((indices == 1)[..., None], 255, palette[indices])
    np.testing.assert_array_equal(load_image(tmp_path / "t.png"), want)


def test_cmyk_uses_pillows_documented_conversion(tmp_path):
    cmyk = RNG.integers(0, 256, (5, 7, 4), dtype=np.uint8)
    Image.fromarray(cmyk, "CMYK").save(tmp_path / "c.tif")
    c = cmyk.astype(np.float64)
    want = np.floor((255 - c[..., :3]) * (255 - c[..., 3:]) / 255 + 0.5)
    np.testing.assert_allclose(load_image(tmp_path / "c.tif"), want, atol=1)  # Pillow's integer rounding


def test_one_bit_and_float_images(tmp_path):
    bits = RGB[..., 0] > 128
    Image.fromarray(bits).save(tmp_path / "b.png")
    np.testing.assert_array_equal(load_image(tmp_path / "b.png")[..., 0], np.where(bits, 255, 0))
    f = (RGB[..., 0] / 255).astype(np.float32)
    Image.fromarray(f, "F").save(tmp_path / "f.tif")
    np.testing.assert_array_equal(load_image(tmp_path / "f.tif")[..., 1], np.round(f * 255).astype(np.uint8))
    Image.fromarray(f * 3, "F").save(tmp_path / "big.tif")
    with pytest.raises(InvalidSampleError, match=r"big.tif holds float values outside \[0, 1\]"):
        load_image(tmp_path / "big.tif")


@pytest.mark.parametrize(
    ("make", "mode"),
    [
        (lambda: Image.fromarray(RGB).convert("LAB"), "LAB"),
        (lambda: Image.fromarray(RGB[..., 0].astype(np.int32) * 100000, "I"), "I"),
    ],
)
def test_unsupported_modes_stop_with_one_line(tmp_path, make, mode):
    make().save(tmp_path / "x.tif")
    with pytest.raises(InvalidSampleError, match=rf"x.tif has colour mode {mode}, which rses does not read"):
        load_image(tmp_path / "x.tif")


def test_manifest_size_check_refuses_unsupported_sources_early(tmp_path):
    from rses.pixels import image_size

    Image.fromarray(RGB).convert("LAB").save(tmp_path / "x.tif")
    with pytest.raises(InvalidSampleError, match="Source .*x.tif has colour mode LAB"):
        image_size(tmp_path / "x.tif", "Source")
    Image.fromarray(RGB).save(tmp_path / "ok.tif")
    assert image_size(tmp_path / "ok.tif") == (7, 5)


def test_16bit_grey_alpha_png_composites_at_16_bits(tmp_path):
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    grey = np.array([[1000, 40000, 65535]], np.uint16)
    alpha = np.array([[65535, 32768, 0]], np.uint16)
    rows = b"\x00" + np.dstack([grey, alpha])[0].astype(">u2").tobytes()  # filter 0, then G A pairs
    header = struct.pack(">IIBBBBB", 3, 1, 16, 4, 0, 0, 0)  # 3 x 1, 16-bit, colour type 4 (grey + alpha)
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
    (tmp_path / "la16.png").write_bytes(png)
    a = alpha / 65535
    want = np.floor(255 * (grey / 65535 * a + (1 - a)) + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(load_image(tmp_path / "la16.png"), np.repeat(want[..., None], 3, axis=2))


@pytest.mark.parametrize("orientation", range(2, 9))
def test_a_tiff_with_an_orientation_tag_stops_with_one_line_not_turned_twice(tmp_path, orientation):
    """Pillow 13 turns RGB and 1-bit TIFFs while loading but not L, P, RGBA or 16-bit ones, and OpenCV turns
    2-4 and fails on 5-8, so a TIFF's orientation tag cannot be applied exactly once: image, mask and size
    reads stop with one line naming the file (before: RGB TIFFs were turned twice, e.g. tag 3 read unturned)."""
    from rses.pixels import image_size, load_mask, stored_frame

    Image.fromarray(RGB).save(tmp_path / "t.tif", tiffinfo={0x0112: orientation})
    Image.fromarray(RGB[..., 0]).save(tmp_path / "m.tif", tiffinfo={0x0112: orientation})
    for read, path in (
        (load_image, "t.tif"),
        (image_size, "t.tif"),
        (stored_frame, "t.tif"),
        (load_mask, "m.tif"),
    ):
        with pytest.raises(
            InvalidSampleError, match=rf"{path} is a TIFF with orientation {orientation},"
        ) as err:
            read(tmp_path / path)
        assert "\n" not in str(err.value)


def test_48bit_tiff_with_an_orientation_tag_stops_and_orientation_1_reads(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(tmp_path / "r.tif", V16, photometric="rgb", extratags=[(0x0112, 3, 1, 3, True)])
    with pytest.raises(InvalidSampleError, match=r"r\.tif is a TIFF with orientation 3"):
        load_image(tmp_path / "r.tif")
    tifffile.imwrite(tmp_path / "r1.tif", V16, photometric="rgb", extratags=[(0x0112, 3, 1, 1, True)])
    np.testing.assert_array_equal(load_image(tmp_path / "r1.tif"), by_hand_16(V16))
    Image.fromarray(RGB).save(tmp_path / "t1.tif", tiffinfo={0x0112: 1})
    np.testing.assert_array_equal(load_image(tmp_path / "t1.tif"), RGB)
