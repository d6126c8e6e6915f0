"""A file path (or any non-array) passed where the Python API expects an image or mask says what was passed
and what is expected, for every public function of rses.metrics that takes arrays."""

from pathlib import Path

import numpy as np
import pytest
import torch

import rses.metrics as M
from rses.errors import InvalidSampleError, RsesError

SRC_T = torch.zeros(3, 8, 8)
SRC_U8 = np.zeros((8, 8, 3), np.uint8)
MASK = torch.zeros(8, 8, dtype=torch.bool)
MASK[:4, :4] = True

# function -> its arguments with the first array replaced by a path string
CALLS = {
    "mse_bg": lambda p: M.mse_bg(p, SRC_T, ~MASK),
    "psnr_bg": lambda p: M.psnr_bg(SRC_T, p, ~MASK),
    "ssim_bg": lambda p: M.ssim_bg(p, SRC_T, ~MASK),
    "pixel_consistency": lambda p: M.pixel_consistency(SRC_T, SRC_T, p),
    "mse_in": lambda p: M.mse_in(p, SRC_T, MASK),
    "ssim_in": lambda p: M.ssim_in(SRC_T, p, MASK),
    "ref_gain": lambda p: M.ref_gain(p, SRC_T, SRC_T, MASK),
    "lpips_in": lambda p: M.lpips_in(None, p, SRC_T, MASK),
    "lpips_bg": lambda p: M.lpips_bg(None, p, SRC_T, MASK),
    "rsm": lambda p: M.rsm(None, p, MASK, "pixel-art"),
    "rsm_gain": lambda p: M.rsm_gain(None, SRC_U8, p, MASK, "pixel-art"),
    "style_leakage": lambda p: M.style_leakage(None, p, SRC_U8, MASK, "pixel-art"),
    "prepare_sample": lambda p: M.prepare_sample("s0", p, SRC_U8, MASK.numpy()),
    "prepare_sample mask": lambda p: M.prepare_sample("s0", SRC_U8, SRC_U8, p),
    "RSES.score": lambda p: M.RSES(metrics="pixel").score("s0", p, SRC_U8, MASK.numpy(), "pixel-art"),
    "RSES.score mask": lambda p: M.RSES(metrics="pixel").score("s0", SRC_U8, SRC_U8, p, "pixel-art"),
}


@pytest.mark.parametrize("path", ["photos/a.png", Path("photos/a.png")], ids=["str", "Path"])
@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_path_where_an_array_is_expected_says_what_was_passed(name, path):
    with pytest.raises(RsesError) as info:
        CALLS[name](path)
    message = str(info.value)
    assert "photos/a.png" in message  # what was passed
    assert "array" in message or "tensor" in message.lower()  # what is expected
    assert "load_image" in message or "load_mask" in message  # how to get one from a file
    assert "shape ()" not in message


def test_the_error_is_an_invalid_sample_error_for_the_sample_api():
    with pytest.raises(InvalidSampleError, match="Sample s0: source image is a str"):
        M.prepare_sample("s0", "a.png", SRC_U8, MASK.numpy())


@pytest.mark.parametrize("value, kind", [(None, "NoneType"), ({"a": 1}, "dict"), (3.0, "float")])
def test_other_non_arrays_name_their_type(value, kind):
    with pytest.raises(RsesError, match=kind):
        M.mse_bg(value, SRC_T, ~MASK)
