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
    symmetric ('reflect' in SciPy) borders; computed in float64 with cumulative-sum box filters.
    """
    x, y = x.double(), y.double()
    ux, uy, uxx, uyy, uxy = _box_filter(torch.stack([x, y, x * x, y * y, x * y]), SSIM_WIN)
    cov_norm = SSIM_WIN**2 / (SSIM_WIN**2 - 1)
    vx, vy, vxy = cov_norm * (uxx - ux * ux), cov_norm * (uyy - uy * uy), cov_norm * (uxy - ux * uy)
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    return ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))


def _box_filter(x: torch.Tensor, size: int) -> torch.Tensor:
    """Mean over a ``size`` x ``size`` window with symmetric borders (SciPy's 'reflect'), via cumulative sums."""
    pad = size // 2
    for dim in (-2, -1):
        n = x.shape[dim]
        x = torch.cat([x.narrow(dim, 0, pad).flip(dim), x, x.narrow(dim, n - pad, pad).flip(dim)], dim)
        c = torch.nn.functional.pad(x.cumsum(dim), (1, 0) if dim == -1 else (0, 0, 1, 0))
        x = (c.narrow(dim, size, n) - c.narrow(dim, 0, n)) / size
    return x


def ssim_bg(source: torch.Tensor, edited: torch.Tensor, region: torch.Tensor) -> float:
    """SSIM map (source vs edited) averaged over the ``region`` pixels and the channels."""
    return masked_mean(ssim_map(source, edited), region)


def pixel_consistency(source: torch.Tensor, edited: torch.Tensor, region: torch.Tensor,
                      tol: float = CONSISTENCY_TOL) -> float:
    """Share of ``region`` pixels whose largest channel change is at most ``tol`` (on [0, 1])."""
    change = (edited - source).abs().amax(dim=0)
    return float((change[region] * 255 <= tol * 255 + 1e-4).double().mean())
