"""Every pixel and fidelity metric takes NumPy arrays (the CPU path: OpenCV filters, no torch) and torch
tensors (the path on a GPU: torch filters), and the two agree.

The branch follows the array type, not the device, so the torch branch runs here on CPU tensors.
Tolerances, all in float64: the masked means and MSEs sum the same products in another order (NumPy's
pairwise sum vs torch's), a relative error of at most ~n * 2^-53 for n <= 10^4 terms, so 1e-12; the Laplacian
adds its 5 taps in another order (1e-15) and ref_gain divides two such MSEs (1e-12); SSIM's box filters differ
by ~1e-16, which its division by variances as small as C2 = 9e-4 after the cancellation E[x^2] - E[x]^2
amplifies ~1e5 times: 1e-10. Masks, boxes and shares of pixels are counts: equal exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rses.metrics import fidelity, pixel, regions
from rses.metrics.arrays import is_tensor

SHAPES = [(3, 37, 29), (3, 8, 64), (1, 16, 16)]


def _inputs(shape, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    source = rng.random(shape).astype(dtype)
    edited = np.clip(source + rng.normal(0, 0.05, shape) * (rng.random(shape[1:]) < 0.5), 0, 1).astype(dtype)
    target = np.clip(source + rng.normal(0, 0.2, shape), 0, 1).astype(dtype)
    mask = np.zeros(shape[1:], bool)
    h, w = shape[1:]
    mask[h // 4 : h // 4 + max(2, h // 3), w // 5 : w // 5 + max(2, w // 2)] = True
    return source, edited, target, mask


def _both(func, *arrays, **kwargs):
    """``func`` on the NumPy arrays and on their CPU tensors; the tensor result as NumPy."""
    got_numpy = func(*arrays, **kwargs)
    got_torch = func(*(torch.from_numpy(a) for a in arrays), **kwargs)
    assert not is_tensor(got_numpy) and (is_tensor(got_torch) or isinstance(got_torch, (float, tuple)))
    return got_numpy, got_torch.numpy() if is_tensor(got_torch) else got_torch


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", [0, 1])
def test_every_pixel_metric_is_equal_on_numpy_arrays_and_torch_tensors(shape, seed, dtype):
    source, edited, target, mask = _inputs(shape, seed, dtype)
    region = regions.background_region(mask, boundary=2)
    for func, args, tol in [
        (pixel.mse_bg, (source, edited, region), 1e-12),
        (lambda *a: pixel.mse_bg(*a, pixel_range="symmetric"), (source, edited, region), 1e-12),
        (pixel.psnr_bg, (source, edited, region), 1e-10),  # 10 log10(1 / mse): 1e-12 relative -> 1e-11 dB
        (pixel.ssim_bg, (source, edited, region), 1e-10),
        (pixel.pixel_consistency, (source, edited, region), 0),
        (fidelity.mse_in, (edited, target, mask), 1e-12),
        (fidelity.ssim_in, (edited, target, mask), 1e-10),
        (fidelity.ref_gain, (source, edited, target, mask), 1e-12),
        (regions.masked_mean, (edited, region), 1e-12),
    ]:
        got_numpy, got_torch = _both(func, *args)
        assert isinstance(got_numpy, float) and got_torch == pytest.approx(got_numpy, abs=tol, rel=tol)


@pytest.mark.parametrize("shape", SHAPES)
def test_the_filters_and_masks_are_equal_on_numpy_arrays_and_torch_tensors(shape):
    source, edited, _, mask = _inputs(shape, 2)
    got_numpy, got_torch = _both(pixel.ssim_map, source, edited)
    np.testing.assert_allclose(got_torch, got_numpy, atol=1e-10, rtol=0)
    got_numpy, got_torch = _both(fidelity.laplacian, edited)
    np.testing.assert_allclose(got_torch, got_numpy, atol=1e-14, rtol=0)
    for pixels in (1, 3, 40):  # 40: erodes everything, so the mask itself comes back
        assert np.array_equal(*_both(fidelity.erode, mask, pixels=pixels))
        assert np.array_equal(*_both(regions.dilate, mask, pixels=pixels))
    assert np.array_equal(*_both(regions.background_region, mask, boundary=1))
    assert _both(regions.padded_box, mask, padding=0.3)[0] == _both(regions.padded_box, mask, padding=0.3)[1]


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_an_identity_edit_is_exact_on_both_kinds(kind):
    source, _, target, mask = _inputs((3, 33, 41), 3)
    convert = torch.from_numpy if kind == "torch" else np.asarray
    source, target, mask = map(convert, (source, target, mask))
    region = ~mask
    assert pixel.mse_bg(source, source, region) == 0.0
    assert pixel.psnr_bg(source, source, region) == pixel.PSNR_MAX
    assert pixel.ssim_bg(source, source, region) == 1.0
    assert pixel.pixel_consistency(source, source, region) == 1.0
    assert fidelity.ref_gain(source, source, target, mask) == 0.0
    assert fidelity.ref_gain(source, target, target, mask) == 1.0
    assert fidelity.mse_in(target, target, mask) == 0.0 and fidelity.ssim_in(target, target, mask) == 1.0


def test_the_caller_arrays_are_not_written():
    source, edited, target, mask = _inputs((3, 20, 20), 4)
    copies = [a.copy() for a in (source, edited, target, mask)]
    pixel.ssim_bg(source, edited, ~mask)
    fidelity.ref_gain(source, edited, target, mask)
    single = source[:1].copy()  # one channel: the float64 (1, H, W) copy must still be a copy
    pixel.ssim_map(single, single)
    assert all(np.array_equal(a, b) for a, b in zip((source, edited, target, mask), copies, strict=True))
    assert np.array_equal(single, source[:1])


def test_a_pixel_suite_scores_on_numpy_without_torch():
    """The suite's own result for pixel metrics is NumPy-computed (the run stays torch-free), a float row."""
    import subprocess
    import sys

    probe = (
        "import sys, numpy as np\n"
        "from rses.metrics import MetricSuite\n"
        "img = np.zeros((16, 16, 3), np.uint8); m = np.zeros((16, 16), bool); m[:4, :4] = True\n"
        "row = MetricSuite(metrics='pixel').score('s', img, 255 - img, m, 'pixel-art', target=img)\n"
        "assert all(type(v) is float for v in row.values()), row\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_masked_mean_ignores_anything_outside_the_region(bad, dtype):
    """The NumPy branch sums float64 maps as a matrix-vector product; a NaN or inf outside the region would
    poison a product (0 * inf), so it must not count: the mean is the hand-computed one inside."""
    values = np.arange(2 * 4 * 5, dtype=dtype).reshape(2, 4, 5)
    region = np.zeros((4, 5), bool)
    region[1:3, 1:4] = True
    expected = values[:, region].astype(np.float64).mean()  # 2 channels x 6 pixels
    values[:, 0, 0] = bad
    for got in _both(regions.masked_mean, values, region):
        assert got == pytest.approx(expected, rel=1e-15)
    values[1, 2, 2] = bad  # inside: it counts
    assert not np.isfinite(regions.masked_mean(values, region))
