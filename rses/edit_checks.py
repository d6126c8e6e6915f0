"""Checks on what an editor returned, and bringing an edit to its source's size.

:func:`check_edit` accepts an ``(H, W, 3)`` uint8 array with no NaN whose size ``SIZE_POLICY`` allows;
:func:`shared_outputs` finds outputs of one batch that share memory (the runner then edits them one by one);
:func:`to_source_size` resizes with ``RESIZE_METHOD``. The runner records ``RESIZE_METHOD`` and
``SIZE_POLICY`` in run.json.

Example:
    >>> import numpy as np
    >>> to_source_size(check_edit(np.zeros((64, 64, 3), np.uint8), "s0", (32, 32)), (32, 32)).shape
    (32, 32, 3)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from rses.errors import InvalidSampleError

RESIZE_METHOD = "PIL.Image.resize(LANCZOS) to the source height x width"
#: Each side of an edit may be at most this many times larger or smaller than the source's.
MAX_SIZE_FACTOR = 4.0
#: The edit's width / height may differ from the source's by this fraction (or by one pixel of rounding).
ASPECT_TOLERANCE = 0.05
SIZE_POLICY = (
    f"each side within a factor {MAX_SIZE_FACTOR:g} of the source's and the aspect ratio within "
    f"{ASPECT_TOLERANCE:.0%} (or one pixel); then {RESIZE_METHOD}; any other size is a failed sample"
)


def check_edit(image: Any, sample_id: str, source_size: tuple[int, int] | None = None) -> np.ndarray:
    """Validate one editor output: an ``(H, W, 3)`` uint8 array with no NaN, of a size ``SIZE_POLICY`` allows
    for a source of ``source_size = (height, width)`` (not checked when ``None``).

    Raises:
        InvalidSampleError: naming the sample and what was wrong.

    Example:
        >>> check_edit(np.zeros((64, 64, 3), np.uint8), "s0", (32, 32)).shape
        (64, 64, 3)
    """
    if not isinstance(image, np.ndarray):
        raise InvalidSampleError(
            f"Editor returned a {type(image).__name__} for sample {sample_id!r}, not an array."
        )
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        raise InvalidSampleError(f"Editor returned NaN/inf values for sample {sample_id!r}.")
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
        raise InvalidSampleError(
            f"Editor returned shape {image.shape} for sample {sample_id!r}; expected (H, W, 3) RGB."
        )
    if image.dtype != np.uint8:
        raise InvalidSampleError(
            f"Editor returned dtype {image.dtype} for sample {sample_id!r}; expected uint8."
        )
    if source_size is not None:
        check_size(image.shape[:2], source_size, sample_id)
    return image


def check_size(size: tuple[int, int], source_size: tuple[int, int], sample_id: str) -> None:
    """Refuse an edit size outside ``SIZE_POLICY`` (sides within ``MAX_SIZE_FACTOR``, aspect within
    ``ASPECT_TOLERANCE`` or one pixel).

    Raises:
        InvalidSampleError: naming the sample, both sizes and the policy.
    """
    (h, w), (sh, sw) = size, source_size
    sides_ok = all(s / MAX_SIZE_FACTOR <= e <= s * MAX_SIZE_FACTOR for e, s in ((h, sh), (w, sw)))
    expected_w = h * sw / sh
    if not sides_ok or abs(w - expected_w) > max(ASPECT_TOLERANCE * expected_w, 1.0):
        raise InvalidSampleError(
            f"Editor returned a {w}x{h} image for sample {sample_id!r} whose source is {sw}x{sh}; "
            f"allowed: {SIZE_POLICY}."
        )


def shared_outputs(images: Sequence[Any]) -> list[tuple[int, int]]:
    """Pairs ``(i, j)`` of outputs that share memory (the same array, or overlapping views of one buffer).

    Disjoint rows of one array (``list(batch_array)``) do not count: they hold different images.

    Example:
        >>> buf = np.zeros((2, 4, 4, 3), np.uint8)
        >>> shared_outputs([buf[0], buf[1]]), shared_outputs([buf[0], buf[0]])
        ([], [(0, 1)])
    """
    arrays = [(i, im) for i, im in enumerate(images) if isinstance(im, np.ndarray)]
    return [
        (i, j)
        for n, (i, a) in enumerate(arrays)
        for j, b in arrays[n + 1 :]
        if np.may_share_memory(a, b) and np.shares_memory(a, b)
    ]


def to_source_size(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize ``image`` to ``size = (height, width)`` with ``RESIZE_METHOD`` (no-op when it already fits)."""
    if image.shape[:2] == tuple(size):
        return image
    resized = Image.fromarray(image).resize((size[1], size[0]), Image.Resampling.LANCZOS)
    return np.array(resized, dtype=np.uint8)
