"""Mask geometry: the padded object box, the background evaluated after a boundary band, masked means.

Example:
    >>> import torch
    >>> m = torch.zeros(10, 10, dtype=torch.bool); m[4:6, 4:6] = True
    >>> padded_box(m, padding=0.5)
    (3, 7, 3, 7)
    >>> int(background_region(m, boundary=1).sum())
    84
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rses.errors import InvalidSampleError


def padded_box(mask: torch.Tensor, padding: float = 0.1) -> tuple[int, int, int, int]:
    """Tight bounding box ``(top, bottom, left, right)`` (exclusive ends) of the mask, grown by ``padding``.

    Each side grows by ``round(padding * box side)`` pixels along its axis, clamped to the image.
    """
    rows, cols = torch.where(mask.any(dim=1))[0], torch.where(mask.any(dim=0))[0]
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    pad_y, pad_x = round(padding * (bottom - top)), round(padding * (right - left))
    h, w = mask.shape
    return max(0, top - pad_y), min(h, bottom + pad_y), max(0, left - pad_x), min(w, right + pad_x)


def background_region(mask: torch.Tensor, boundary: int = 0, sample_id: str = "?") -> torch.Tensor:
    """Background pixels farther than ``boundary`` px (Chebyshev distance) from the object.

    Raises:
        InvalidSampleError: the band swallows the whole background.
    """
    if boundary <= 0:
        return ~mask
    k = 2 * boundary + 1  # a square dilation is two 1-D max filters
    grown = F.max_pool2d(mask[None, None].float(), (k, 1), stride=1, padding=(boundary, 0))
    grown = F.max_pool2d(grown, (1, k), stride=1, padding=(0, boundary))[0, 0] > 0
    if grown.all():
        raise InvalidSampleError(
            f"Sample {sample_id}: a boundary band of {boundary} px covers the whole background; "
            "use a smaller boundary."
        )
    return ~grown


def masked_mean(values: torch.Tensor, region: torch.Tensor) -> float:
    """Mean of a ``(H, W)`` or ``(C, H, W)`` map over the pixels where ``region`` is True (all channels)."""
    return float(masked_mean_t(values, region))


def masked_mean_t(values: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """:func:`masked_mean` as a float64 0-d tensor on ``values``' device (no host transfer)."""
    if values.dim() == 2:
        values = values[None]
    total = torch.where(region, values, 0).sum(
        dtype=torch.float64
    )  # zeros outside: exact for any content there
    return total / (region.sum() * values.shape[0])
