"""In-region fidelity to a pseudo-ground-truth target (the stylized object seamlessly cloned into the source).

* ``lpips_in``: spatial LPIPS (edited vs target) averaged inside the mask (lower is better);
* ``ssim_in``: SSIM map (edited vs target) averaged inside the mask (higher is better);
* ``mse_in``: MSE inside the mask (lower is better);
* ``ref_gain``: ``clamp(1 - E(edited, target) / E(source, target), 0, 1)`` with ``E`` the mean squared
  difference of the images' Laplacians over the mask eroded by ``REF_GAIN_ERODE`` pixels: the share of the
  source-to-target distance inside the object that the edit covered, 0 for an untouched object, 1 for a
  perfect match. It is the weight-free style-success term of ``rses_ref``.

Why Laplacians: the pseudo-GT target is the stylized object Poisson-blended into the source, which keeps the
stylized image's Laplacian inside the object and bends its low-frequency colours to meet the surroundings.
Comparing Laplacians asks "does the object carry the target style's texture and structure?" and ignores the
colour shift of the blend (plain pixel MSE scores the exact stylized object as far from its own blended
target). The erosion skips the band where OpenCV's ``seamlessClone`` erodes the mask and where the Laplacian
would straddle the boundary; a mask too small to erode is used as it is.

Images are ``(C, H, W)`` float arrays in [0, 1] and masks ``(H, W)`` bool, NumPy arrays or torch tensors
(:mod:`rses.metrics.arrays`). Each formula is written once; the Laplacian and the erosion dispatch: OpenCV
for NumPy, :func:`laplacian_torch` and :func:`erode_torch` (OpenCV's borders) for tensors. The ``*_t`` forms
return float64 0-d values of the inputs' kind (a tensor stays on its device).

Example:
    >>> import numpy as np
    >>> src = np.zeros((3, 9, 9)); tgt = src.copy(); tgt[:, ::2, ::2] = 1.0; edt = (src + tgt) / 2
    >>> m = np.ones((9, 9), bool)
    >>> ref_gain(src, edt, tgt, m)
    0.75
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from rses.metrics.argkinds import Image, Mask, array_arguments
from rses.metrics.arrays import is_tensor, namespace, same_kind
from rses.metrics.pixel import ssim_map
from rses.metrics.regions import masked_mean, masked_mean_t

if TYPE_CHECKING:
    import torch

    from rses.metrics.backends import LpipsBackend


@array_arguments
def mse_in(edited: Image, target: Image, mask: Mask) -> float:
    """MSE between ``edited`` and ``target`` inside the mask, [0, 1] pixels."""
    return float(mse_in_t(*same_kind(edited, target, mask)))


def mse_in_t(edited: Any, target: Any, mask: Any) -> Any:
    """:func:`mse_in` as a float64 0-d value of the images' kind."""
    return masked_mean_t((edited - target) ** 2, mask)


@array_arguments
def ssim_in(edited: Image, target: Image, mask: Mask) -> float:
    """SSIM map of ``edited`` vs ``target`` averaged inside the mask."""
    return float(ssim_in_t(*same_kind(edited, target, mask)))


def ssim_in_t(edited: Any, target: Any, mask: Any) -> Any:
    """:func:`ssim_in` as a float64 0-d value of the images' kind."""
    return masked_mean_t(ssim_map(target, edited), mask)


@array_arguments
def lpips_in(backend: LpipsBackend, edited: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float:
    """Spatial LPIPS of ``edited`` vs ``target`` averaged inside the mask."""
    from rses.metrics.lpips_bg import lpips_map

    return masked_mean(lpips_map(backend, target, edited), mask)


def ref_gain_from_mse(mse_edited: float, mse_source: float) -> float:
    """``clamp(1 - mse_edited / mse_source, 0, 1)``; a target equal to the source gives 1 only if matched."""
    return float(ref_gain_from_mse_t(np.float64(mse_edited), np.float64(mse_source)))


def ref_gain_from_mse_t(mse_edited: Any, mse_source: Any) -> Any:
    """:func:`ref_gain_from_mse` of float64 0-d values (NumPy, or tensors on their device)."""
    xp = namespace(mse_edited)
    gain = xp.clip(1.0 - mse_edited / xp.where(mse_source > 0, mse_source, 1.0), 0.0, 1.0)
    return xp.where(mse_source > 0, gain, xp.where(mse_edited <= 0, 1.0, 0.0))


REF_GAIN_ERODE = 3
_LAPLACIAN = np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def laplacian(image: Any) -> Any:
    """4-neighbour Laplacian of a ``(C, H, W)`` image per channel, float64, reflected borders (OpenCV)."""
    if is_tensor(image):
        return laplacian_torch(image)
    import cv2

    planes = np.ascontiguousarray(image, dtype=np.float64)
    out = np.empty(planes.shape)
    for plane, dst in zip(planes, out, strict=True):
        cv2.filter2D(plane, cv2.CV_64F, _LAPLACIAN, dst=dst, borderType=cv2.BORDER_REFLECT_101)
    return out


def laplacian_torch(image: torch.Tensor) -> torch.Tensor:
    """:func:`laplacian` in torch on the image's device (``BORDER_REFLECT_101`` is torch's ``reflect``)."""
    import torch
    import torch.nn.functional as F

    x = F.pad(image.detach().to(torch.float64)[:, None], (1, 1, 1, 1), mode="reflect")
    kernel = torch.as_tensor(_LAPLACIAN, device=image.device)[None, None]
    return F.conv2d(x, kernel)[:, 0]


def erode(mask: Any, pixels: int) -> Any:
    """``mask`` eroded by a ``(2 * pixels + 1)`` square (the image border does not erode); the mask itself
    when erosion would leave nothing.
    """
    if is_tensor(mask):
        return erode_torch(mask, pixels)
    import cv2

    kernel = np.ones((2 * pixels + 1, 2 * pixels + 1), np.uint8)
    core = cv2.erode(np.asarray(mask).astype(np.uint8), kernel).astype(bool)
    return core if core.any() else mask


def erode_torch(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """:func:`erode` in torch on the mask's device: a max filter of the complement, zero (no-erode) borders."""
    import torch
    import torch.nn.functional as F

    k = 2 * pixels + 1
    outside = F.max_pool2d((~mask)[None, None].to(torch.float32), k, stride=1, padding=pixels)[0, 0] > 0
    core = ~outside
    return torch.where(core.any(), core, mask)


@array_arguments
def ref_gain(
    source: Image, edited: Image, target: Image, mask: Mask, erode_pixels: int = REF_GAIN_ERODE
) -> float:
    """How far inside the mask the edit moved from the source to the target (in Laplacians), in [0, 1]."""
    return float(ref_gain_t(*same_kind(source, edited, target, mask), erode_pixels))


def ref_gain_t(source: Any, edited: Any, target: Any, mask: Any, erode_pixels: int = REF_GAIN_ERODE) -> Any:
    """:func:`ref_gain` as a float64 0-d value of the images' kind (:func:`ref_gain_from_mse_t` of the
    Laplacians' masked MSEs).
    """
    core, lap_target = erode(mask, erode_pixels), laplacian(target)
    edited_mse = masked_mean_t((laplacian(edited) - lap_target) ** 2, core)
    source_mse = masked_mean_t((laplacian(source) - lap_target) ** 2, core)
    return ref_gain_from_mse_t(edited_mse, source_mse)
