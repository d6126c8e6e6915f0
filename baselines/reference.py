"""Weight-free reference editors: they make the built-in benchmark meaningful without any weights.

- ``identity``: returns the source unchanged (perfect preservation, no style).
- ``global-style``: restyles the whole image (full style, no preservation).
- ``paste-style``: restyles only inside the ground-truth mask with a hard edge. It sees the mask: an oracle.
- ``clone-style``: restyles, then Poisson-blends the result into the mask with OpenCV ``seamlessClone``.
  It sees the mask. This is exactly the recipe of the built-in split's pseudo-GT targets
  (:func:`clone_style`).

Example:
    >>> import numpy as np
    >>> from rses.editing import EditRequest
    >>> img = np.full((8, 8, 3), 90, np.uint8); mask = np.zeros((8, 8), bool); mask[2:6, 2:6] = True
    >>> req = EditRequest("s0", img, mask, "make the box in line-art style", "line-art", "box")
    >>> out = PasteStyleEditor().edit([req])[0]
    >>> bool((out[~mask] == img[~mask]).all()), bool((out[mask] != img[mask]).any())
    (True, True)
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from baselines.stylize import stylize
from rses.editing import Editor, EditRequest
from rses.errors import InvalidSampleError


def paste_style(image: np.ndarray, mask: np.ndarray, style: str) -> np.ndarray:
    """Restyle ``image`` and paste the result inside ``mask`` with a hard edge; outside stays exact."""
    return np.where(mask[..., None], stylize(image, style), image)


def seamless_blend(
    foreground: np.ndarray, background: np.ndarray, mask: np.ndarray, pad: int = 8
) -> np.ndarray:
    """Poisson-blend ``foreground`` into ``background`` inside ``mask`` (OpenCV ``seamlessClone``, normal).

    Both images are reflect-padded by ``pad`` pixels first, so masks touching the border blend like any
    other, and the result is ``background`` exactly outside ``mask``.

    Args:
        foreground: ``(H, W, 3)`` uint8, the content whose gradients are kept inside the mask.
        background: ``(H, W, 3)`` uint8, the content kept outside and on the boundary.
        mask: ``(H, W)`` bool.
        pad: border padding in pixels.
    """
    if not mask.any():
        return background.copy()
    fg = cv2.copyMakeBorder(foreground, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    bg = cv2.copyMakeBorder(background, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    m = cv2.copyMakeBorder(mask.astype(np.uint8) * 255, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    x, y, w, h = cv2.boundingRect(m)
    # seamlessClone puts the mask's bounding box's top-left at centre - (w // 2, h // 2): keep it in place
    blended = cv2.seamlessClone(fg, bg, m, (x + w // 2, y + h // 2), cv2.NORMAL_CLONE)
    blended = blended[pad:-pad, pad:-pad]
    return np.where(mask[..., None], blended, background)


def clone_style(image: np.ndarray, mask: np.ndarray, style: str) -> np.ndarray:
    """The pseudo-GT recipe: restyle the whole image, then seamless-clone it into ``mask``."""
    return seamless_blend(stylize(image, style), image, mask)


def _mask_of(request: EditRequest, editor: str) -> np.ndarray:
    if request.mask is None:
        raise InvalidSampleError(
            f"Sample {request.sample_id!r}: editor {editor!r} needs the ground-truth mask but got mask=None; "
            "pass the sample's mask (the runner does so for editors with sees_mask=True)."
        )
    if request.mask.shape != request.image.shape[:2]:
        raise InvalidSampleError(
            f"Sample {request.sample_id!r}: mask shape {request.mask.shape} differs from image shape "
            f"{request.image.shape[:2]}; masks must have the source's height and width."
        )
    return request.mask.astype(bool)


class IdentityEditor(Editor):
    """Returns every source image unchanged: the preservation upper bound and the style lower bound."""

    name = "identity"

    def edit(self, requests: Sequence[EditRequest]) -> list[np.ndarray]:
        """The source images, unchanged."""
        return [r.image.copy() for r in requests]


class GlobalStyleEditor(Editor):
    """Restyles the whole image with the classical stylizer of the request's style (mask-free)."""

    name = "global-style"

    def edit(self, requests: Sequence[EditRequest]) -> list[np.ndarray]:
        """Each source image, stylized as a whole (the mask is not used)."""
        return [stylize(r.image, r.style) for r in requests]


class PasteStyleEditor(Editor):
    """Oracle: restyles only inside the ground-truth mask, hard-edged; outside pixels are the source's."""

    name = "paste-style"
    sees_mask = True

    def edit(self, requests: Sequence[EditRequest]) -> list[np.ndarray]:
        """Each source image with the stylized image pasted inside the mask."""
        return [paste_style(r.image, _mask_of(r, self.name), r.style) for r in requests]


class CloneStyleEditor(Editor):
    """Oracle: restyles, then seamless-clones into the ground-truth mask (the built-in pseudo-GT recipe)."""

    name = "clone-style"
    sees_mask = True

    def edit(self, requests: Sequence[EditRequest]) -> list[np.ndarray]:
        """Each source image with the stylized region blended in by seamless cloning."""
        return [clone_style(r.image, _mask_of(r, self.name), r.style) for r in requests]
