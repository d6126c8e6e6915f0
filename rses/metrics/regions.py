"""Mask geometry: the padded object box, the background evaluated after a boundary band, masked means.

Masks are ``(H, W)`` bool NumPy arrays or torch tensors (:mod:`rses.metrics.arrays`); the results are of the
same kind, on the same device. The dilation of :func:`background_region` is OpenCV's for NumPy arrays and a
torch max filter for tensors (both square, nothing grows in from outside the image): equal results.

Example:
    >>> import numpy as np
    >>> m = np.zeros((10, 10), bool); m[4:6, 4:6] = True
    >>> padded_box(m, padding=0.5)
    (3, 7, 3, 7)
    >>> int(background_region(m, boundary=1).sum())
    84
    >>> masked_mean(np.arange(4.0).reshape(2, 2), np.array([[True, False], [False, True]]))
    1.5
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rses.errors import InvalidSampleError
from rses.metrics.arrays import is_tensor, namespace


def padded_box(mask: Any, padding: float = 0.1) -> tuple[int, int, int, int]:
    """Tight bounding box ``(top, bottom, left, right)`` (exclusive ends) of the mask, grown by ``padding``.

    Each side grows by ``round(padding * box side)`` pixels along its axis, clamped to the image.
    """
    xp = namespace(mask)
    rows, cols = xp.where(mask.any(1))[0], xp.where(mask.any(0))[0]
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    pad_y, pad_x = round(padding * (bottom - top)), round(padding * (right - left))
    h, w = mask.shape
    return max(0, top - pad_y), min(h, bottom + pad_y), max(0, left - pad_x), min(w, right + pad_x)


def background_region(mask: Any, boundary: int = 0, sample_id: str = "?") -> Any:
    """Background pixels farther than ``boundary`` px (Chebyshev distance) from the object.

    Raises:
        InvalidSampleError: the band swallows the whole background.
    """
    if boundary <= 0:
        return ~mask
    grown = dilate(mask, boundary)
    if grown.all():
        raise InvalidSampleError(
            f"Sample {sample_id}: a boundary band of {boundary} px covers the whole background; "
            "use a smaller boundary."
        )
    return ~grown


def dilate(mask: Any, pixels: int) -> Any:
    """``(H, W)`` bool ``mask`` dilated by a ``(2 * pixels + 1)`` square; the image border adds nothing."""
    k = 2 * pixels + 1
    if not is_tensor(mask):
        import cv2

        return cv2.dilate(mask.astype(np.uint8), np.ones((k, k), np.uint8)).astype(bool)
    import torch.nn.functional as F

    grown = F.max_pool2d(mask[None, None].float(), (k, 1), stride=1, padding=(pixels, 0))  # two 1-D maxima
    return F.max_pool2d(grown, (1, k), stride=1, padding=(0, pixels))[0, 0] > 0


def masked_mean(values: Any, region: Any) -> float:
    """Mean of a ``(H, W)`` or ``(C, H, W)`` map over the pixels where ``region`` is True (all channels)."""
    return float(masked_mean_t(values, region))


def masked_mean_t(values: Any, region: Any) -> Any:
    """:func:`masked_mean` as a float64 0-d value of ``values``' kind (a tensor stays on its device)."""
    if values.ndim == 2:
        values = values[None]
    xp = namespace(values)
    total = None
    if xp is np and values.dtype == np.float64:  # a matrix-vector product: ~8x faster than where + sum
        with np.errstate(invalid="ignore", over="ignore"):  # 0 * inf outside: caught just below
            total = np.tensordot(values, region.astype(np.float64), axes=2).sum()
    if total is None or not np.isfinite(total):  # NaN or inf outside the region must not count: zeros there
        total = xp.where(region, values, 0).sum(dtype=xp.float64)
    return total / (region.sum() * values.shape[0])
