"""score_batch, the caches and the speed-ups (packed GEMM, channels-last LPIPS, upsampling weights, lazy imports)."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from metrics_kit import box_mask, photo, posterize
from test_learned import CountingClip, CountingLpips

from rses.errors import UsageError
from rses.metrics import RSES
from rses.metrics.backends import LpipsBackend, PackedLinear
from rses.metrics.lpips_bg import region_mean, to_lpips_range, upsample_weights
from rses.metrics.pixel import ssim_map
from rses.metrics.regions import background_region, masked_mean
from rses.metrics.rses_score import rses_score
from rses.testing.lpips import tiny_lpips

LEARNED = [
    "lpips_bg",
    "lpips_in",
    "rsm",
    "rsm_strict",
    "rsm_gain",
    "style_leakage",
    "rses",
    "ssim_bg",
    "mse_bg",
]


def items():
    """Two samples, two edits each (sample-major), one with a target."""
    out = []
    for sid, name in (("a", "astronaut"), ("b", "chelsea")):
        src, mask = photo(name), box_mask()
        for edit in (posterize(src), photo("coffee")):
            out.append(
                {
                    "sample_id": sid,
                    "source": src,
                    "edited": edit,
                    "mask": mask,
                    "style": "pixel-art",
                    "target": posterize(src) if sid == "a" else None,
                }
            )
    return out


def test_score_batch_equals_score_item_by_item_with_k_plus_one_passes(clip_backend, lpips_backend):
    lp, cl = CountingLpips(lpips_backend), CountingClip(clip_backend)
    batched = RSES(metrics=LEARNED, clip_backend=cl, lpips_backend=lp, batch_size=3).score_batch(items())
    one_by_one = RSES(metrics=LEARNED, clip_backend=clip_backend, lpips_backend=lpips_backend)
    for item, got in zip(items(), batched, strict=True):
        ref = one_by_one.score(**item)
        assert got.keys() == ref.keys()
        # Batched and one-at-a-time backbone calls use different GEMM/conv kernels, so the float32 embeddings and
        # features differ by a few ulp (~1e-7): 1e-6 on each measured metric. The combined RSES is
        # sqrt(gain / 0.025 * (1 - lpips / 0.5)): its derivative (1 / 0.025 + 1 / 0.5) / (2 rses) scales that.
        parts = {k: v for k, v in got.items() if k != "rses"}
        assert parts == pytest.approx({k: ref[k] for k in parts}, abs=1e-6, nan_ok=True)
        assert got["rses"] == rses_score(got["rsm_gain"], got["lpips_bg"])
        assert got["rses"] == pytest.approx(ref["rses"], abs=1e-6 * (40 + 2) / (2 * max(ref["rses"], 1e-3)))
    assert lp.images == 4 + 2 + 1  # edits, sources, sample a's target
    # rsm, strict, leakage per edit, and rsm and leakage source crops per sample; both samples' coffee edit gives
    # the same bytes for all three edit inputs (same photo, same box), embedded once
    assert cl.images == 3 * (4 - 1) + 2 * 2


def test_update_batch_keeps_one_row_per_item():
    rses = RSES(metrics=["mse_bg"])
    got = rses.update_batch(items())
    assert [r["sample_id"] for r in rses.rows] == ["a", "a", "b", "b"]
    assert rses.compute()["mse_bg"] == pytest.approx(np.mean([g["mse_bg"] for g in got]))


def test_only_selected_metrics_cost_passes(clip_backend, lpips_backend):
    lp, cl = CountingLpips(lpips_backend), CountingClip(clip_backend)
    RSES(metrics=["lpips_in", "rsm"], clip_backend=cl, lpips_backend=lp).score_batch(items())
    # sample a's coffee edit and its target; a's other edit IS its target (recognised, not encoded), b has no
    # target (no reference to compare its edits with); no source pass without lpips_bg
    assert lp.images == 1 + 1
    assert (
        cl.images == 4 - 1
    )  # one crop per distinct edit crop (the coffee one twice): no strict/leakage/source


def test_score_batch_names_a_bad_item():
    item = items()[0]
    del item["mask"]
    with pytest.raises(UsageError, match=r"item 0 \(sample a\): missing keys \['mask'\]"):
        RSES(metrics="pixel").score_batch([item])


def test_clip_source_embeddings_outlive_the_lpips_feature_cache(clip_backend, lpips_backend):
    cl, lp = CountingClip(clip_backend), CountingLpips(lpips_backend)
    rses = RSES(metrics=["rsm_gain", "lpips_bg"], clip_backend=cl, lpips_backend=lp, source_cache_size=1)
    mask = box_mask()
    sources = {sid: photo(name) for sid, name in (("a", "astronaut"), ("b", "chelsea"))}
    for _method in range(2):  # method-major: a, b, a, b
        for sid, src in sources.items():
            rses.score(sid, src, photo("coffee"), mask, "pixel-art")
    assert cl.images == 4 + 2  # source crops embedded once each
    assert lp.images == 4 + 4  # LPIPS features (large) thrash with a cache of one sample


def test_region_mean_equals_masked_mean_of_the_upsampled_map(lpips_backend):
    src, edt, mask = photo("astronaut", 72), photo("coffee", 72), box_mask(72, 10, 50, 5, 40)
    feats = lpips_backend.features(
        to_lpips_range(torch.stack([torch.from_numpy(x).permute(2, 0, 1).float() / 255 for x in (src, edt)]))
    )
    f0, f1 = [f[:1] for f in feats], [f[1:] for f in feats]
    for boundary in (0, 3):
        region = background_region(torch.from_numpy(mask), boundary)
        ref = masked_mean(lpips_backend.distance_map(f0, f1, (72, 72))[0, 0], region)
        assert region_mean(lpips_backend.layer_maps(f0, f1), region) == pytest.approx(ref, rel=1e-6)
    weights = upsample_weights(torch.ones(9, 7, dtype=torch.bool), (4, 3))
    assert weights.sum() == pytest.approx(63) and weights.shape == (4, 3)


def test_channels_last_lpips_features_equal_the_plain_model():
    plain, fast = tiny_lpips(seed=2), LpipsBackend(tiny_lpips(seed=2), key="t")
    images = [torch.rand(3, 40, 48) for _ in range(3)]
    x = to_lpips_range(torch.stack(images))
    with torch.inference_mode():
        ref = [f for f in plain.net(plain.scaling_layer(x))]
        for feats in (fast.features(x), fast.features_unit(images)):
            for r, f in zip(ref, feats, strict=True):
                torch.testing.assert_close(
                    f, r / (r.pow(2).sum(1, keepdim=True).sqrt() + 1e-10), atol=1e-6, rtol=1e-5
                )
    assert fast.model.net.slice1[0].weight.is_contiguous(memory_format=torch.channels_last)


def test_packed_linear_equals_nn_linear_for_any_row_count():
    linear = torch.nn.Linear(16, 24)
    packed = PackedLinear(linear)
    eps = torch.finfo(torch.float32).eps
    with torch.inference_mode():
        for shape in ((2, 5, 16), (2, 5, 16), (3, 16), (1, 1, 16)):  # packs for 10 rows, then other counts
            x = torch.randn(shape)
            # MKL's packed GEMM and the plain one may sum the K = 16 products (and the bias) in different orders
            # and with or without FMA, so they agree only to float32 rounding: each output lies within the
            # a-priori bound gamma_{K+1} * sum|x_k w_k| + |b| of the exact value, so two of them within twice it.
            bound = 2 * (17 * eps) * (x.abs() @ linear.weight.abs().T + linear.bias.abs())
            assert ((packed(x) - linear(x)).abs() <= bound).all()
            torch.testing.assert_close(packed(x), linear(x), atol=1e-5, rtol=1e-5)
    x = torch.randn(4, 16, requires_grad=True)
    packed(x).sum().backward()  # with autograd it is a plain linear
    assert x.grad is not None


def test_ssim_map_leaves_its_inputs_alone():
    x, y = torch.rand(3, 12, 12, dtype=torch.float64), torch.rand(3, 12, 12, dtype=torch.float64)
    x0, y0 = x.clone(), y.clone()
    assert torch.equal(ssim_map(x, x), torch.ones_like(x))
    ssim_map(x, y)
    assert torch.equal(x, x0) and torch.equal(y, y0)


def test_pixel_only_suite_never_imports_the_learned_model_packages():
    code = (
        "import sys, numpy as np\n"
        "from rses.metrics import RSES\n"
        "m = np.zeros((8, 8), bool); m[:4] = True; img = np.zeros((8, 8, 3), np.uint8)\n"
        "r = RSES(metrics='pixel'); r.score('s', img, img, m, 'x'); r.config(); r.weights(); r.check_weights()\n"
        "print(sorted(k for k in ('lpips', 'open_clip') if k in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


def test_learned_config_reports_installed_versions_without_loading(clip_backend, lpips_backend):
    from importlib.metadata import version

    cfg = RSES(metrics="all", clip_backend=clip_backend, lpips_backend=lpips_backend).config()
    assert cfg["clip"]["open_clip_version"] == version("open_clip_torch")
    assert cfg["lpips"]["lpips_version"] == version("lpips")
    assert cfg["batch_size"] == 4 and np.isfinite(cfg["padding"])
