"""LPIPS and CLIP metrics against direct calls of the tiny lpips / open_clip models, invariants and caching."""

import numpy as np
import pytest
import torch
from metrics_kit import box_mask, photo, posterize
from PIL import Image

from rses.metrics import RSES
from rses.metrics.regions import padded_box
from rses.metrics.rsm import style_text
from rses.testing import tiny_open_clip
from rses.testing.lpips import tiny_lpips

CLIP_METRICS = ["rsm", "rsm_strict", "rsm_gain", "style_leakage"]


def suite(clip_backend, lpips_backend, metrics="all", **options):
    return RSES(metrics=metrics, clip_backend=clip_backend, lpips_backend=lpips_backend, **options)


def test_lpips_bg_equals_direct_spatial_lpips_call(lpips_backend):
    src, edt, mask = photo(), photo("coffee"), box_mask()
    direct = tiny_lpips(seed=0)
    direct.spatial = True
    t = [torch.from_numpy(x).permute(2, 0, 1)[None].float() / 255 * 2 - 1 for x in (src, edt)]
    with torch.no_grad():
        ref = direct(t[0], t[1])[0, 0][torch.from_numpy(~mask)].mean()
    got = suite(None, lpips_backend, ["lpips_bg"]).score("a", src, edt, mask, "x")["lpips_bg"]
    assert got == pytest.approx(float(ref), abs=1e-5)


def test_rsm_equals_direct_open_clip_calls(clip_backend):
    src, mask = photo(), box_mask()
    tiny = tiny_open_clip(seed=0)
    top, bottom, left, right = padded_box(torch.from_numpy(mask), 0.1)
    assert (top, bottom, left, right) == (14, 42, 18, 46)
    with torch.no_grad():
        img = tiny.model.encode_image(tiny.preprocess(Image.fromarray(src[top:bottom, left:right]))[None])
        txt = tiny.model.encode_text(tiny.tokenizer(["a pixel art style image"]))
        ref = (1 + torch.nn.functional.cosine_similarity(img, txt)) / 2
    got = suite(clip_backend, None, ["rsm"]).score("a", src, src, mask, "pixel-art")["rsm"]
    assert style_text("pixel-art") == "a pixel art style image"
    assert got == pytest.approx(float(ref), abs=1e-5)


def test_identity_edit_invariants(clip_backend, lpips_backend):
    src, mask = photo(), box_mask()
    got = suite(clip_backend, lpips_backend).score("id", src, src, mask, "cyberpunk", target=posterize(src))
    assert got["lpips_bg"] == 0.0 and got["mse_bg"] == 0.0 and got["pixel_consistency"] == 1.0
    assert got["rsm_gain"] == 0.0 and got["style_leakage"] == 0.0
    assert got["rses"] == 0.0 and got["rses_ref"] == 0.0 and got["ref_gain"] == 0.0


def test_lpips_bg_ignores_changes_inside_mask_when_band_covers_receptive_field(lpips_backend):
    size, mask = 320, np.zeros((320, 320), bool)
    mask[:24, :24] = True
    src, edt = photo("astronaut", size), photo("coffee", size)
    changed = edt.copy()
    changed[mask] = 0
    near = suite(None, lpips_backend, ["lpips_bg"])
    assert near.score("a", src, edt, mask, "x") != near.score("a", src, changed, mask, "x")
    banded = suite(None, lpips_backend, ["lpips_bg"], boundary=200)
    assert banded.score("a", src, edt, mask, "x") == banded.score("a", src, changed, mask, "x")


class CountingLpips:
    def __init__(self, inner):
        self.inner, self.images = inner, 0

    def features(self, images):
        self.images += len(images)
        return self.inner.features(images)

    def distance_map(self, *args):
        return self.inner.distance_map(*args)


class CountingClip:
    def __init__(self, inner):
        self.inner, self.images, self.texts = inner, 0, 0
        self.fill, self.key = inner.fill, inner.key + "/counting"

    def encode_images(self, images):
        self.images += len(images)
        return self.inner.encode_images(images)

    def encode_texts(self, texts):
        self.texts += 1
        return self.inner.encode_texts(texts)


def test_k_methods_cost_k_plus_one_backbone_passes(clip_backend, lpips_backend):
    lp, cl = CountingLpips(lpips_backend), CountingClip(clip_backend)
    src, mask = photo(), box_mask()
    rses = suite(cl, lp, ["lpips_bg", "rsm_gain"])
    uncached = suite(clip_backend, lpips_backend, ["lpips_bg", "rsm_gain"], source_cache_size=1)
    edits = [photo(name) for name in ("coffee", "chelsea", "rocket", "astronaut")]
    for i, edt in enumerate(edits):
        got = rses.score("s", src, edt, mask, "pixel-art")
        ref = uncached.score(f"other{i}", src, edt, mask, "pixel-art")
        assert got == pytest.approx(ref, abs=1e-6)
    # K edits + 1 source, less the last edit: it IS the source (same bytes), recognised and not encoded
    assert lp.images == len(edits) - 1 + 1
    assert cl.images == len(edits) - 1 + 1


def test_update_compute_reset_and_config():
    src, mask = photo(), box_mask()
    rses = RSES(metrics=["mse_bg", "pixel_consistency"])
    with pytest.raises(Exception, match="before any update"):
        rses.compute()
    rses.update("a", src, src, mask, "x")
    rses.update("b", src, photo("coffee"), mask, "x")
    assert [r["sample_id"] for r in rses.rows] == ["a", "b"]
    assert rses.compute()["pixel_consistency"] == pytest.approx((1 + rses.rows[1]["pixel_consistency"]) / 2)
    rses.reset()
    assert rses.rows == []
    assert rses.config()["smoke"] is False and rses.config()["padding"] == 0.1


def test_smoke_mode_uses_tiny_models_and_says_so():
    rses = RSES(metrics="all", smoke=True)
    assert rses.weights() == []
    got = rses.score("a", photo(), photo("coffee"), box_mask(), "pixel-art")
    assert set(got) == set(rses.metrics) and 0 <= got["rses"] <= 1
    assert rses.config()["smoke"] is True
