"""Classical stylizers: shape/dtype kept, deterministic, visibly different, exact on hand-made inputs."""

import numpy as np
import pytest

from baselines.stylize import STYLIZERS, cyberpunk, expressionism, get_stylizer, line_art, pixel_art
from rses.data.manifest import STYLES
from rses.errors import UsageError


@pytest.fixture(scope="module")
def photo():
    from rses.data.builtin import load_photo

    return load_photo("coffee")


def test_registry_covers_the_paper_styles():
    assert set(STYLIZERS) == set(STYLES)
    with pytest.raises(
        UsageError, match="Unknown style 'oil'.*cyberpunk, expressionism, line-art, pixel-art"
    ):
        get_stylizer("oil")


@pytest.mark.parametrize("style", STYLES)
def test_shape_dtype_determinism_and_visible_change(photo, style):
    out = STYLIZERS[style](photo)
    assert out.shape == photo.shape and out.dtype == np.uint8
    assert np.array_equal(out, STYLIZERS[style](photo.copy()))
    assert np.abs(out.astype(int) - photo).mean() > 10


@pytest.mark.parametrize("style", STYLES)
def test_rejects_non_rgb(style):
    with pytest.raises(ValueError, match=r"expected an \(H, W, 3\) uint8 RGB image, got shape \(4, 4\)"):
        STYLIZERS[style](np.zeros((4, 4), np.uint8))


def test_pixel_art_blocks_and_palette(photo):
    out = pixel_art(np.ascontiguousarray(photo[:64, :64]), block=8, colors=4)
    assert len(np.unique(out.reshape(-1, 3), axis=0)) <= 4
    cells = out.reshape(8, 8, 8, 8, 3)
    assert (cells == cells[:, :1, :, :1]).all()  # constant 8x8 cells
    img = np.zeros((4, 4, 3), np.uint8)
    img[:, 2:] = 200
    assert pixel_art(img, block=2, colors=2)[..., 0].tolist() == [[0, 0, 200, 200]] * 4


def test_line_art_is_grey_ink_on_white():
    img = np.full((16, 16, 3), 255, np.uint8)
    img[:, 8:] = 0
    out = line_art(img)
    assert (out[..., 0] == out[..., 1]).all() and (out[:, :4] == 255).all() and (out[:, 12:] < 50).all()


def test_cyberpunk_maps_black_to_violet_and_white_to_cyan_glow():
    assert cyberpunk(np.zeros((4, 4, 3), np.uint8))[0, 0].tolist() == [14, 3, 38]
    white = cyberpunk(np.full((4, 4, 3), 255, np.uint8))[0, 0]
    assert white[1] > 200 and white[2] > 200  # cyan highlights


def test_expressionism_flat_grey_and_saturation_boost():
    assert expressionism(np.full((6, 6, 3), 100, np.uint8))[0, 0].tolist() == [93, 93, 93]
    muted = np.zeros((6, 6, 3), np.uint8)
    muted[:] = (150, 110, 100)
    out = expressionism(muted)[0, 0].astype(int)
    assert out[0] - out[2] > 50  # more saturated than the input's 50
