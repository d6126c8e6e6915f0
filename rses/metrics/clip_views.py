"""How a region becomes CLIP's square input: the crop policy shared by every CLIP metric.

open_clip's eval transform resizes the shorter side to the model's input size and **centre-crops** the
longer one, so a tall or wide input loses its ends. A crop policy turns one uint8 ``(H, W, 3)`` region image
(the object's padded box for RSM, the object-filled whole image for style leakage) into square views that
the transform passes whole:

* ``letterbox`` (default): one view, the image centred on a square canvas of its longer side filled with
  the CLIP mean colour (the colour that normalises to zero, the fill ``rsm_strict`` already uses). Every
  pixel is seen, at ``224 / max(H, W)`` scale; one CLIP pass per input, as the paper.
* ``tile``: ``ceil(long / short)`` square views of the shorter side, evenly spaced and overlapping so they
  cover the longer side; their unit embeddings are averaged and renormalised. Every pixel is seen at the
  shorter side's scale (sharper for elongated regions), at ``ceil(long / short)`` passes per input.
* ``center-crop``: the image as it is, so open_clip's transform keeps its central square only: the paper's
  setting, for comparison with published numbers. Regions outside the central square are invisible.

Example:
    >>> import numpy as np
    >>> tall = np.zeros((6, 2, 3), np.uint8)
    >>> [v.shape for v in clip_views(tall, "letterbox", (9, 9, 9))]
    [(6, 6, 3)]
    >>> [v.shape for v in clip_views(tall, "tile", (9, 9, 9))]
    [(2, 2, 3), (2, 2, 3), (2, 2, 3)]
    >>> clip_views(tall, "letterbox", (9, 9, 9))[0][0, :, 0].tolist()
    [9, 9, 0, 0, 9, 9]
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch

from rses.errors import UsageError
from rses.metrics.suite_config import CROP_POLICIES, DEFAULT_CROP_POLICY

if TYPE_CHECKING:
    from rses.metrics.backends import OpenClipBackend


def check_crop_policy(policy: str) -> str:
    """``policy`` if it is one of :data:`CROP_POLICIES`; else :class:`~rses.errors.UsageError`."""
    if policy not in CROP_POLICIES:
        raise UsageError(
            f"Unknown crop policy {policy!r}: must be one of {', '.join(CROP_POLICIES)} "
            f"(default {DEFAULT_CROP_POLICY}; center-crop is the paper's setting)."
        )
    return policy


def letterbox(image: np.ndarray, fill: tuple[int, int, int]) -> np.ndarray:
    """``image`` centred on a square ``fill``-coloured canvas of its longer side (itself if square)."""
    h, w = image.shape[:2]
    if h == w:
        return image
    side = max(h, w)
    canvas = np.empty((side, side, 3), np.uint8)
    canvas[:] = np.asarray(fill, np.uint8)
    top, left = (side - h) // 2, (side - w) // 2
    canvas[top : top + h, left : left + w] = image
    return canvas


def tiles(image: np.ndarray) -> list[np.ndarray]:
    """Square views of the shorter side covering the longer one: ``ceil(long / short)`` evenly spaced starts."""
    h, w = image.shape[:2]
    side, long = min(h, w), max(h, w)
    n = math.ceil(long / side)
    starts = [round(i * (long - side) / (n - 1)) for i in range(n)] if n > 1 else [0]
    if h >= w:
        return [np.ascontiguousarray(image[s : s + side]) for s in starts]
    return [np.ascontiguousarray(image[:, s : s + side]) for s in starts]


def clip_views(image: np.ndarray, policy: str, fill: tuple[int, int, int]) -> list[np.ndarray]:
    """The views of one uint8 ``(H, W, 3)`` region image that CLIP embeds under ``policy``."""
    check_crop_policy(policy)
    if policy == "letterbox":
        return [letterbox(image, fill)]
    if policy == "tile":
        return tiles(image)
    return [image]


def embed_regions(
    backend: OpenClipBackend, images: list[np.ndarray], policy: str = DEFAULT_CROP_POLICY
) -> torch.Tensor:
    """``(N, D)`` unit embeddings of N region images under ``policy``: all views in one ``encode_images`` call."""
    views = [clip_views(image, policy, backend.fill) for image in images]
    emb = backend.encode_images([v for vs in views for v in vs])
    bounds = np.cumsum([0] + [len(vs) for vs in views])
    return torch.stack([combine_views(emb[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)])


def combine_views(embeddings: torch.Tensor) -> torch.Tensor:
    """One unit embedding from the ``(V, D)`` unit embeddings of an input's views (the row itself if V = 1)."""
    if len(embeddings) == 1:
        return embeddings[0]
    mean = embeddings.mean(dim=0)
    return mean / mean.norm()
