"""Compare the CLIP crop policies on the built-in split's objects and on constructed edits (docs/metrics.md).

Geometry, from the policies and ViT-B-32's eval transform (resize the shorter side to 224, centre crop 224):

* ``seen``: share of the padded box's pixels that reach CLIP at all;
* ``weight max/min``: how unequally the seen pixels count in the (averaged) embedding's input, max over min of
  a pixel's share of CLIP's input area (1 = every pixel counts the same; tiles overlap, so some count twice);
* ``scale``: CLIP input pixels per box pixel along each side (below 1: detail is lost to the resize);
* ``passes``: CLIP image passes per input.

Constructed edits, with the smoke CLIP (random weights: only "seen or not" is meaningful): each object's padded
box restyled (posterised) at both ends (the outer fifth of the long side at each end, 40 % of the box) or in the
middle (the central 40 %); the table gives ``|rsm_gain|`` for each.

Run: ``python benchmarks/crop_policy_comparison.py`` (no weights needed, ~1 min on 2 CPU cores).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from rses.data.manifest import load_split
from rses.metrics import MetricSuite
from rses.metrics.regions import padded_box
from rses.metrics.rsm import RSM_PADDING

POLICIES = ("center-crop", "letterbox", "tile")
OBJECTS = (
    "astronaut-flag",
    "coffee-spoon",
    "astronaut-space-shuttle",
    "stereo_motorcycle-seat",
    "stereo_motorcycle-motorcycle",
    "coffee-cup",
)
SIDE = 224


def geometry(h: int, w: int, policy: str) -> tuple[float, float, float, int]:
    """(seen share, weight max/min, scale, passes) of an ``h x w`` box under ``policy``."""
    short, long = min(h, w), max(h, w)
    if policy == "center-crop":
        return short / long, 1.0, SIDE / short, 1
    if policy == "letterbox":
        return 1.0, 1.0, SIDE / long, 1
    n = math.ceil(long / short)
    starts = [round(i * (long - short) / (n - 1)) for i in range(n)] if n > 1 else [0]
    count = np.zeros(long, int)
    for s in starts:
        count[s : s + short] += 1
    return 1.0, count.max() / count.min(), SIDE / short, n


def posterize(img: np.ndarray) -> np.ndarray:
    return np.where(img >= 128, 255, 0).astype(np.uint8)


def main() -> None:
    split = {s.id.removesuffix("-pixel-art"): s for s in load_split("test").samples if s.style == "pixel-art"}
    suites = {p: MetricSuite(metrics=["rsm_gain"], smoke=True, crop_policy=p) for p in POLICIES}
    print(
        "| object | box (h x w) | policy | seen | weight max/min | scale | passes | gain, ends | gain, middle |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name in OBJECTS:
        sample = split[name]
        src, mask = sample.load_source(), sample.load_mask()
        top, bottom, left, right = padded_box(torch.from_numpy(mask), RSM_PADDING)
        h, w = bottom - top, right - left
        tall, long = h >= w, max(h, w)
        fifth = long // 5
        ends, middle = np.zeros(mask.shape, bool), np.zeros(mask.shape, bool)
        if tall:
            ends[top : top + fifth, left:right] = ends[bottom - fifth : bottom, left:right] = True
            middle[top + 3 * fifth // 2 : bottom - 3 * fifth // 2, left:right] = True
        else:
            ends[top:bottom, left : left + fifth] = ends[top:bottom, right - fifth : right] = True
            middle[top:bottom, left + 3 * fifth // 2 : right - 3 * fifth // 2] = True
        for policy in POLICIES:
            seen, ratio, scale, passes = geometry(h, w, policy)
            gains = [
                abs(
                    suites[policy].score(
                        name, src, np.where(part[..., None], posterize(src), src), mask, "pixel-art"
                    )["rsm_gain"]
                )
                for part in (ends, middle)
            ]
            print(
                f"| {name} | {h} x {w} | {policy} | {seen:.0%} | {ratio:.0f} | {scale:.2f} | {passes} | "
                f"{gains[0]:.2e} | {gains[1]:.2e} |"
            )


if __name__ == "__main__":
    main()
