"""RSES ranks reference editors: identity low, whole-image restyle low, oracle paste high."""

import numpy as np
import pytest
import torch
from metrics_kit import box_mask, paste, photo, posterize

from rses.metrics import RSES

PHOTOS = ["astronaut", "chelsea", "coffee", "rocket"]


def editors(src, mask):
    styled = posterize(src)
    return {"identity": src, "global": styled, "oracle": paste(src, styled, mask)}


@pytest.mark.parametrize("name", PHOTOS)
def test_weight_free_rses_ref_ranks_reference_editors(name):
    src, mask = photo(name, 96), box_mask(96, 20, 70, 25, 75)
    target = paste(src, posterize(src), mask)  # the pseudo-GT: stylized object pasted into the source
    rses = RSES(metrics=["rses_ref"])
    got = {
        k: rses.score(name, src, out, mask, "pixel-art", target)["rses_ref"]
        for k, out in editors(src, mask).items()
    }
    assert got["identity"] == 0.0
    assert got["global"] < 0.3
    assert got["oracle"] == 1.0


class PosterClip:
    """Hand-made embedding: images embed as (p, 1 - p), p = share of two-level pixels; style text is (1, 0)."""

    fill, key = (128, 128, 128), "poster-clip"

    def encode_images(self, images):
        p = torch.tensor([float(np.isin(im, (0, 255)).all(axis=-1).mean()) for im in images])
        emb = torch.stack([p, 1 - p], dim=1)
        return emb / emb.norm(dim=1, keepdim=True)

    def encode_texts(self, texts):
        return torch.tensor([[1.0, 0.0]] * len(texts))


class PixelLpips:
    """Hand-made LPIPS: the per-pixel squared distance of the [-1, 1] images, summed over channels / 3."""

    def features(self, images):
        return [images]

    def distance_map(self, f0, f1, hw):
        return ((f0[0] - f1[0]) ** 2).sum(dim=1, keepdim=True) / 3


@pytest.mark.parametrize("name", PHOTOS)
def test_clip_rses_ranks_reference_editors(name):
    src, mask = photo(name, 96), box_mask(96, 20, 70, 25, 75)
    rses = RSES(metrics=["rses", "style_leakage"], clip_backend=PosterClip(), lpips_backend=PixelLpips())
    got = {k: rses.score(name, src, out, mask, "pixel-art") for k, out in editors(src, mask).items()}
    assert got["identity"]["rses"] == 0.0
    assert got["oracle"]["rses"] > 0.95 and got["oracle"]["style_leakage"] == pytest.approx(0.0, abs=1e-6)
    assert got["global"]["rses"] < 0.75 * got["oracle"]["rses"]
    assert got["global"]["style_leakage"] > 0.1
