"""The low-level metric functions take (C, H, W) float images in [0, 1] and (H, W) bool masks, as NumPy arrays
or torch tensors; an (H, W, 3) uint8 image, a channels-last float image or a nested list there is named with its
shape and the way to get the arrays, not a broadcasting error from inside."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rses.errors import InvalidSampleError
from rses.metrics import mse_bg, prepare_sample, ssim_bg


def _sample():
    image = np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    mask = np.zeros((16, 16), bool)
    mask[4:8, 4:8] = True
    return image, mask


@pytest.mark.parametrize("kind", ["uint8", "channels-last float", "list"])
@pytest.mark.parametrize("func", [mse_bg, ssim_bg])
def test_an_image_of_another_layout_is_named(func, kind):
    image, mask = _sample()
    array = np.moveaxis(image, -1, 0) / 255
    wrong = {"uint8": image, "channels-last float": image / 255, "list": image.tolist()}[kind]
    with pytest.raises(
        InvalidSampleError, match=r"edited=.*\(16, 16, 3\).*\(C, H, W\) float.*prepare_sample"
    ):
        func(array, wrong, ~mask)


def test_a_mask_of_another_dtype_is_named():
    image, mask = _sample()
    array = np.moveaxis(image, -1, 0) / 255
    with pytest.raises(InvalidSampleError, match=r"region=.*uint8 array of shape \(16, 16\).*\(H, W\) bool"):
        mse_bg(array, array, mask.astype(np.uint8))


@pytest.mark.parametrize("kind", ["numpy", "tensor", "mixed"])
def test_the_prepared_arrays_and_their_tensors_are_accepted(kind):
    image, mask = _sample()
    s = prepare_sample("a", image, 255 - image, mask)
    source, edited, region = s.source, s.edited, ~s.mask
    if kind != "numpy":  # mixed: NumPy images with a tensor mask compute as tensors
        region = torch.from_numpy(region)
        source, edited = (source, edited) if kind == "mixed" else map(torch.from_numpy, (source, edited))
    expected = ((255 - 2 * image.astype(np.float64)) / 255) ** 2  # (edited - source)^2 on [0, 1] pixels
    # float32 arithmetic on [0, 1] values: relative 1e-5 covers its rounding
    assert mse_bg(source, edited, region) == pytest.approx(expected[~mask].mean(), rel=1e-5)
