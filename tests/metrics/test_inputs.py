import numpy as np
import pytest
import torch
from metrics_kit import box_mask

from rses.errors import InvalidSampleError
from rses.metrics import RSES

IMG = np.zeros((16, 16, 3), np.uint8)
MASK = box_mask(16, 4, 8, 4, 8)


def score(source=IMG, edited=IMG, mask=MASK, target=None, **options):
    return RSES(metrics="pixel", **options).score("cat-7", source, edited, mask, "pixel-art", target)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mask": np.zeros((16, 16), bool)}, "cat-7: mask is empty"),
        ({"mask": np.ones((16, 16), bool)}, "cat-7: mask covers the whole image"),
        ({"mask": np.linspace(0, 1, 256).reshape(16, 16)}, "cat-7: mask is not binary .*mask_threshold"),
        ({"mask": box_mask(8, 2, 4, 2, 4)}, r"cat-7: mask is \(8, 8\) .* source image is \(16, 16\)"),
        ({"edited": np.zeros((8, 16, 3), np.uint8)}, r"cat-7: edited image is \(8, 16\)"),
        ({"target": np.zeros((16, 8, 3), np.uint8)}, r"cat-7: target image is \(16, 8\)"),
        ({"edited": np.full((16, 16, 3), np.nan, np.float32)}, "cat-7: edited image has 768 NaN/Inf"),
        ({"source": np.full((16, 16, 3), np.inf)}, "cat-7: source image has 768 NaN/Inf"),
        ({"edited": np.zeros((16, 16, 4), np.uint8)}, "cat-7: edited image has shape .*4 channels"),
        ({"source": np.zeros((16, 16), np.uint8)}, "cat-7: source image .*2 dimensions"),
        ({"edited": np.full((16, 16, 3), 255.0)}, r"cat-7: edited float image must lie in \[0, 1\].*max 255"),
        ({"mask": np.where(MASK, np.nan, 0.0)}, "cat-7: mask has NaN/Inf"),
    ],
)
def test_bad_input_names_sample_and_problem(kwargs, match):
    with pytest.raises(InvalidSampleError, match=match):
        score(**kwargs)


def test_soft_mask_is_scored_with_threshold():
    soft = np.where(MASK, 0.9, 0.1)
    with pytest.raises(InvalidSampleError, match="not binary"):
        score(mask=soft)
    assert score(mask=soft, mask_threshold=0.5) == score()


def test_two_valued_numeric_mask_and_chw_float_tensors_are_accepted():
    src = torch.rand(3, 16, 16)
    edt = src.clone()
    edt[:, 0, 0] = 0.0
    got = RSES(metrics=["mse_bg"]).score("s", src, edt, MASK.astype(np.uint8) * 255, "x")["mse_bg"]
    want = float((src[:, 0, 0].double() ** 2).sum()) / (3 * (~MASK).sum())
    assert got == pytest.approx(want, rel=1e-6)
