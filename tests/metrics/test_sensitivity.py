"""Every region-based metric sees its whole region and nothing else, on tall, wide and square regions.

For each metric, a change confined to any part of the region it claims to measure (the ends, the four corners,
the four edges, the middle) moves it, and a change confined to the other region does not. "The other region" is
taken beyond the metric's own reach, which is part of its definition:

* RSM / RSM gain see the padded box (background inside the box counts, as in the paper); strict RSM the object
  only; style leakage the background only.
* SSIM averages a 7x7 window (3 px reach), ``ref_gain`` compares Laplacians over the mask eroded by 3 px (so a
  change must reach the core: the parts below are 1/4 of the object's side, deeper than 3 px), LPIPS maps see a
  receptive field (AlexNet conv5: 163 px, plus one 16 px cell of bilinear upsampling): the background metrics are
  checked with ``boundary`` >= that reach, the in-object metrics with changes farther away than it.

CLIP metrics run with the smoke model (only "seen or not" is meaningful) under each crop policy that claims to
see the whole region; LPIPS with the smoke trunk and, when ``RSES_TEST_LPIPS_WEIGHTS`` names the real AlexNet
trunk, with it. "Does not move" is exact: the inputs the metric sees are the same bytes, computed the same way.
"""

import os

import numpy as np
import pytest
from skimage import data, transform

from rses.metrics import RSES
from rses.metrics.regions import padded_box

CLIP_OBJECT = ["rsm", "rsm_strict", "rsm_gain"]
PIXEL_BG = ["mse_bg", "psnr_bg", "ssim_bg", "pixel_consistency"]
PIXEL_IN = ["mse_in", "ssim_in", "ref_gain"]
# "Moves": by more than 1e-6, ~16 float32 ulps at 0.5 (kernel-dependent rounding of one embedding is ~1 ulp).
# The smoke CLIP is random and weak: the smallest move seen here is ~6e-6 (a 3x15 px corner of a 5:1 object).
MOVE = 1e-6


def photo(shape: tuple[int, int], name: str = "astronaut") -> np.ndarray:
    """A real photo resized (not cropped) to ``shape``: textured everywhere."""
    return (transform.resize(getattr(data, name)(), shape, anti_aliasing=True) * 255).round().astype(np.uint8)


def posterize(img: np.ndarray) -> np.ndarray:
    return np.where(img >= 128, 255, 0).astype(np.uint8)


def box(shape, top, left, height, width) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[top : top + height, left : left + width] = True
    return m


def object_parts(top: int, left: int, h: int, w: int) -> dict[str, tuple[int, int, int, int]]:
    """Parts of an object box as (top, left, height, width): both ends of each axis, 4 corners, 4 edges, middle."""
    qh, qw = max(2, h // 4), max(2, w // 4)
    bottom, right = top + h, left + w
    mid_r, mid_c = top + (h - qh) // 2, left + (w - qw) // 2
    return {
        "top end": (top, left, qh, w),
        "bottom end": (bottom - qh, left, qh, w),
        "left end": (top, left, h, qw),
        "right end": (top, right - qw, h, qw),
        "top-left corner": (top, left, qh, qw),
        "top-right corner": (top, right - qw, qh, qw),
        "bottom-left corner": (bottom - qh, left, qh, qw),
        "bottom-right corner": (bottom - qh, right - qw, qh, qw),
        "top edge": (top, mid_c, qh, qw),
        "bottom edge": (bottom - qh, mid_c, qh, qw),
        "left edge": (mid_r, left, qh, qw),
        "right edge": (mid_r, right - qw, qh, qw),
        "middle": (mid_r, mid_c, qh, qw),
    }


def image_parts(shape: tuple[int, int]) -> dict[str, tuple[int, int, int, int]]:
    """Parts of a whole image: its 4 corners, its 4 edges and its middle (each 1/5 of the sides)."""
    return object_parts(0, 0, *shape)


def part_mask(shape, part) -> np.ndarray:
    return box(shape, *part)


CASES = {  # image (H, W) -> object (top, left, height, width): tall 5:1, wide 5:1 and square, in three frames
    "tall object, square image": ((96, 96), (18, 38, 60, 12)),
    "wide object, square image": ((96, 96), (42, 18, 12, 60)),
    "square object, square image": ((96, 96), (30, 30, 32, 32)),
    "tall object, wide image": ((96, 160), (18, 40, 60, 12)),
    "wide object, tall image": ((160, 96), (40, 18, 12, 60)),
    "square object, wide image": ((96, 160), (30, 90, 32, 32)),
}


def sample(case: str):
    shape, obj = CASES[case]
    src = photo(shape)
    mask = box(shape, *obj)
    return src, mask, np.where(mask[..., None], posterize(src), src)  # target: the object restyled


def score_all(rses: RSES, src, mask, target, edits: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    items = [
        {"sample_id": "s", "source": src, "edited": e, "mask": mask, "style": "pixel-art", "target": target}
        for e in edits.values()
    ]
    return dict(zip(edits, rses.score_batch(items), strict=True))


def assert_seen(metrics, base, moved, where):
    for name in metrics:
        assert abs(moved[name] - base[name]) > MOVE, f"{name} did not see a change in the {where}"


# OpenCV's box filter (SSIM) keeps running float64 sums along each row, so a change anywhere in a row rounds the
# later sums differently in the last bits (seen: 7e-15): SSIM is "unmoved" to 1e-12, every other metric exactly.
UNSEEN_TOL = {"ssim_bg": 1e-12, "ssim_in": 1e-12}


def assert_unseen(metrics, base, moved, where):
    for name in metrics:
        assert abs(moved[name] - base[name]) <= UNSEEN_TOL.get(name, 0.0), (
            f"{name} saw a change in the {where} ({base[name]} -> {moved[name]})"
        )


def object_edits(base, mask, changed, obj):
    """The ``base`` edit, and edits taking ``changed``'s pixels in one part of the object each."""
    edits = {"base": base}
    for name, part in object_parts(*obj).items():
        region = part_mask(mask.shape, part) & mask
        edits[name] = np.where(region[..., None], changed, base)
    return edits


def outside(mask, padding: float | None = None, reach: int = 0) -> np.ndarray:
    """Pixels outside the object (outside its padded box with ``padding``), farther than ``reach`` px."""
    import torch

    from rses.metrics.regions import background_region

    grown = mask.copy()
    if padding is not None:
        top, bottom, left, right = padded_box(torch.from_numpy(mask), padding)
        grown[top:bottom, left:right] = True
    return background_region(torch.from_numpy(grown), reach).numpy()


def background_edits(base, region):
    """The ``base`` edit, and edits inverting the pixels of one image part each, confined to ``region``."""
    edits = {"base": base}
    for name, part in image_parts(base.shape[:2]).items():
        where = part_mask(base.shape[:2], part) & region
        if where.any():
            edits[name] = np.where(where[..., None], 255 - base, base)
    return edits


@pytest.mark.parametrize("policy", ["letterbox", "tile"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_clip_metrics_see_every_part_of_the_object_and_nothing_outside(case, policy, clip_backend):
    src, mask, target = sample(case)
    obj = CASES[case][1]
    rses = RSES(metrics=[*CLIP_OBJECT, "style_leakage"], clip_backend=clip_backend, crop_policy=policy)
    got = score_all(rses, src, mask, target, object_edits(src, mask, 255 - src, obj))  # parts inverted
    for part in object_parts(*obj):
        assert_seen(CLIP_OBJECT, got["base"], got[part], f"object's {part} ({case}, {policy})")
        assert (
            got[part]["style_leakage"] == 0.0
        )  # the background bytes are unchanged: exactly 0 by construction
    far = score_all(rses, src, mask, target, background_edits(src, outside(mask, padding=0.1)))
    assert len(far) > 1
    for part in far:
        assert_unseen(CLIP_OBJECT, got["base"], far[part], f"image's {part}, outside the padded box ({case})")
    box_bg = score_all(rses, src, mask, target, background_edits(src, ~mask))
    for part in box_bg:
        assert_unseen(["rsm_strict"], got["base"], box_bg[part], f"image's {part} ({case})")


@pytest.mark.parametrize("policy", ["letterbox", "tile"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_style_leakage_sees_every_part_of_the_background(case, policy, clip_backend):
    src, mask, target = sample(case)
    rses = RSES(metrics=["style_leakage"], clip_backend=clip_backend, crop_policy=policy)
    got = score_all(rses, src, mask, target, background_edits(src, ~mask))
    assert got["base"]["style_leakage"] == 0.0
    for part in got:
        if part != "base":
            assert_seen(["style_leakage"], got["base"], got[part], f"background's {part} ({case}, {policy})")


def test_center_crop_is_blind_to_the_ends_of_elongated_objects(clip_backend):
    """The paper's centre crop, kept as an option, misses what the issue measured: the ends of a 5:1 object."""
    paper = RSES(metrics=["rsm_gain"], clip_backend=clip_backend, crop_policy="center-crop")
    ours = {
        p: RSES(metrics=["rsm_gain"], clip_backend=clip_backend, crop_policy=p) for p in ("letterbox", "tile")
    }
    for case in ("tall object, square image", "wide object, square image", "tall object, wide image"):
        src, mask, target = sample(case)
        top, left, h, w = CASES[case][1]
        tall = h > w
        n = (h if tall else w) // 5  # the outer fifth of the long side, at each end (40 % of the object)
        ends = (
            box(mask.shape, top, left, n, w) | box(mask.shape, top + h - n, left, n, w)
            if tall
            else box(mask.shape, top, left, h, n) | box(mask.shape, top, left + w - n, h, n)
        )
        edit = np.where(ends[..., None], target, src)
        # the centre-cropped CLIP inputs of edit and source are equal tensors, embedded in two batch rows:
        # equal up to a few float32 ulps at 0.5 (kernels may round rows differently), nothing more
        assert abs(paper.score("s", src, edit, mask, "pixel-art")["rsm_gain"]) <= 3e-7, case
        for policy, rses in ours.items():
            assert abs(rses.score("s", src, edit, mask, "pixel-art")["rsm_gain"]) > 10 * MOVE, (case, policy)


@pytest.mark.parametrize("case", sorted(CASES))
def test_pixel_metrics_see_their_whole_region_and_nothing_else(case):
    src, mask, target = sample(case)
    obj = CASES[case][1]
    # in-object metrics start from the perfect edit (the target: ref_gain 1, mse_in 0), each part then spoilt
    inside = score_all(
        RSES(metrics=PIXEL_IN), src, mask, target, object_edits(target, mask, 255 - target, obj)
    )
    for part in object_parts(*obj):
        assert_seen(PIXEL_IN, inside["base"], inside[part], f"object's {part} ({case})")
    far = score_all(
        RSES(metrics=PIXEL_IN), src, mask, target, background_edits(target, outside(mask, reach=3))
    )
    for part in far:
        assert_unseen(PIXEL_IN, inside["base"], far[part], f"image's {part}, > 3 px from the object ({case})")
    bg = score_all(RSES(metrics=PIXEL_BG), src, mask, target, background_edits(src, ~mask))
    for part in bg:
        if part != "base":
            assert_seen(PIXEL_BG, bg["base"], bg[part], f"background's {part} ({case})")
    banded = RSES(metrics=PIXEL_BG, boundary=3)  # SSIM's 7x7 window reaches 3 px
    in_object = score_all(banded, src, mask, target, object_edits(src, mask, 255 - src, obj))
    for part in in_object:
        assert_unseen(PIXEL_BG, in_object["base"], in_object[part], f"object's {part} ({case})")


LPIPS_REACH = (
    100  # px: half of AlexNet conv5's 163 px receptive field, plus one 16 px upsampling cell, rounded up
)
LPIPS_CASES = {  # large enough that part of the image lies beyond LPIPS' reach from the object
    "tall object, square image": ((288, 288), (16, 16, 100, 20)),
    "wide object, tall image": ((320, 224), (16, 16, 20, 100)),
    "square object, wide image": ((224, 320), (16, 16, 50, 50)),
}


def lpips_backends():
    from rses.testing.lpips import tiny_lpips_backend

    out = [pytest.param(lambda: tiny_lpips_backend(seed=0), id="smoke-trunk")]
    weights = os.environ.get("RSES_TEST_LPIPS_WEIGHTS")
    real = pytest.mark.skipif(
        not weights, reason="RSES_TEST_LPIPS_WEIGHTS (the real AlexNet trunk) is not set"
    )

    def load():
        from rses.metrics.backends import load_lpips

        return load_lpips("alex", weights)

    return [*out, pytest.param(load, id="real-alexnet", marks=real)]


@pytest.mark.parametrize("make_backend", lpips_backends())
@pytest.mark.parametrize("case", sorted(LPIPS_CASES))
def test_lpips_metrics_see_their_whole_region_and_nothing_beyond_their_reach(case, make_backend):
    shape, obj = LPIPS_CASES[case]
    src = photo(shape, "chelsea")
    mask = box(shape, *obj)
    target = np.where(mask[..., None], posterize(src), src)
    backend = make_backend()
    # one image per trunk call: every edit's features come from the same kernels (a batch of 4 and a last batch of
    # 1 may not), so the values at pixels the change cannot reach are the same bits
    rses = RSES(metrics=["lpips_in", "lpips_bg"], lpips_backend=backend, batch_size=1)
    inside = score_all(rses, src, mask, target, object_edits(target, mask, 255 - target, obj))
    assert inside["base"]["lpips_in"] == 0.0  # the edit IS the target: recognised, exactly 0
    for part in object_parts(*obj):
        assert_seen(["lpips_in"], inside["base"], inside[part], f"object's {part} ({case})")
    far = score_all(rses, src, mask, target, background_edits(target, outside(mask, reach=LPIPS_REACH)))
    assert len(far) > 1
    for part in far:
        assert_unseen(
            ["lpips_in"], inside["base"], far[part], f"image's {part}, beyond LPIPS' reach ({case})"
        )
    bg = score_all(rses, src, mask, target, background_edits(src, ~mask))
    for part in bg:
        if part != "base":
            assert_seen(["lpips_bg"], bg["base"], bg[part], f"background's {part} ({case})")
    banded = RSES(metrics=["lpips_bg"], lpips_backend=backend, boundary=LPIPS_REACH, batch_size=1)
    in_object = score_all(banded, src, mask, target, object_edits(src, mask, 255 - src, obj))
    for part in in_object:
        assert_unseen(["lpips_bg"], in_object["base"], in_object[part], f"object's {part} ({case})")
