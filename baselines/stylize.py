"""Four classical, weight-free style operators: the paper's styles done with scikit-image / OpenCV ops.

Each operator is a pure, deterministic function ``(H, W, 3) uint8 RGB -> (H, W, 3) uint8 RGB``:

- :func:`pixel_art`: area downsample, median-cut palette quantization, nearest-neighbour upsample.
- :func:`line_art`: XDoG (extended difference of Gaussians) ink lines on white paper.
- :func:`cyberpunk`: neon colour grading (deep violet shadows, magenta mids, cyan highlights) plus glow.
- :func:`expressionism`: Kuwahara (oil-paint-like) smoothing, then strong saturation and contrast.

They are the reference editors' style engine and make the built-in split's pseudo-GT targets, so any
change here changes the shipped data: regenerate it with ``rses data make-builtin``.

Example:
    >>> import numpy as np
    >>> img = np.full((16, 16, 3), 255, np.uint8)
    >>> out = stylize(img, "line-art")  # a blank page has no lines
    >>> out.shape, out.dtype, int(out.min())
    ((16, 16, 3), dtype('uint8'), 255)
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image

from rses.errors import UsageError

Stylizer = Callable[[np.ndarray], np.ndarray]


def _check_rgb(image: np.ndarray) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(
            f"expected an (H, W, 3) uint8 RGB image, got shape {image.shape} dtype {image.dtype}; "
            "load images with rses.io.load_image"
        )


def _gray01(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0


def pixel_art(image: np.ndarray, block: int = 6, colors: int = 16) -> np.ndarray:
    """Pixel-art: average ``block x block`` cells, quantize to a ``colors``-entry palette, upsample nearest.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        block: the side of one big pixel, in source pixels.
        colors: palette size (median cut, no dithering).

    Example:
        >>> img = np.zeros((4, 4, 3), np.uint8); img[:, 2:] = 200
        >>> pixel_art(img, block=2, colors=2)[:, :, 0].tolist()
        [[0, 0, 200, 200], [0, 0, 200, 200], [0, 0, 200, 200], [0, 0, 200, 200]]
    """
    _check_rgb(image)
    h, w = image.shape[:2]
    small = cv2.resize(
        image, (max(1, round(w / block)), max(1, round(h / block))), interpolation=cv2.INTER_AREA
    )
    palette = Image.fromarray(small).quantize(
        colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    small = np.asarray(palette.convert("RGB"))
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


def line_art(
    image: np.ndarray,
    sigma: float = 1.0,
    k: float = 1.6,
    p: float = 20.0,
    eps: float = 0.2,
    phi: float = 10.0,
) -> np.ndarray:
    """Line-art: XDoG edges (Winnemoeller et al. 2012), black ink on white.

    ``d = (1 + p) G_sigma - p G_{k sigma}`` of the grey image; pixels with ``d >= eps`` are paper (white),
    the rest ink with a soft ``1 + tanh(phi (d - eps))`` ramp.

    Example:
        >>> line_art(np.full((8, 8, 3), 255, np.uint8)).min()  # a blank page stays blank
        np.uint8(255)
    """
    _check_rgb(image)
    gray = _gray01(image)
    g1 = cv2.GaussianBlur(gray, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    g2 = cv2.GaussianBlur(gray, (0, 0), sigma * k, borderType=cv2.BORDER_REFLECT)
    d = (1.0 + p) * g1 - p * g2
    ink = np.where(d >= eps, 1.0, 1.0 + np.tanh(phi * (d - eps)))
    ink = np.clip(ink * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(ink[..., None], 3, axis=2)


# Neon gradient stops on luminance: deep violet shadows, hot magenta mids, cyan highlights.
_NEON_STOPS = np.array([0.0, 0.35, 0.7, 1.0])
_NEON_RGB = np.array([[18, 4, 48], [120, 10, 160], [255, 40, 200], [80, 255, 255]], dtype=np.float32)


def cyberpunk(
    image: np.ndarray, glow_sigma: float = 6.0, glow_strength: float = 0.8, mix: float = 0.8
) -> np.ndarray:
    """Cyberpunk: map luminance onto a neon gradient, keep a little of the original colour, add bloom.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        glow_sigma: Gaussian sigma (pixels) of the bloom around bright areas.
        glow_strength: how much bloom is screen-blended on top.
        mix: weight of the neon grade against the original colours.

    Example:
        >>> out = cyberpunk(np.zeros((4, 4, 3), np.uint8))  # black becomes deep violet
        >>> out[0, 0].tolist()
        [14, 3, 38]
    """
    _check_rgb(image)
    lum = _gray01(image)
    graded = np.stack([np.interp(lum, _NEON_STOPS, _NEON_RGB[:, c]) for c in range(3)], axis=-1) / 255.0
    base = mix * graded + (1.0 - mix) * image.astype(np.float32) / 255.0
    bright = np.clip((lum - 0.55) / 0.45, 0.0, 1.0)[..., None] * graded
    glow = cv2.GaussianBlur(bright.astype(np.float32), (0, 0), glow_sigma, borderType=cv2.BORDER_REFLECT)
    out = 1.0 - (1.0 - base) * (1.0 - glow_strength * glow)  # screen blend
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _kuwahara(image: np.ndarray, radius: int) -> np.ndarray:
    """Kuwahara filter: each pixel takes the mean of its least-varied of four overlapping quadrants."""
    img = image.astype(np.float32)
    lum = _gray01(image)
    size = (radius + 1, radius + 1)
    means, variances = [], []
    for dy in (0, radius):  # quadrant anchors: the box ends (dy, dx) pixels above/left of the centre
        for dx in (0, radius):
            anchor = (dx, dy)
            mean = cv2.boxFilter(img, -1, size, anchor=anchor, borderType=cv2.BORDER_REFLECT)
            m1 = cv2.boxFilter(lum, -1, size, anchor=anchor, borderType=cv2.BORDER_REFLECT)
            m2 = cv2.boxFilter(lum * lum, -1, size, anchor=anchor, borderType=cv2.BORDER_REFLECT)
            means.append(mean)
            variances.append(m2 - m1 * m1)
    best = np.argmin(np.stack(variances), axis=0)
    return np.take_along_axis(np.stack(means), best[None, ..., None], axis=0)[0]


def expressionism(
    image: np.ndarray, radius: int = 4, saturation: float = 1.8, contrast: float = 1.25
) -> np.ndarray:
    """Expressionism: Kuwahara brush-stroke smoothing, then boosted saturation and contrast.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        radius: Kuwahara quadrant size (bigger = broader strokes).
        saturation: HSV saturation multiplier.
        contrast: contrast gain around mid-grey.

    Example:
        >>> flat = np.full((6, 6, 3), 100, np.uint8)  # grey has no saturation to boost
        >>> expressionism(flat)[0, 0].tolist()
        [93, 93, 93]
    """
    _check_rgb(image)
    painted = np.clip(_kuwahara(image, radius) + 0.5, 0, 255).astype(np.uint8)
    hsv = cv2.cvtColor(painted, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 1] = np.clip(hsv[..., 1] * saturation, 0, 255)
    vivid = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    return np.clip((vivid - 128.0) * contrast + 128.0 + 0.5, 0, 255).astype(np.uint8)


STYLIZERS: dict[str, Stylizer] = {
    "pixel-art": pixel_art,
    "line-art": line_art,
    "cyberpunk": cyberpunk,
    "expressionism": expressionism,
}
"""The paper's four styles by name, each with its default parameters."""


def get_stylizer(style: str) -> Stylizer:
    """The stylizer for ``style``; :class:`UsageError` listing the known styles otherwise."""
    try:
        return STYLIZERS[style]
    except KeyError:
        raise UsageError(
            f"Unknown style {style!r}; the weight-free stylizers know {', '.join(sorted(STYLIZERS))}."
        ) from None


def stylize(image: np.ndarray, style: str) -> np.ndarray:
    """Restyle a whole ``(H, W, 3)`` uint8 RGB image with the named classical stylizer."""
    return get_stylizer(style)(image)
