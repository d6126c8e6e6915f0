"""One mask binariser for files and arrays, cutting on the dtype's range; one rule per mask file layout."""

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

import rses.io
from rses import pixels
from rses.errors import InvalidSampleError
from rses.metrics.inputs import as_mask

OBJECT = np.zeros((6, 8), bool)
OBJECT[1:4, 2:6] = True


def test_one_loader_one_binariser():
    assert rses.io.load_mask is pixels.load_mask and rses.io.load_image is pixels.load_image


@pytest.mark.parametrize(
    ("dtype", "below", "above"),
    [
        (np.uint8, 127, 128),  # 0.5 * 255 = 127.5
        (np.uint16, 32767, 32768),  # 0.5 * 65535 = 32767.5
        (np.float32, 0.5, 0.5001),  # strictly above
    ],
)
def test_threshold_cuts_at_half_the_dtype_range_for_arrays_and_files(tmp_path, dtype, below, above):
    values = np.where(OBJECT, above, below).astype(dtype)
    values[0, 0] = 0
    want = OBJECT.copy()
    np.testing.assert_array_equal(pixels.binarize(values, 0.5), want)
    np.testing.assert_array_equal(as_mask("s", values, 0.5), want)
    np.testing.assert_array_equal(
        as_mask("s", torch.from_numpy(values.astype(np.float32)) if dtype == np.float32 else values, 0.5),
        want,
    )
    if dtype != np.float32:
        cv2.imwrite(str(tmp_path / "m.png"), values)
        np.testing.assert_array_equal(pixels.load_mask(tmp_path / "m.png", 0.5), want)
    else:
        Image.fromarray(values, "F").save(tmp_path / "m.tif")
        np.testing.assert_array_equal(pixels.load_mask(tmp_path / "m.tif", 0.5), want)


def test_a_zero_one_uint8_mask_with_a_threshold_is_empty_and_says_why():
    with pytest.raises(
        InvalidSampleError,
        match=r"Sample s: mask is empty .*threshold 0.5 on its uint8 range "
        r"\(its largest value is 1\)",
    ):
        as_mask("s", OBJECT.astype(np.uint8), 0.5)
    np.testing.assert_array_equal(as_mask("s", OBJECT.astype(np.uint8)), OBJECT)  # binary: no threshold


def test_thresholds_on_rangeless_or_out_of_range_values_are_errors():
    with pytest.raises(InvalidSampleError, match="dtype int64, which has no defined value range"):
        as_mask("s", OBJECT.astype(np.int64) * 7, 0.5)
    np.testing.assert_array_equal(as_mask("s", OBJECT.astype(np.int64) * 7), OBJECT)
    with pytest.raises(InvalidSampleError, match=r"float mask with values outside \[0, 1\] .*max 255"):
        as_mask("s", OBJECT * 255.0, 0.5)


def _rgba(grey, alpha):
    return np.dstack([grey, grey, grey, alpha]).astype(np.uint8)


def test_alpha_is_the_mask_unless_fully_opaque(tmp_path):
    cutout = _rgba(np.full(OBJECT.shape, 80), np.where(OBJECT, 255, 0))  # a matting tool's cut-out
    Image.fromarray(cutout, "RGBA").save(tmp_path / "cut.png")
    np.testing.assert_array_equal(pixels.load_mask(tmp_path / "cut.png"), OBJECT)
    opaque = _rgba(np.where(OBJECT, 255, 0), np.full(OBJECT.shape, 255))
    Image.fromarray(opaque, "RGBA").save(tmp_path / "opaque.png")
    np.testing.assert_array_equal(pixels.load_mask(tmp_path / "opaque.png"), OBJECT)
    Image.fromarray(opaque[..., [0, 3]], "LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(pixels.load_mask(tmp_path / "la.png"), OBJECT)
    soft_alpha = np.where(OBJECT, 200, 30).astype(np.uint8)
    Image.fromarray(np.dstack([soft_alpha, soft_alpha]), "LA").save(tmp_path / "soft.png")
    np.testing.assert_array_equal(pixels.load_mask(tmp_path / "soft.png", 0.5), soft_alpha > 127.5)


def test_palette_and_rgb_masks_must_be_grey(tmp_path):
    img = Image.fromarray(OBJECT.astype(np.uint8), "P")
    img.putpalette([0, 0, 0, 255, 255, 255])
    img.save(tmp_path / "grey.png")
    np.testing.assert_array_equal(pixels.load_mask(tmp_path / "grey.png"), OBJECT)
    img.putpalette([0, 0, 0, 128, 0, 0])  # a VOC-style colour label map
    img.save(tmp_path / "label.png")
    with pytest.raises(
        InvalidSampleError, match=r"label.png is coloured \(12 pixels .* \(128, 0, 0\) at row 1"
    ):
        pixels.load_mask(tmp_path / "label.png")
    Image.fromarray(np.repeat(np.where(OBJECT, 255, 0).astype(np.uint8)[..., None], 3, 2)).save(
        tmp_path / "g.png"
    )
    np.testing.assert_array_equal(pixels.load_mask(tmp_path / "g.png"), OBJECT)


def test_cmyk_masks_are_refused(tmp_path):
    Image.fromarray(np.zeros((*OBJECT.shape, 4), np.uint8), "CMYK").save(tmp_path / "m.tif")
    with pytest.raises(InvalidSampleError, match="colour mode CMYK, which rses does not read"):
        pixels.load_mask(tmp_path / "m.tif")


@pytest.mark.parametrize("orientation", range(1, 9))
def test_masks_and_images_turn_exactly_as_pillow_exif_transpose(tmp_path, orientation):
    from PIL import ImageOps

    pattern = np.zeros((6, 8), np.uint8)
    pattern[1:3, 2:7] = 255
    pattern[4, 0] = 255  # asymmetric, so each of the 8 orientations differs
    img = Image.fromarray(pattern, "L")
    exif = img.getexif()
    exif[0x0112] = orientation
    img.save(tmp_path / "m.png", exif=exif)
    want = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "m.png")))
    np.testing.assert_array_equal(pixels.load_mask(tmp_path / "m.png"), want > 0)
    np.testing.assert_array_equal(pixels.load_image(tmp_path / "m.png")[..., 0], want)
    assert pixels.image_size(tmp_path / "m.png") == (want.shape[1], want.shape[0])
    np.testing.assert_array_equal(pixels.orient(pattern, orientation), want)


def test_images_of_rangeless_integer_dtypes_are_refused_by_name():
    from rses.metrics.inputs import as_image

    with pytest.raises(
        InvalidSampleError, match="Sample s: source image has dtype int64, which has no defined"
    ):
        as_image("s", "source", np.zeros((4, 4, 3), np.int64))
    u16 = np.array([[[0, 128, 129]]], np.uint16)
    assert as_image("s", "source", u16)[1].tolist() == [[[0, 0, 1]]]  # round(v / 257), as 16-bit files
