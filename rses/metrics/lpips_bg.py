"""LPIPS_bg: the spatial LPIPS map (edited vs source, inputs in [-1, 1]) averaged over the background.

``boundary`` > 0 drops background pixels within that many pixels of the object, because each LPIPS map
value sees a receptive field (AlexNet conv5: 163 px) that can reach into the edited object.

Example:
    >>> import torch
    >>> from rses.testing import tiny_lpips_backend
    >>> img = torch.rand(3, 32, 32); m = torch.zeros(32, 32, dtype=torch.bool); m[:8, :8] = True
    >>> lpips_bg(tiny_lpips_backend(), img, img, m)
    0.0
"""

from __future__ import annotations

import torch

from rses.metrics.regions import background_region, masked_mean


def to_lpips_range(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> [-1, 1], the range LPIPS expects."""
    return images * 2 - 1


def lpips_map(backend, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(H, W)`` spatial LPIPS between two ``(3, H, W)`` images in [0, 1] (one batched trunk pass)."""
    f = backend.features(to_lpips_range(torch.stack([a, b])))
    return backend.distance_map([x[:1] for x in f], [x[1:] for x in f], tuple(a.shape[-2:]))[0, 0]


def lpips_bg(backend, source: torch.Tensor, edited: torch.Tensor, mask: torch.Tensor, boundary: int = 0) -> float:
    """LPIPS map of ``edited`` vs ``source`` averaged over the background (minus the boundary band)."""
    return masked_mean(lpips_map(backend, source, edited), background_region(mask, boundary))
