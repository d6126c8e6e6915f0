"""In-region fidelity to a pseudo-ground-truth target (the stylized object seamlessly cloned into the source).

* ``lpips_in``: spatial LPIPS (edited vs target) averaged inside the mask (lower is better);
* ``ssim_in``: SSIM map (edited vs target) averaged inside the mask (higher is better);
* ``mse_in``: MSE inside the mask (lower is better);
* ``ref_gain``: ``clamp(1 - MSE_in(edited, target) / MSE_in(source, target), 0, 1)``, the share of the
  source-to-target distance inside the object that the edit covered: 0 for an untouched object, 1 for a
  perfect match. It is the weight-free style-success term of ``rses_ref``.

Example:
    >>> import torch
    >>> src = torch.zeros(3, 2, 2); tgt = torch.ones(3, 2, 2); edt = torch.full((3, 2, 2), 0.5)
    >>> m = torch.ones(2, 2, dtype=torch.bool)
    >>> ref_gain(src, edt, tgt, m)
    0.75
"""

from __future__ import annotations

import torch

from rses.metrics.lpips_bg import lpips_map
from rses.metrics.pixel import ssim_map
from rses.metrics.regions import masked_mean


def mse_in(edited: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float:
    """MSE between ``edited`` and ``target`` inside the mask, [0, 1] pixels."""
    return masked_mean((edited - target) ** 2, mask)


def ssim_in(edited: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float:
    """SSIM map of ``edited`` vs ``target`` averaged inside the mask."""
    return masked_mean(ssim_map(target, edited), mask)


def lpips_in(backend, edited: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float:
    """Spatial LPIPS of ``edited`` vs ``target`` averaged inside the mask."""
    return masked_mean(lpips_map(backend, target, edited), mask)


def ref_gain_from_mse(mse_edited: float, mse_source: float) -> float:
    """``clamp(1 - mse_edited / mse_source, 0, 1)``; a target equal to the source gives 1 only if matched."""
    if mse_source <= 0:
        return 1.0 if mse_edited <= 0 else 0.0
    return min(1.0, max(0.0, 1.0 - mse_edited / mse_source))


def ref_gain(source: torch.Tensor, edited: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float:
    """How far inside the mask the edit moved from the source to the target, in [0, 1]."""
    return ref_gain_from_mse(mse_in(edited, target, mask), mse_in(source, target, mask))
