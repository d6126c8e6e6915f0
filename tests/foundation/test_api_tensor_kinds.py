"""The low-level metric functions take torch tensors ((3, H, W) in [0, 1], (H, W) bool); a numpy image or a
nested list there is named with its shape and the way to get tensors, not an AttributeError from inside."""

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


@pytest.mark.parametrize("kind", ["numpy", "list"])
@pytest.mark.parametrize("func", [mse_bg, ssim_bg])
def test_a_numpy_image_where_a_tensor_is_expected_is_named(func, kind):
    image, mask = _sample()
    tensor = torch.from_numpy(image).permute(2, 0, 1).float() / 255
    wrong = image if kind == "numpy" else image.tolist()
    with pytest.raises(InvalidSampleError, match=r"edited=.*expected a torch.Tensor.*prepare_sample"):
        func(tensor, wrong, torch.from_numpy(~mask))


def test_the_prepared_tensors_are_accepted():
    image, mask = _sample()
    s = prepare_sample("a", image, 255 - image, mask)
    expected = ((255 - 2 * image.astype(np.float64)) / 255) ** 2  # (edited - source)^2 on [0, 1] pixels
    # float32 arithmetic on [0, 1] values: relative 1e-5 covers its rounding
    assert mse_bg(s.source, s.edited, ~s.mask) == pytest.approx(expected[~mask].mean(), rel=1e-5)
