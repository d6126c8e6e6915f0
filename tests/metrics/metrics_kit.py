"""Hand-made and real-photo inputs for the metric tests (imported as ``metrics_kit``, like ``harness_kit``)."""

import numpy as np
from skimage import data, transform


def photo(name: str = "astronaut", size: int = 64) -> np.ndarray:
    """A real scikit-image photo resized to ``size`` x ``size`` uint8 RGB."""
    img = getattr(data, name)()
    return (transform.resize(img, (size, size), anti_aliasing=True) * 255).round().astype(np.uint8)


def box_mask(size: int = 64, top: int = 16, bottom: int = 40, left: int = 20, right: int = 44) -> np.ndarray:
    mask = np.zeros((size, size), bool)
    mask[top:bottom, left:right] = True
    return mask


def posterize(img: np.ndarray) -> np.ndarray:
    """A simple, strong 'style': two levels per channel."""
    return np.where(img >= 128, 255, 0).astype(np.uint8)


def paste(source: np.ndarray, styled: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.where(mask[..., None], styled, source)
