"""Style leakage: did the style spill outside the object?

The CLIP style similarity (as in :mod:`rses.metrics.rsm`) of the whole image with the object filled by the CLIP
mean colour, edited minus source. Zero for an untouched background; positive when the background moved
towards the style. An edit that leaves the background bytes unchanged scores exactly 0.0 (the two inputs are
recognised as equal, not embedded twice). The image reaches CLIP through the crop policy of
:mod:`rses.metrics.clip_views` (default ``letterbox``: the whole background is seen).

Example:
    >>> import numpy as np, torch
    >>> img = np.full((2, 2, 3), 9, np.uint8); m = torch.tensor([[True, False], [False, False]])
    >>> background_image(img, m, (0, 0, 0))[..., 0].tolist()
    [[0, 9], [9, 9]]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from rses.metrics.argkinds import array_arguments
from rses.metrics.clip_views import DEFAULT_CROP_POLICY, embed_regions
from rses.metrics.rsm import STYLE_TEMPLATE, rsm_from_embeddings, style_text

if TYPE_CHECKING:
    from rses.metrics.backends import OpenClipBackend


def background_image(image: np.ndarray, mask: torch.Tensor, fill: tuple[int, int, int]) -> np.ndarray:
    """The uint8 image with the object pixels set to ``fill``."""
    return np.where(mask.numpy()[..., None], np.array(fill, np.uint8), image)


@array_arguments
def style_leakage(
    backend: OpenClipBackend,
    source: np.ndarray,
    edited: np.ndarray,
    mask: torch.Tensor,
    style: str,
    template: str = STYLE_TEMPLATE,
    crop_policy: str = DEFAULT_CROP_POLICY,
) -> float:
    """Background style similarity of ``edited`` minus that of ``source`` (in RSM units)."""
    images = [background_image(im, mask, backend.fill) for im in (edited, source)]
    if np.array_equal(images[0], images[1]):
        return 0.0
    emb = embed_regions(backend, images, crop_policy)
    sims = rsm_from_embeddings(emb, backend.encode_texts([style_text(style, template)]))
    return float(sims[0] - sims[1])
