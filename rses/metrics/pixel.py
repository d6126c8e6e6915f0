"""Weight-free background metrics on [0, 1] pixels: MSE_bg, PSNR_bg, SSIM_bg and pixel consistency.

Each compares the edited image to the source over the background (``~mask``, optionally minus a boundary
band). ``pixel_range="symmetric"`` scales pixels to [-1, 1] first (MSE x 4), the other common convention
(the paper's MSE_bg range may be on that scale; PSNR and SSIM do not change).

Images are ``(C, H, W)`` float arrays in [0, 1], masks ``(H, W)`` bool: NumPy arrays (the CPU path, which
never imports torch) or torch tensors (the path on a GPU); see :mod:`rses.metrics.arrays`. Each formula is
written once; only SSIM's box filter dispatches: OpenCV for NumPy, ``avg_pool2d`` for tensors, both float64
with symmetric borders, equal to ~1e-10. Each metric has a ``*_t`` form returning a float64 0-d value of the
inputs' kind (a tensor stays on its device, so a GPU batch is read back in one transfer).

Example:
    >>> import numpy as np
    >>> src = np.zeros((3, 2, 2)); edt = src.copy(); edt[:, 0, 0] = 0.5
    >>> background = np.array([[True, True], [False, False]])
    >>> mse_bg(src, edt, background), pixel_consistency(src, edt, background)
    (0.125, 0.5)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rses.errors import UsageError
from rses.metrics.argkinds import Image, Mask, array_arguments
from rses.metrics.arrays import is_tensor, namespace, same_kind
from rses.metrics.regions import masked_mean_t
from rses.metrics.suite_config import CONSISTENCY_TOL

PIXEL_RANGES = ("unit", "symmetric")
PSNR_MAX = 100.0  # dB; an exact background (MSE 0) reports this instead of infinity
SSIM_WIN, SSIM_K1, SSIM_K2 = 7, 0.01, 0.03
SSIM_BAND_ROWS = 32  # rows per band of the NumPy SSIM (see ssim_map)


@array_arguments
def mse_bg(source: Image, edited: Image, region: Mask, pixel_range: str = "unit") -> float:
    """Mean squared error over the ``region`` pixels and all channels; ``(3, H, W)`` images in [0, 1]."""
    if pixel_range not in PIXEL_RANGES:
        raise UsageError(f"pixel_range must be one of {PIXEL_RANGES}, got {pixel_range!r}.")
    scale = 4.0 if pixel_range == "symmetric" else 1.0
    return scale * float(mse_bg_t(*same_kind(source, edited, region)))


def mse_bg_t(source: Any, edited: Any, region: Any) -> Any:
    """:func:`mse_bg` on the unit scale as a float64 0-d value of the images' kind."""
    return masked_mean_t((edited - source) ** 2, region)


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB for [0, 1] pixels, capped at :data:`PSNR_MAX`."""
    return float(psnr_from_mse_t(np.float64(mse)))


def psnr_from_mse_t(mse: Any) -> Any:
    """:func:`psnr_from_mse` of a float64 0-d value (NumPy, or a tensor on its device)."""
    xp = namespace(mse)
    exact = mse <= 10 ** (-PSNR_MAX / 10)
    db = 10 * xp.log10(1.0 / xp.where(exact, 1.0, mse))
    return xp.where(exact, PSNR_MAX, xp.clip(db, None, PSNR_MAX))


@array_arguments
def psnr_bg(source: Image, edited: Image, region: Mask) -> float:
    """PSNR of the background, data range 1 (identical on the symmetric scale)."""
    return psnr_from_mse(mse_bg(source, edited, region))


def ssim_map(x: Any, y: Any, data_range: float = 1.0) -> Any:
    """Per-pixel, per-channel SSIM map ``(C, H, W)`` (float64), as :func:`skimage.metrics.structural_similarity`.

    Same settings as scikit-image's defaults: 7x7 uniform window, sample covariance, K1 = 0.01, K2 = 0.03,
    symmetric borders (SciPy 'reflect' = OpenCV ``BORDER_REFLECT``). Four box filters
    (``blur(x^2) + blur(y^2) = blur(x^2 + y^2)``) and in-place arithmetic on float64 copies.
    """
    if is_tensor(x) or x.shape[1] <= 2 * SSIM_BAND_ROWS:
        return _ssim_map(x, y, data_range)
    # NumPy: bands of rows, each with the box filter's halo, so the float64 buffers stay small (a 512 px
    # image's whole-image buffers cost more in page faults than in arithmetic); equal to the whole-image map
    r, h = SSIM_WIN // 2, x.shape[1]
    out = np.empty(x.shape, np.float64)
    for top in range(0, h, SSIM_BAND_ROWS):
        bottom = min(h, top + SSIM_BAND_ROWS)
        lo, hi = max(0, top - r), min(h, bottom + r)
        out[:, top:bottom] = _ssim_map(x[:, lo:hi], y[:, lo:hi], data_range)[:, top - lo : bottom - lo]
    return out


def _ssim_map(x: Any, y: Any, data_range: float) -> Any:
    """:func:`ssim_map` of whole arrays: four box filters and in-place arithmetic on float64 copies."""
    x, y = _float64_copy(x), _float64_copy(y)
    xp = namespace(x)
    cov_norm = SSIM_WIN**2 / (SSIM_WIN**2 - 1)
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    # six float64 buffers, each written in place from here on (a fresh one costs its page faults)
    xy, sq = xp.multiply(x, y), xp.multiply(x, x)
    ux, uy = _box(x), _box(y)
    uxy = _box(xy, out=x)  # x is free
    sq += xp.multiply(y, y, out=xy)  # x^2 + y^2; xy is free
    usq = _box(sq, out=y)  # local mean of x^2 + y^2; y is free
    num = xp.multiply(ux, uy, out=xy)
    ux *= ux
    uy *= uy
    den = ux
    den += uy  # ux^2 + uy^2
    uxy -= num
    uxy *= 2 * cov_norm
    uxy += c2  # 2 cov(x, y) + c2
    num *= 2
    num += c1
    num *= uxy
    usq -= den
    usq *= cov_norm
    usq += c2  # var(x) + var(y) + c2
    den += c1
    den *= usq
    num /= den
    return num


def _float64_copy(image: Any) -> Any:
    """A new float64 copy of a ``(C, H, W)`` image (the caller's array is never written). A NumPy copy is a
    ``(C, H, W)`` view of ``(H, W, C)`` memory, so OpenCV filters all channels in one call (:func:`_box`);
    the arrays computed from it keep that layout.
    """
    if is_tensor(image):
        import torch

        return image.detach().to(torch.float64, memory_format=torch.contiguous_format, copy=True)
    c, h, w = image.shape
    copy = np.empty((h, w, c)).transpose(2, 0, 1)
    copy[...] = image
    return copy


def _box(image: Any, out: Any = None) -> Any:
    """7x7 mean filter of each channel of a float64 ``(C, H, W)`` array, symmetric borders (OpenCV
    ``BORDER_REFLECT``: ``cba|abc``); written into ``out`` when given (NumPy) or returned new.
    """
    if is_tensor(image):
        return _box_torch(image)
    import cv2

    out = np.empty_like(image) if out is None else out
    src, dst = image.transpose(1, 2, 0), out.transpose(1, 2, 0)
    if src.flags.c_contiguous and dst.flags.c_contiguous and image.shape[0] <= 4:  # one call, all channels
        cv2.blur(src, (SSIM_WIN, SSIM_WIN), dst=dst.reshape(dst.shape[:2] if dst.shape[2] == 1 else dst.shape),
                 borderType=cv2.BORDER_REFLECT)  # fmt: skip
    else:
        for plane, plane_out in zip(image, out, strict=True):
            cv2.blur(plane, (SSIM_WIN, SSIM_WIN), dst=plane_out, borderType=cv2.BORDER_REFLECT)
    return out


def _box_torch(image: Any) -> Any:
    """:func:`_box` of a ``(C, H, W)`` tensor on its device: reflected indices and ``avg_pool2d``."""
    import torch
    import torch.nn.functional as F

    r = SSIM_WIN // 2
    for dim in (-2, -1):
        n = image.shape[dim]
        index = torch.cat([torch.arange(r - 1, -1, -1), torch.arange(n), torch.arange(n - 1, n - 1 - r, -1)])
        image = image.index_select(dim, index.clamp(0, n - 1).to(image.device))
    return F.avg_pool2d(image[None], SSIM_WIN, stride=1)[0]


@array_arguments
def ssim_bg(source: Image, edited: Image, region: Mask) -> float:
    """SSIM map (source vs edited) averaged over the ``region`` pixels and the channels."""
    return float(ssim_bg_t(*same_kind(source, edited, region)))


def ssim_bg_t(source: Any, edited: Any, region: Any) -> Any:
    """:func:`ssim_bg` as a float64 0-d value of the images' kind."""
    return masked_mean_t(ssim_map(source, edited), region)


@array_arguments
def pixel_consistency(source: Image, edited: Image, region: Mask, tol: float = CONSISTENCY_TOL) -> float:
    """Share of ``region`` pixels whose largest channel change is at most ``tol`` (on [0, 1])."""
    return float(pixel_consistency_t(*same_kind(source, edited, region), tol))


def pixel_consistency_t(source: Any, edited: Any, region: Any, tol: float = CONSISTENCY_TOL) -> Any:
    """:func:`pixel_consistency` as a float64 0-d value of the images' kind."""
    xp = namespace(edited)
    kept = xp.amax(xp.abs(edited - source), 0) * 255 <= tol * 255 + 1e-4
    return (kept & region).sum(dtype=xp.float64) / region.sum()
