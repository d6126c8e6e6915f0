"""Shared fixtures: tiny random-weight backends (built once) and hand-made / real-photo samples."""

import numpy as np
import pytest
from skimage import data, transform

from rses.testing.clip import tiny_clip_backend
from rses.testing.lpips import tiny_lpips_backend


@pytest.fixture(scope="session")
def clip_backend():
    return tiny_clip_backend(seed=0)


@pytest.fixture(scope="session")
def lpips_backend():
    return tiny_lpips_backend(seed=0)


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
