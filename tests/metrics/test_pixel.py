import math

import numpy as np
import pytest
import torch
from metrics_kit import box_mask, photo
from skimage.metrics import structural_similarity

from rses.metrics import RSES, select_metrics
from rses.metrics.pixel import PSNR_MAX, ssim_map

PIXEL = ["mse_bg", "psnr_bg", "ssim_bg", "pixel_consistency"]


def test_masked_pixel_metrics_equal_hand_computed_values():
    src = np.zeros((8, 8, 3), np.uint8)
    edt = src.copy()
    edt[0, 0] = [51, 0, 0]  # background, change 0.2 in one channel
    edt[0, 1] = [2, 2, 2]  # background, within tolerance
    edt[7, 7] = [255, 255, 255]  # object: must not count
    mask = np.zeros((8, 8), bool)
    mask[4:, 4:] = True
    got = RSES(metrics=PIXEL).score("hand", src, edt, mask, "x")
    mse = (0.2**2 + 3 * (2 / 255) ** 2) / (48 * 3)
    assert got["mse_bg"] == pytest.approx(mse, rel=1e-6)
    assert got["psnr_bg"] == pytest.approx(10 * math.log10(1 / mse), rel=1e-6)
    assert got["pixel_consistency"] == 47 / 48
    sk = structural_similarity(src / 255, edt / 255, channel_axis=-1, data_range=1, full=True)[1]
    assert got["ssim_bg"] == pytest.approx(sk[~mask].mean(), abs=1e-7)


def test_ssim_map_matches_scikit_image_on_a_photo():
    a, b = photo("astronaut", 48), photo("coffee", 48)
    ours = ssim_map(torch.from_numpy(a).permute(2, 0, 1) / 255, torch.from_numpy(b).permute(2, 0, 1) / 255)
    ref = structural_similarity(a / 255, b / 255, channel_axis=-1, data_range=1, full=True)[1]
    np.testing.assert_allclose(ours.permute(1, 2, 0).numpy(), ref, atol=1e-6)


def test_identity_is_perfect_preservation():
    img = photo()
    got = RSES(metrics="pixel").score("id", img, img, box_mask(), "x", target=img)
    assert (got["mse_bg"], got["psnr_bg"], got["pixel_consistency"]) == (0.0, PSNR_MAX, 1.0)
    assert got["ssim_bg"] == pytest.approx(1.0, abs=1e-12)


def test_changes_inside_the_mask_leave_background_metrics_exactly_unchanged():
    src, mask = photo(), box_mask()
    edt = src.copy()
    edt[::7] = 255 - edt[::7]
    changed = edt.copy()
    changed[mask] = 0
    rses = RSES(metrics=["mse_bg", "psnr_bg", "pixel_consistency"])
    assert rses.score("a", src, edt, mask, "x") == rses.score("a", src, changed, mask, "x")


def test_symmetric_pixel_range_reproduces_the_four_times_scale():
    src, mask = photo(), box_mask()
    edt = photo("coffee")
    unit = RSES(metrics=["mse_bg", "psnr_bg"]).score("a", src, edt, mask, "x")
    sym = RSES(metrics=["mse_bg", "psnr_bg"], pixel_range="symmetric").score("a", src, edt, mask, "x")
    assert sym["mse_bg"] == pytest.approx(4 * unit["mse_bg"])
    assert sym["psnr_bg"] == unit["psnr_bg"]


def test_target_metrics_are_nan_without_target_and_exact_with_it():
    src, mask = photo(), box_mask()
    tgt = src.copy()
    tgt[mask] = 255
    no_target = RSES(metrics=["mse_in", "ref_gain", "rses_ref"]).score("a", src, src, mask, "x")
    assert all(math.isnan(v) for v in no_target.values())
    half = ((src.astype(float) + tgt) / 2).round().astype(np.uint8)
    got = RSES(metrics=["mse_in", "ssim_in", "ref_gain"]).score("a", src, half, mask, "x", target=tgt)
    assert got["mse_in"] == pytest.approx(((half[mask] / 255 - 1.0) ** 2).mean(), rel=1e-5)
    assert got["ref_gain"] == pytest.approx(0.75, abs=0.01)
    assert RSES(metrics=["ssim_in"]).score("a", src, tgt, mask, "x", target=tgt)["ssim_in"] == pytest.approx(
        1.0
    )


def test_pixel_group_needs_no_weights():
    rses = RSES(metrics="pixel")
    assert rses.weights() == []
    rses.check_weights()
    assert "rses_ref" in select_metrics("pixel")
