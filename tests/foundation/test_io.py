import numpy as np
import pytest
from PIL import Image

from rses.errors import InvalidSampleError
from rses.io import load_image, load_mask, save_image, save_mask, write_atomic


@pytest.mark.parametrize("compress_level", [0, 6, 9])
def test_image_round_trip(tmp_path, compress_level):
    img = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)  # channels differ: RGB order is kept
    save_image(tmp_path / "new" / "a.png", img, compress_level=compress_level)
    np.testing.assert_array_equal(load_image(tmp_path / "new" / "a.png"), img)
    assert Image.open(tmp_path / "new" / "a.png").format == "PNG"
    gray = img[..., 1]
    save_image(tmp_path / "g.png", gray, compress_level=compress_level)
    np.testing.assert_array_equal(load_image(tmp_path / "g.png"), np.repeat(gray[..., None], 3, axis=2))
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.png", "g.png"]  # no temporaries


@pytest.mark.parametrize(("durable", "fsyncs"), [(True, 1), (False, 0)])
def test_write_atomic_fsyncs_only_durable_files(tmp_path, monkeypatch, durable, fsyncs):
    calls = []
    monkeypatch.setattr("rses.io.os.fsync", calls.append)
    write_atomic(tmp_path / "d" / "f.json", "{}", durable=durable)
    assert (tmp_path / "d" / "f.json").read_text() == "{}" and len(calls) == fsyncs
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["f.json"]


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "I;16"])
def test_other_modes_become_rgb_uint8(tmp_path, mode):
    base = Image.fromarray(np.full((4, 5, 3), 200, np.uint8))
    img = (
        base.convert(mode, palette=Image.Palette.ADAPTIVE)
        if mode == "P"
        else base.convert(mode)
        if mode != "I;16"
        else Image.fromarray(np.full((4, 5), 65535, np.uint16))
    )
    img.save(tmp_path / "x.png")
    out = load_image(tmp_path / "x.png")
    assert out.shape == (4, 5, 3) and out.dtype == np.uint8
    assert out.max() == (255 if mode == "I;16" else 200)


def test_exif_rotation_is_applied(tmp_path):
    img = Image.fromarray(np.zeros((2, 6, 3), np.uint8))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    img.save(tmp_path / "r.jpg", exif=exif)
    assert load_image(tmp_path / "r.jpg").shape == (6, 2, 3)


def test_mask_round_trip_and_threshold(tmp_path):
    mask = np.array([[True, False], [False, True]])
    save_mask(tmp_path / "m.png", mask)
    np.testing.assert_array_equal(load_mask(tmp_path / "m.png"), mask)
    Image.fromarray(np.array([[0, 100], [200, 255]], np.uint8)).save(tmp_path / "soft.png")
    with pytest.raises(InvalidSampleError, match=r"not binary \(it has 4 distinct values.*--mask-threshold"):
        load_mask(tmp_path / "soft.png")
    np.testing.assert_array_equal(
        load_mask(tmp_path / "soft.png", threshold=0.5), [[False, False], [True, True]]
    )


def test_corrupt_and_missing_files_are_clear_errors(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(InvalidSampleError, match="cannot be read as an image"):
        load_image(tmp_path / "bad.png")
    with pytest.raises(InvalidSampleError, match="does not exist"):
        load_image(tmp_path / "missing.png")


def test_pixel_limit_stops_decompression_bombs(tmp_path, monkeypatch):
    import rses.pixels

    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "big.png")
    monkeypatch.setattr(rses.pixels, "MAX_PIXELS", 100)
    with pytest.raises(InvalidSampleError, match="400 pixels, over the limit of 100"):
        load_image(tmp_path / "big.png")
