"""Weight-free background metrics on [0, 1] pixels: MSE_bg, PSNR_bg, SSIM_bg and pixel consistency.

Each compares the edited image to the source over the background (``~mask``, optionally minus a boundary
band). ``pixel_range="symmetric"`` scales pixels to [-1, 1] first (MSE x 4), the other common convention
(the paper's MSE_bg range may be on that scale; PSNR and SSIM do not change).

Example:
    >>> import torch
    >>> src = torch.zeros(3, 2, 2); edt = src.clone(); edt[:, 0, 0] = 0.5
    >>> background = torch.tensor([[True, True], [False, False]])
    >>> mse_bg(src, edt, background), pixel_consistency(src, edt, background)
    (0.125, 0.5)
"""

from __future__ import annotations

import math

import torch

from rses.errors import UsageError
from rses.metrics.regions import masked_mean

PIXEL_RANGES = ("unit", "symmetric")
PSNR_MAX = 100.0  # dB; an exact background (MSE 0) reports this instead of infinity
CONSISTENCY_TOL = 2 / 255
SSIM_WIN, SSIM_K1, SSIM_K2 = 7, 0.01, 0.03


def mse_bg(source: torch.Tensor, edited: torch.Tensor, region: torch.Tensor, pixel_range: str = "unit") -> float:
    """Mean squared error over the ``region`` pixels and all channels; ``(3, H, W)`` images in [0, 1]."""
    if pixel_range not in PIXEL_RANGES:
        raise UsageError(f"pixel_range must be one of {PIXEL_RANGES}, got {pixel_range!r}.")
    scale = 4.0 if pixel_range == "symmetric" else 1.0
    return scale * masked_mean((edited - source) ** 2, region)


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB for [0, 1] pixels, capped at :data:`PSNR_MAX`."""
    return PSNR_MAX if mse <= 10 ** (-PSNR_MAX / 10) else min(PSNR_MAX, 10 * math.log10(1.0 / mse))


def psnr_bg(source: torch.Tensor, edited: torch.Tensor, region: torch.Tensor) -> float:
    """PSNR of the background, data range 1 (identical on the symmetric scale)."""
    return psnr_from_mse(mse_bg(source, edited, region))


def ssim_map(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Per-pixel, per-channel SSIM map ``(C, H, W)``, as :func:`skimage.metrics.structural_similarity`.

    Same settings as scikit-image's defaults: 7x7 uniform window, sample covariance, K1 = 0.01, K2 = 0.03,
    symmetric borders (SciPy 'reflect' = OpenCV ``BORDER_REFLECT``). Computed in float64 on ``(H, W, C)``
    memory: four OpenCV box filters (``blur(x^2) + blur(y^2) = blur(x^2 + y^2)``) and in-place arithmetic.
    """
    x, y = _hwc_float64(x), _hwc_float64(y)
    cov_norm = SSIM_WIN**2 / (SSIM_WIN**2 - 1)
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    xy, sq = x * y, torch.mul(x, x).addcmul_(y, y)
    ux, uy = _box(x), _box(y)
    uxy, usq = _box(xy, out=x), _box(sq, out=y)  # usq: local mean of x^2 + y^2; x, y are free from here
    num = torch.mul(ux, uy, out=xy)
    den = ux.mul_(ux).addcmul_(uy, uy)  # ux^2 + uy^2
    uxy.sub_(num).mul_(2 * cov_norm).add_(c2)  # 2 cov(x, y) + c2
    num.mul_(2).add_(c1).mul_(uxy)
    usq.sub_(den).mul_(cov_norm).add_(c2)  # var(x) + var(y) + c2
    den.add_(c1).mul_(usq)
    return num.div_(den).permute(2, 0, 1)


def _hwc_float64(image: torch.Tensor) -> torch.Tensor:
    """A new contiguous float64 ``(H, W, C)`` CPU copy of a ``(C, H, W)`` image (the caller's is never written)."""
    c, h, w = image.shape
    return torch.empty((h, w, c), dtype=torch.float64).copy_(image.detach().permute(1, 2, 0))


def _box(image: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """7x7 mean filter of a contiguous ``(H, W, C)`` tensor with symmetric borders (into ``out``, if given)."""
    import cv2

    dst = None if out is None else out.numpy().reshape(image.shape[:2] if image.shape[2] == 1 else image.shape)
    res = cv2.blur(image.numpy(), (SSIM_WIN, SSIM_WIN), dst=dst, borderType=cv2.BORDER_REFLECT)
    return out if out is not None else torch.from_numpy(res.reshape(image.shape))


def ssim_bg(source: torch.Tensor, edited: torch.Tensor, region: torch.Tensor) -> float:
    """SSIM map (source vs edited) averaged over the ``region`` pixels and the channels."""
    return masked_mean(ssim_map(source, edited), region)


def pixel_consistency(source: torch.Tensor, edited: torch.Tensor, region: torch.Tensor,
                      tol: float = CONSISTENCY_TOL) -> float:
    """Share of ``region`` pixels whose largest channel change is at most ``tol`` (on [0, 1])."""
    change = (edited - source).abs().amax(dim=0)
    return float((change[region] * 255 <= tol * 255 + 1e-4).double().mean())
