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

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from rses.metrics.argkinds import array_arguments
from rses.metrics.regions import background_region, masked_mean

if TYPE_CHECKING:
    from rses.metrics.backends import LpipsBackend


def to_lpips_range(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> [-1, 1], the range LPIPS expects."""
    return images * 2 - 1


def lpips_map(backend: LpipsBackend, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(H, W)`` spatial LPIPS between two ``(3, H, W)`` images in [0, 1] (one batched trunk pass)."""
    f = backend.features(to_lpips_range(torch.stack([a, b])))
    return backend.distance_map([x[:1] for x in f], [x[1:] for x in f], tuple(a.shape[-2:]))[0, 0]


@array_arguments
def lpips_bg(
    backend: LpipsBackend, source: torch.Tensor, edited: torch.Tensor, mask: torch.Tensor, boundary: int = 0
) -> float:
    """LPIPS map of ``edited`` vs ``source`` averaged over the background (minus the boundary band)."""
    return masked_mean(lpips_map(backend, source, edited), background_region(mask, boundary))


def upsample_weights(region: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``(h, w)`` float64 weights ``W`` such that ``(W * m).sum() == (region * upsample(m)).sum()`` for any map ``m``.

    ``upsample`` is LPIPS' bilinear resize (``align_corners=False``) of an ``(h, w)`` map to the region's size.
    It is separable, ``Uy^T m Ux``, so summing it over the region is summing ``m`` against ``Uy R Ux^T``.
    """
    (height, width), (h, w) = region.shape, size

    def interpolation(n: int, out: int) -> torch.Tensor:  # (n, out): row i is the upsampled i-th unit vector
        eye = torch.eye(n, device=region.device)[:, None]
        return F.interpolate(eye, size=out, mode="linear", align_corners=False)[:, 0]

    # float32 is ample: each weight sums a few dozen products of interpolation coefficients in [0, 1]
    return (interpolation(h, height) @ region.to(torch.float32) @ interpolation(w, width).T).to(torch.float64)


def region_mean(layer_maps: list[torch.Tensor], region: torch.Tensor, weights: dict | None = None) -> float:
    """Mean over ``region`` of the spatial LPIPS map, from the per-layer maps without upsampling them.

    Equals ``masked_mean(sum of upsampled layer maps, region)`` (to float rounding); ``weights`` caches
    :func:`upsample_weights` per map size for this region.
    """
    return float(region_mean_t(layer_maps, region, weights))


def region_mean_t(
    layer_maps: list[torch.Tensor], region: torch.Tensor, weights: dict | None = None
) -> torch.Tensor:
    """:func:`region_mean` as a float64 0-d tensor on the maps' device (no host transfer)."""
    weights = {} if weights is None else weights
    total = 0
    for layer_map in layer_maps:
        size = tuple(layer_map.shape[-2:])
        if size not in weights:
            weights[size] = upsample_weights(region.to(layer_map.device), size)
        total = total + (layer_map[0, 0].to(torch.float64) * weights[size]).sum()
    return total / region.sum().to(total.device)
