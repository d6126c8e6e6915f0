"""Property tests: any image file either loads as (H, W, 3) uint8 RGB or raises InvalidSampleError."""

import io

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from rses.errors import InvalidSampleError
from rses.io import load_image, load_mask

MODES = ["RGB", "RGBA", "L", "LA", "P", "I;16", "1", "CMYK"]


def encode(array: np.ndarray, mode: str, fmt: str) -> bytes:
    img = Image.fromarray(array)
    if mode == "I;16":
        img = Image.fromarray(array[..., 0].astype(np.uint16) * 257)
    elif mode == "P":
        img = img.convert("P", palette=Image.Palette.ADAPTIVE)
    elif mode != "RGB":
        img = img.convert(mode)
    if fmt == "JPEG" and img.mode not in {"RGB", "L", "CMYK"}:
        img = img.convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


images = arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12), st.just(3)))


@settings(max_examples=60, deadline=None)
@given(array=images, mode=st.sampled_from(MODES), fmt=st.sampled_from(["PNG", "JPEG", "TIFF", "BMP"]))
def test_every_mode_and_format_loads_as_rgb_uint8(tmp_path_factory, array, mode, fmt):
    try:
        data = encode(array, mode, fmt)
    except (OSError, KeyError):  # this format cannot store this mode; nothing to load
        assume(False)
    path = tmp_path_factory.mktemp("img") / f"x.{fmt.lower()}"
    path.write_bytes(data)
    out = load_image(path)
    assert out.dtype == np.uint8 and out.shape == (*array.shape[:2], 3)


@settings(max_examples=60, deadline=None)
@given(array=images, cut=st.floats(0.0, 0.95), flip=st.integers(0, 255))
def test_truncated_or_corrupted_files_raise_invalid_sample_or_load(tmp_path_factory, array, cut, flip):
    data = bytearray(encode(array, "RGB", "PNG"))
    data = data[: max(1, int(len(data) * cut))]
    if len(data) > 20:
        data[len(data) // 2] ^= flip
    path = tmp_path_factory.mktemp("bad") / "x.png"
    path.write_bytes(bytes(data))
    for loader in (load_image, load_mask):
        try:
            out = loader(path)
        except InvalidSampleError as err:
            assert str(path) in str(err)
        else:
            assert out.shape[:2] == array.shape[:2]


@settings(max_examples=40, deadline=None)
@given(mask=arrays(np.bool_, st.tuples(st.integers(1, 10), st.integers(1, 10))), high=st.integers(1, 255))
def test_binary_masks_of_any_foreground_value_load_exactly(tmp_path_factory, mask, high):
    path = tmp_path_factory.mktemp("mask") / "m.png"
    Image.fromarray(np.where(mask, high, 0).astype(np.uint8), mode="L").save(path)
    np.testing.assert_array_equal(load_mask(path), mask)


@settings(max_examples=40, deadline=None)
@given(array=images, mode=st.sampled_from(MODES), fmt=st.sampled_from(["PNG", "TIFF"]))
def test_every_mode_loads_as_a_mask_or_raises_naming_the_file(tmp_path_factory, array, mode, fmt):
    try:
        data = encode(array, mode, fmt)
    except (OSError, KeyError):
        assume(False)
    path = tmp_path_factory.mktemp("m") / f"m.{fmt.lower()}"
    path.write_bytes(data)
    try:
        out = load_mask(path, threshold=0.5)
    except InvalidSampleError as err:
        assert str(path) in str(err)
    else:
        assert out.dtype == bool and out.shape == array.shape[:2]


@settings(max_examples=40, deadline=None)
@given(
    values=arrays(np.uint16, st.tuples(st.integers(1, 9), st.integers(1, 9))),
    cut=st.floats(0.0, 1.0),
    fmt=st.sampled_from(["png", "tif"]),
)
def test_16bit_files_decode_and_threshold_on_65535(tmp_path_factory, values, cut, fmt):
    import cv2

    path = tmp_path_factory.mktemp("d") / f"x.{fmt}"
    cv2.imwrite(str(path), values)
    by_hand = np.floor(values / 257 + 0.5).astype(np.uint8)  # round(v / 257); v / 257 is never k + 1/2
    np.testing.assert_array_equal(load_image(path), np.repeat(by_hand[..., None], 3, axis=2))
    np.testing.assert_array_equal(load_mask(path, threshold=cut), values > cut * 65535)
