"""Input checks shared by every metric: one sample in, tensors out, or an error naming the sample.

Images are ``(H, W, 3)`` ``uint8`` arrays, or float arrays/tensors in [0, 1] shaped ``(H, W, 3)`` or
``(3, H, W)``. Masks are ``(H, W)`` bool (or two-valued numbers ``{0, v}``; anything else needs
``mask_threshold``). Nothing is repaired silently.

Example:
    >>> import numpy as np
    >>> img = np.zeros((4, 4, 3), np.uint8)
    >>> mask = np.zeros((4, 4), bool); mask[:2] = True
    >>> s = prepare_sample("s0", img, img, mask)
    >>> tuple(s.source.shape), int(s.mask.sum())
    ((3, 4, 4), 8)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rses.errors import InvalidSampleError


@dataclass
class PreparedSample:
    """A checked sample: ``(3, H, W)`` float32 images in [0, 1] and a ``(H, W)`` bool mask, plus uint8 copies."""

    sample_id: str
    source: torch.Tensor
    edited: torch.Tensor
    mask: torch.Tensor
    target: torch.Tensor | None
    source_u8: np.ndarray
    edited_u8: np.ndarray
    target_u8: np.ndarray | None


def as_image(sample_id: str, name: str, image) -> tuple[torch.Tensor, np.ndarray]:
    """Check one image and return it as ``(3, H, W)`` float32 in [0, 1] and as ``(H, W, 3)`` uint8."""
    arr = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
        arr = np.moveaxis(arr, 0, -1)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        got = f"{arr.shape[-1]} channels" if arr.ndim == 3 else f"{arr.ndim} dimensions"
        raise InvalidSampleError(f"Sample {sample_id}: {name} image has shape {arr.shape} ({got}); expected "
                                 "RGB (H, W, 3) or (3, H, W). Convert grayscale/RGBA images to RGB first.")
    if arr.dtype == np.uint8:
        u8 = np.ascontiguousarray(arr)
        return torch.from_numpy(u8).permute(2, 0, 1).float().div_(255), u8
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise InvalidSampleError(f"Sample {sample_id}: {name} image has dtype {arr.dtype}; expected uint8 or float.")
    arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise InvalidSampleError(f"Sample {sample_id}: {name} image has {int((~np.isfinite(arr)).sum())} NaN/Inf "
                                 "values.")
    if arr.min() < 0 or arr.max() > 1:
        raise InvalidSampleError(f"Sample {sample_id}: {name} float image must lie in [0, 1], got min "
                                 f"{arr.min():.4g}, max {arr.max():.4g}. Divide uint8-range floats by 255.")
    u8 = np.round(arr * 255).astype(np.uint8)
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).contiguous(), u8


def as_mask(sample_id: str, mask, threshold: float | None = None) -> torch.Tensor:
    """Check a mask and return it as ``(H, W)`` bool; ``threshold`` in [0, 1] binarises a soft mask."""
    arr = mask.detach().cpu().numpy() if isinstance(mask, torch.Tensor) else np.asarray(mask)
    if arr.ndim == 3 and 1 in (arr.shape[0], arr.shape[-1]):
        arr = arr.reshape(arr.shape[1:] if arr.shape[0] == 1 else arr.shape[:-1])
    if arr.ndim != 2:
        raise InvalidSampleError(f"Sample {sample_id}: mask has shape {arr.shape}; expected (H, W).")
    if arr.dtype != bool:
        arr = arr.astype(np.float64)
        if not np.isfinite(arr).all():
            raise InvalidSampleError(f"Sample {sample_id}: mask has NaN/Inf values.")
        if threshold is not None:
            scale = 255.0 if arr.max() > 1 else 1.0
            arr = arr > threshold * scale
        else:
            values = np.unique(arr)
            if len(values) > 2 or (len(values) == 2 and values[0] != 0):
                raise InvalidSampleError(
                    f"Sample {sample_id}: mask is not binary ({len(values)} distinct values, min {values.min():g}, "
                    f"max {values.max():g}). Pass mask_threshold (CLI --mask-threshold 0.5) to binarize it.")
            arr = arr > 0
    area = arr.mean()
    if area == 0:
        raise InvalidSampleError(f"Sample {sample_id}: mask is empty (no object pixels); nothing to score.")
    if area == 1:
        raise InvalidSampleError(f"Sample {sample_id}: mask covers the whole image, so there is no background "
                                 "to measure preservation on.")
    return torch.from_numpy(np.ascontiguousarray(arr))


def prepare_sample(sample_id: str, source, edited, mask, target=None,
                   mask_threshold: float | None = None) -> PreparedSample:
    """Check a whole sample (shapes agree, values finite and in range, mask binary and non-trivial)."""
    src, src_u8 = as_image(sample_id, "source", source)
    edt, edt_u8 = as_image(sample_id, "edited", edited)
    tgt, tgt_u8 = as_image(sample_id, "target", target) if target is not None else (None, None)
    m = as_mask(sample_id, mask, mask_threshold)
    for name, img in (("edited", edt), ("target", tgt)):
        if img is not None and img.shape != src.shape:
            raise InvalidSampleError(f"Sample {sample_id}: {name} image is {tuple(img.shape[1:])} (H, W) but the "
                                     f"source is {tuple(src.shape[1:])}; resize the {name} image to the source size.")
    if tuple(m.shape) != tuple(src.shape[1:]):
        raise InvalidSampleError(f"Sample {sample_id}: mask is {tuple(m.shape)} (H, W) but the source image is "
                                 f"{tuple(src.shape[1:])}.")
    return PreparedSample(sample_id, src, edt, m, tgt, src_u8, edt_u8, tgt_u8)
