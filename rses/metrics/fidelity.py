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

The ``*_t`` forms return float64 0-d tensors on the images' device; off the CPU, the Laplacian and the erosion
run in torch (:func:`laplacian_torch`, :func:`erode_torch`) with OpenCV's borders.

Example:
    >>> import torch
    >>> src = torch.zeros(3, 9, 9); tgt = src.clone(); tgt[:, ::2, ::2] = 1.0; edt = (src + tgt) / 2
    >>> m = torch.ones(9, 9, dtype=torch.bool)
    >>> ref_gain(src, edt, tgt, m)
    0.75
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from rses.metrics import pixel
from rses.metrics.argkinds import array_arguments
from rses.metrics.lpips_bg import lpips_map
from rses.metrics.pixel import ssim_map
from rses.metrics.regions import masked_mean, masked_mean_t

if TYPE_CHECKING:
    from rses.metrics.backends import LpipsBackend


@array_arguments
def mse_in(edited: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float:
    """MSE between ``edited`` and ``target`` inside the mask, [0, 1] pixels."""
    return masked_mean((edited - target) ** 2, mask)


def mse_in_t(edited: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """:func:`mse_in` as a float64 0-d tensor on the images' device."""
    return masked_mean_t((edited - target) ** 2, mask)


@array_arguments
def ssim_in(edited: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float:
    """SSIM map of ``edited`` vs ``target`` averaged inside the mask."""
    return masked_mean(ssim_map(target, edited), mask)


def ssim_in_t(edited: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """:func:`ssim_in` as a float64 0-d tensor on the images' device."""
    return masked_mean_t(ssim_map(target, edited), mask)


@array_arguments
def lpips_in(backend: LpipsBackend, edited: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float:
    """Spatial LPIPS of ``edited`` vs ``target`` averaged inside the mask."""
    return masked_mean(lpips_map(backend, target, edited), mask)


def ref_gain_from_mse(mse_edited: float, mse_source: float) -> float:
    """``clamp(1 - mse_edited / mse_source, 0, 1)``; a target equal to the source gives 1 only if matched."""
    if mse_source <= 0:
        return 1.0 if mse_edited <= 0 else 0.0
    return min(1.0, max(0.0, 1.0 - mse_edited / mse_source))


REF_GAIN_ERODE = 3
_LAPLACIAN = np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def laplacian(image: torch.Tensor) -> torch.Tensor:
    """4-neighbour Laplacian of a ``(C, H, W)`` image per channel, float64, reflected borders (OpenCV)."""
    if pixel.use_torch(image):
        return laplacian_torch(image)
    hwc = image.detach().cpu().double().permute(1, 2, 0).contiguous().numpy()
    out = cv2.filter2D(hwc, cv2.CV_64F, _LAPLACIAN, borderType=cv2.BORDER_REFLECT_101)
    return torch.from_numpy(out.reshape(hwc.shape)).permute(2, 0, 1)


def laplacian_torch(image: torch.Tensor) -> torch.Tensor:
    """:func:`laplacian` in torch on the image's device (``BORDER_REFLECT_101`` is torch's ``reflect``)."""
    x = F.pad(image.detach().to(torch.float64)[:, None], (1, 1, 1, 1), mode="reflect")
    kernel = torch.as_tensor(_LAPLACIAN, device=image.device)[None, None]
    return F.conv2d(x, kernel)[:, 0]


def erode(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """``mask`` eroded by a ``(2 * pixels + 1)`` square (the image border does not erode); the mask itself
    when erosion would leave nothing.
    """
    if pixel.use_torch(mask):
        return erode_torch(mask, pixels)
    kernel = np.ones((2 * pixels + 1, 2 * pixels + 1), np.uint8)
    core = torch.from_numpy(cv2.erode(mask.cpu().numpy().astype(np.uint8), kernel).astype(bool))
    return core if bool(core.any()) else mask.cpu()


def erode_torch(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """:func:`erode` in torch on the mask's device: a max filter of the complement, zero (no-erode) borders."""
    k = 2 * pixels + 1
    outside = F.max_pool2d((~mask)[None, None].to(torch.float32), k, stride=1, padding=pixels)[0, 0] > 0
    core = ~outside
    return torch.where(core.any(), core, mask)


@array_arguments
def ref_gain(
    source: torch.Tensor,
    edited: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    erode_pixels: int = REF_GAIN_ERODE,
) -> float:
    """How far inside the mask the edit moved from the source to the target (in Laplacians), in [0, 1]."""
    return float(ref_gain_t(source, edited, target, mask, erode_pixels))


def ref_gain_t(
    source: torch.Tensor,
    edited: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    erode_pixels: int = REF_GAIN_ERODE,
) -> torch.Tensor:
    """:func:`ref_gain` as a float64 0-d tensor on the images' device (:func:`ref_gain_from_mse` in torch)."""
    core, lap_target = erode(mask.to(source.device), erode_pixels).to(source.device), laplacian(target)
    edited_mse = masked_mean_t((laplacian(edited) - lap_target) ** 2, core)
    source_mse = masked_mean_t((laplacian(source) - lap_target) ** 2, core)
    gain = (1.0 - edited_mse / torch.where(source_mse > 0, source_mse, 1.0)).clamp(0.0, 1.0)
    return torch.where(source_mse > 0, gain, (edited_mse <= 0).to(torch.float64))
