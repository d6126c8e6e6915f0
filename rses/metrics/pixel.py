"""Weight-free background metrics on [0, 1] pixels: MSE_bg, PSNR_bg, SSIM_bg and pixel consistency.

Each compares the edited image to the source over the background (``~mask``, optionally minus a boundary
band). ``pixel_range="symmetric"`` scales pixels to [-1, 1] first (MSE x 4), the other common convention
(the paper's MSE_bg range may be on that scale; PSNR and SSIM do not change).

Each metric has a ``*_t`` form returning a float64 0-d tensor on the images' device, so a batch on a GPU is
read back in one transfer. SSIM runs OpenCV's box filter on CPU tensors and an equivalent torch path
(:func:`ssim_map_torch`, float64, same symmetric borders) on other devices; the two agree to 1e-10.

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
import torch.nn.functional as F

from rses.errors import UsageError
from rses.metrics.argkinds import array_arguments
from rses.metrics.regions import masked_mean, masked_mean_t

PIXEL_RANGES = ("unit", "symmetric")
PSNR_MAX = 100.0  # dB; an exact background (MSE 0) reports this instead of infinity
CONSISTENCY_TOL = 2 / 255
SSIM_WIN, SSIM_K1, SSIM_K2 = 7, 0.01, 0.03


def use_torch(image: torch.Tensor) -> bool:
    """Whether the pixel metrics take their torch path for ``image``: on any device but the CPU."""
    return image.device.type != "cpu"


@array_arguments
def mse_bg(
    source: torch.Tensor, edited: torch.Tensor, region: torch.Tensor, pixel_range: str = "unit"
) -> float:
    """Mean squared error over the ``region`` pixels and all channels; ``(3, H, W)`` images in [0, 1]."""
    if pixel_range not in PIXEL_RANGES:
        raise UsageError(f"pixel_range must be one of {PIXEL_RANGES}, got {pixel_range!r}.")
    scale = 4.0 if pixel_range == "symmetric" else 1.0
    return scale * float(mse_bg_t(source, edited, region))


def mse_bg_t(source: torch.Tensor, edited: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """:func:`mse_bg` on the unit scale as a float64 0-d tensor on the images' device."""
    return masked_mean_t((edited - source) ** 2, region)


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB for [0, 1] pixels, capped at :data:`PSNR_MAX`."""
    return PSNR_MAX if mse <= 10 ** (-PSNR_MAX / 10) else min(PSNR_MAX, 10 * math.log10(1.0 / mse))


def psnr_from_mse_t(mse: torch.Tensor) -> torch.Tensor:
    """:func:`psnr_from_mse` of a float64 0-d tensor, on its device."""
    exact = mse <= 10 ** (-PSNR_MAX / 10)
    db = 10 * torch.log10(1.0 / torch.where(exact, 1.0, mse))
    return torch.where(exact, PSNR_MAX, db.clamp(max=PSNR_MAX))


@array_arguments
def psnr_bg(source: torch.Tensor, edited: torch.Tensor, region: torch.Tensor) -> float:
    """PSNR of the background, data range 1 (identical on the symmetric scale)."""
    return psnr_from_mse(mse_bg(source, edited, region))


def ssim_map(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Per-pixel, per-channel SSIM map ``(C, H, W)``, as :func:`skimage.metrics.structural_similarity`.

    Same settings as scikit-image's defaults: 7x7 uniform window, sample covariance, K1 = 0.01, K2 = 0.03,
    symmetric borders (SciPy 'reflect' = OpenCV ``BORDER_REFLECT``). Computed in float64 on ``(H, W, C)``
    memory: four OpenCV box filters (``blur(x^2) + blur(y^2) = blur(x^2 + y^2)``) and in-place arithmetic.
    """
    if use_torch(x):
        return ssim_map_torch(x, y, data_range)
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


def ssim_map_torch(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """:func:`ssim_map` in torch on the inputs' device (float64): the path the suite takes on a GPU."""
    x, y = x.detach().to(torch.float64)[None], y.detach().to(torch.float64)[None]
    cov_norm = SSIM_WIN**2 / (SSIM_WIN**2 - 1)
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    ux, uy, uxx, uyy, uxy = (_box_torch(t) for t in (x, y, x * x, y * y, x * y))
    vx, vy, vxy = cov_norm * (uxx - ux * ux), cov_norm * (uyy - uy * uy), cov_norm * (uxy - ux * uy)
    return ((2 * ux * uy + c1) * (2 * vxy + c2) / ((ux * ux + uy * uy + c1) * (vx + vy + c2)))[0]


def _box_torch(image: torch.Tensor) -> torch.Tensor:
    """7x7 mean filter of ``(1, C, H, W)`` with symmetric borders (OpenCV ``BORDER_REFLECT``: ``cba|abc``)."""
    r = SSIM_WIN // 2
    for dim in (-2, -1):
        n = image.shape[dim]
        index = torch.cat([torch.arange(r - 1, -1, -1), torch.arange(n), torch.arange(n - 1, n - 1 - r, -1)])
        image = image.index_select(dim, index.clamp(0, n - 1).to(image.device))
    return F.avg_pool2d(image, SSIM_WIN, stride=1)


def _hwc_float64(image: torch.Tensor) -> torch.Tensor:
    """A new contiguous float64 ``(H, W, C)`` CPU copy of a ``(C, H, W)`` image (the caller's is never written)."""
    c, h, w = image.shape
    return torch.empty((h, w, c), dtype=torch.float64).copy_(image.detach().permute(1, 2, 0))


def _box(image: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """7x7 mean filter of a contiguous ``(H, W, C)`` tensor with symmetric borders (into ``out``, if given)."""
    import cv2

    dst = (
        None if out is None else out.numpy().reshape(image.shape[:2] if image.shape[2] == 1 else image.shape)
    )
    res = cv2.blur(image.numpy(), (SSIM_WIN, SSIM_WIN), dst=dst, borderType=cv2.BORDER_REFLECT)
    return out if out is not None else torch.from_numpy(res.reshape(image.shape))


@array_arguments
def ssim_bg(source: torch.Tensor, edited: torch.Tensor, region: torch.Tensor) -> float:
    """SSIM map (source vs edited) averaged over the ``region`` pixels and the channels."""
    return masked_mean(ssim_map(source, edited), region)


def ssim_bg_t(source: torch.Tensor, edited: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """:func:`ssim_bg` as a float64 0-d tensor on the images' device."""
    return masked_mean_t(ssim_map(source, edited), region)


@array_arguments
def pixel_consistency(
    source: torch.Tensor, edited: torch.Tensor, region: torch.Tensor, tol: float = CONSISTENCY_TOL
) -> float:
    """Share of ``region`` pixels whose largest channel change is at most ``tol`` (on [0, 1])."""
    return float(pixel_consistency_t(source, edited, region, tol))


def pixel_consistency_t(
    source: torch.Tensor, edited: torch.Tensor, region: torch.Tensor, tol: float = CONSISTENCY_TOL
) -> torch.Tensor:
    """:func:`pixel_consistency` as a float64 0-d tensor on the images' device."""
    kept = (edited - source).abs().amax(dim=0) * 255 <= tol * 255 + 1e-4
    return (kept & region).sum(dtype=torch.float64) / region.sum()
