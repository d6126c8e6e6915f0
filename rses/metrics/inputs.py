"""Input checks shared by every metric: one sample in, NumPy arrays out, or an error naming the sample.

Images are ``(H, W, 3)`` ``uint8`` arrays, ``uint16`` arrays (quantised to 8 bits as 16-bit files are:
``round(v / 257)``, see :mod:`rses.pixels`), or float arrays/tensors in [0, 1] shaped ``(H, W, 3)`` or
``(3, H, W)``. Masks are ``(H, W)`` bool (or two-valued numbers ``{0, v}``; anything else needs
``mask_threshold``, applied on the dtype's range by :func:`rses.pixels.binarize`). Images smaller than a
learned metric's minimum (:data:`LPIPS_MIN_SIDE`) are refused by :func:`check_min_side`. Nothing is repaired
silently. The prepared arrays are NumPy (nothing here imports torch); the learned metrics take them as
tensors with ``torch.from_numpy`` (no copy).

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
from typing import Any

import numpy as np

from rses.errors import InvalidSampleError
from rses.metrics.argkinds import LOAD_HINT, not_an_array
from rses.metrics.arrays import is_tensor
from rses.pixels import binarize, quantize

LPIPS_MIN_SIDE = {"alex": 31, "vgg": 16}
"""Smallest height and width (px) each LPIPS trunk can score: AlexNet's stride-4 conv1 and two 3x3
max-pools need 31 px before conv5, VGG16's four 2x2 max-pools 16 px (checked against the real trunks in
tests/pixels/test_min_size.py). CLIP metrics have no minimum: the crop is resized to the model's input."""


@dataclass
class PreparedSample:
    """A checked sample: C-contiguous ``(3, H, W)`` float32 NumPy images in [0, 1] and an ``(H, W)`` bool
    NumPy mask, plus ``(H, W, 3)`` uint8 copies of the images.
    """

    sample_id: str
    source: np.ndarray
    edited: np.ndarray
    mask: np.ndarray
    target: np.ndarray | None
    source_u8: np.ndarray
    edited_u8: np.ndarray
    target_u8: np.ndarray | None


def as_image(sample_id: str, name: str, image: Any) -> tuple[np.ndarray, np.ndarray]:
    """Check one image and return it as ``(3, H, W)`` float32 in [0, 1] and as ``(H, W, 3)`` uint8."""
    if got := not_an_array(image):
        raise InvalidSampleError(
            f"Sample {sample_id}: {name} image is {got}; expected an array "
            f"(H, W, 3) uint8 or float in [0, 1]. {LOAD_HINT}"
        )
    arr = image.detach().cpu().numpy() if is_tensor(image) else np.asarray(image)
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
        arr = np.moveaxis(arr, 0, -1)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        got = f"{arr.shape[-1]} channels" if arr.ndim == 3 else f"{arr.ndim} dimensions"
        raise InvalidSampleError(
            f"Sample {sample_id}: {name} image has shape {arr.shape} ({got}); expected "
            "RGB (H, W, 3) or (3, H, W). Convert grayscale/RGBA images to RGB first."
        )
    if arr.dtype == np.uint16:
        arr = quantize(arr)
    if arr.dtype == np.uint8:
        u8 = np.ascontiguousarray(arr)
        unit = np.ascontiguousarray(u8.transpose(2, 0, 1), dtype=np.float32)
        return np.divide(unit, 255, out=unit), u8
    if arr.dtype.kind != "f":
        raise InvalidSampleError(
            f"Sample {sample_id}: {name} image has dtype {arr.dtype}, which has no defined "
            "value range; pass uint8 (0-255), uint16 (0-65535) or float in [0, 1]."
        )
    arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise InvalidSampleError(
            f"Sample {sample_id}: {name} image has {int((~np.isfinite(arr)).sum())} NaN/Inf values."
        )
    if arr.min() < 0 or arr.max() > 1:
        raise InvalidSampleError(
            f"Sample {sample_id}: {name} float image must lie in [0, 1], got min "
            f"{arr.min():.4g}, max {arr.max():.4g}. Divide uint8-range floats by 255."
        )
    u8 = np.round(arr * 255).astype(np.uint8)
    return np.ascontiguousarray(arr.transpose(2, 0, 1)), u8


def as_mask(sample_id: str, mask: Any, threshold: float | None = None) -> np.ndarray:
    """Check a mask and return it as ``(H, W)`` bool; ``threshold`` in [0, 1] binarises a soft mask on its
    dtype's range (:func:`rses.pixels.binarize`: 0.5 cuts uint8 at 127.5, uint16 at 32767.5, float at 0.5).
    """
    if got := not_an_array(mask):
        raise InvalidSampleError(
            f"Sample {sample_id}: mask is {got}; expected an (H, W) bool array. {LOAD_HINT}"
        )
    arr = mask.detach().cpu().numpy() if is_tensor(mask) else np.asarray(mask)
    if arr.ndim == 3 and 1 in (arr.shape[0], arr.shape[-1]):
        arr = arr.reshape(arr.shape[1:] if arr.shape[0] == 1 else arr.shape[:-1])
    if arr.ndim != 2:
        raise InvalidSampleError(f"Sample {sample_id}: mask has shape {arr.shape}; expected (H, W).")
    binary = binarize(arr, threshold, f"Sample {sample_id}: mask")
    area = binary.mean()
    if area == 0:
        cut = (
            ""
            if threshold is None or arr.dtype == bool
            else (
                f" after the threshold {threshold} on its {arr.dtype} range (its largest value is {arr.max():g})"
            )
        )
        raise InvalidSampleError(
            f"Sample {sample_id}: mask is empty (no object pixels){cut}; nothing to score."
        )
    if area == 1:
        raise InvalidSampleError(
            f"Sample {sample_id}: mask covers the whole image, so there is no background "
            "to measure preservation on."
        )
    return np.ascontiguousarray(binary)


def check_min_side(sample_id: str, height: int, width: int, minimum: int, metric: str) -> None:
    """Refuse an image smaller than ``minimum`` px on a side, the least ``metric`` can score.

    Example:
        >>> try:
        ...     check_min_side("s0", 30, 64, LPIPS_MIN_SIDE["alex"], "LPIPS (alex)")
        ... except InvalidSampleError as err:
        ...     print(str(err)[:74])
        Sample s0: the image is 30x64 (H x W), smaller than LPIPS (alex) can score
    """
    if min(height, width) < minimum:
        raise InvalidSampleError(
            f"Sample {sample_id}: the image is {height}x{width} (H x W), smaller than {metric} can score: it "
            f"needs at least {minimum} px per side. Upscale the sample, or score it without "
            f"{metric.split()[0]} (--metrics pixel)."
        )


def prepare_sample(
    sample_id: str,
    source: Any,
    edited: Any,
    mask: Any,
    target: Any = None,
    mask_threshold: float | None = None,
    min_side: tuple[int, str] = (1, ""),
) -> PreparedSample:
    """Check a whole sample (shapes agree, values finite and in range, mask binary and non-trivial, and the
    images at least ``min_side = (pixels, metric name)`` per side).
    """
    src, src_u8 = as_image(sample_id, "source", source)
    edt, edt_u8 = as_image(sample_id, "edited", edited)
    tgt, tgt_u8 = as_image(sample_id, "target", target) if target is not None else (None, None)
    m = as_mask(sample_id, mask, mask_threshold)
    for name, img in (("edited", edt), ("target", tgt)):
        if img is not None and img.shape != src.shape:
            raise InvalidSampleError(
                f"Sample {sample_id}: {name} image is {tuple(img.shape[1:])} (H, W) but the "
                f"source is {tuple(src.shape[1:])}; resize the {name} image to the source size."
            )
    if tuple(m.shape) != tuple(src.shape[1:]):
        raise InvalidSampleError(
            f"Sample {sample_id}: mask is {tuple(m.shape)} (H, W) but the source image is "
            f"{tuple(src.shape[1:])}."
        )
    check_min_side(sample_id, *src.shape[1:], *min_side)
    return PreparedSample(sample_id, src, edt, m, tgt, src_u8, edt_u8, tgt_u8)
