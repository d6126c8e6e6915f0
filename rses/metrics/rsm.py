"""Regional Style Matching: CLIP similarity between the object's padded crop and the style text.

``RSM = (1 + cos(f_img(crop), f_text(template.format(style)))) / 2`` in [0, 1]. The crop is the mask's tight box
grown by ``padding`` (10 % of the box side) and clamped to the image, so background pixels inside the box
count, as in the paper. ``rsm_strict`` fills those background pixels with the CLIP mean colour first.
``rsm_gain`` = RSM(edited) - RSM(source): the paper's RSM moves only in the third decimal across methods,
so the per-image baseline matters. The crop reaches CLIP through the crop policy of
:mod:`rses.metrics.clip_views` (default ``letterbox``: the whole box is seen, whatever its aspect ratio).

Example:
    >>> import numpy as np, torch
    >>> img = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    >>> m = torch.zeros(4, 4, dtype=torch.bool); m[1:3, 1:3] = True
    >>> object_crop(img, m, padding=0.5).shape
    (4, 4, 3)
    >>> style_text("pixel-art")
    'a pixel art style image'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from rses.metrics.argkinds import array_arguments
from rses.metrics.clip_views import embed_regions
from rses.metrics.regions import padded_box
from rses.metrics.suite_config import DEFAULT_CROP_POLICY, RSM_PADDING, STYLE_TEMPLATE, style_text

if TYPE_CHECKING:
    from rses.metrics.backends import OpenClipBackend


def object_crop(
    image: np.ndarray,
    mask: torch.Tensor,
    padding: float = RSM_PADDING,
    fill: tuple[int, int, int] | None = None,
) -> np.ndarray:
    """The padded box crop of a uint8 ``(H, W, 3)`` image; with ``fill``, non-object pixels get that colour."""
    top, bottom, left, right = padded_box(mask, padding)
    crop = image[top:bottom, left:right]
    if fill is not None:
        crop = np.where(mask[top:bottom, left:right].numpy()[..., None], crop, np.array(fill, np.uint8))
    return np.ascontiguousarray(crop)


def rsm_from_embeddings(image_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
    """``(1 + cos) / 2`` for unit-norm embeddings (rows paired, or one text broadcast over the images)."""
    return (1 + (image_emb * text_emb).sum(dim=-1)) / 2


@array_arguments
def rsm(
    backend: OpenClipBackend,
    image: np.ndarray,
    mask: torch.Tensor,
    style: str,
    padding: float = RSM_PADDING,
    template: str = STYLE_TEMPLATE,
    strict: bool = False,
    crop_policy: str = DEFAULT_CROP_POLICY,
) -> float:
    """RSM of one uint8 image (``strict=True``: background inside the box filled with ``backend.fill``)."""
    crop = object_crop(image, mask, padding, backend.fill if strict else None)
    text = backend.encode_texts([style_text(style, template)])
    return float(rsm_from_embeddings(embed_regions(backend, [crop], crop_policy), text)[0])


@array_arguments
def rsm_gain(
    backend: OpenClipBackend,
    source: np.ndarray,
    edited: np.ndarray,
    mask: torch.Tensor,
    style: str,
    padding: float = RSM_PADDING,
    template: str = STYLE_TEMPLATE,
    crop_policy: str = DEFAULT_CROP_POLICY,
) -> float:
    """RSM(edited) - RSM(source): how much closer to the style the object's box moved (0.0 if the crops are equal)."""
    crops = [object_crop(image, mask, padding) for image in (edited, source)]
    if np.array_equal(crops[0], crops[1]):
        return 0.0
    sims = rsm_from_embeddings(
        embed_regions(backend, crops, crop_policy), backend.encode_texts([style_text(style, template)])
    )
    return float(sims[0] - sims[1])
