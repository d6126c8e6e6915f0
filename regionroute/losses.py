"""Focus (KL) and Cover (BCE) losses on style-attention maps.

Shapes: ``maps (L, B, N, K)`` (layers, samples, target positions, style tokens), ``mask (B, N)`` in [0, 1]
on the packed latent grid (the share of each cell the object covers, :func:`mask_to_grid`), ``valid (B, K)``
marking real style tokens.

* Focus, per layer/sample/token: ``KL(norm(M) || softmax_N(A / tau))``, the well-defined direction the public
  code uses (the paper's summary writes the reverse, which is infinite where the mask is 0); an empty mask
  is replaced by the uniform distribution.
* Cover: ``mean_N BCE_with_logits(alpha * A, M)``. ``A`` lies in [0, 1], so the background BCE never drops below
  ln 2; it only pushes ``A`` toward 0 off the object and toward 1 on it.
* ``reduction="per-layer"`` (the public code): mean over valid tokens, samples and layers of the per-map losses.
  ``reduction="layer-averaged"`` (the paper's formula): first average the maps over layers and valid tokens,
  then one loss per sample, mean over samples.

Defaults follow the paper (``lambda_cover=0.2``); the public code used ``lambda_cover=5e-5``, which makes
Cover negligible (paper.md section 2.2).

Example:
    >>> maps = torch.tensor([0.0, 0.0]).view(1, 1, 2, 1)
    >>> mask = torch.tensor([[1.0, 0.0]])
    >>> valid = torch.tensor([[True]])
    >>> round(float(focus_loss(maps, mask, valid, tau=0.1)), 4)  # ln 2
    0.6931
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

REDUCTIONS = ("per-layer", "layer-averaged")


@dataclass
class AttentionLossConfig:
    """Weights and shapes of the attention supervision.

    lambda_focus/lambda_cover are the paper's; tau 0.1 and alpha 2.0 are the public code's, tuned for its
    style-softmax map in [0, 1]. The trainer's defaults are ``1 / T`` and ``T`` for the default map, whose
    values are near ``1 / T`` (:class:`regionroute.config.TrainConfig`, docs/regionroute.md).
    """

    tau: float = 0.1
    alpha: float = 2.0
    lambda_focus: float = 0.1
    lambda_cover: float = 0.2
    reduction: str = "per-layer"

    def __post_init__(self) -> None:
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"reduction={self.reduction!r}; use one of {REDUCTIONS}.")
        if self.tau <= 0:
            raise ValueError(f"tau must be > 0, got {self.tau}.")


def _token_mean(per_token: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean over valid tokens of ``(L, B, K)`` then over samples and layers -> scalar."""
    w = valid.to(per_token.dtype)
    return ((per_token * w).sum(-1) / w.sum(-1)).mean()


def _reduce_maps(
    maps: torch.Tensor, valid: torch.Tensor, reduction: str
) -> tuple[torch.Tensor, torch.Tensor]:
    if reduction == "per-layer":
        return maps, valid
    w = valid.to(maps.dtype)[None, :, None, :]
    averaged = (maps * w).sum(dim=(0, 3)) / (maps.shape[0] * w.sum(dim=(0, 3)))
    return averaged[None, :, :, None], torch.ones_like(valid[:, :1])


def _prepared(
    maps: torch.Tensor, mask: torch.Tensor, valid: torch.Tensor, reduction: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Maps reduced and transposed to ``(L, B, K, N)`` (positions last: softmax over the last dim is ~10x
    faster), the mask in their dtype, and ``(B, K, 1)`` token weights: ``(x * weights).sum()`` is the mean of
    ``x.sum(-1)`` over valid tokens, then samples and layers.
    """
    maps, valid = _reduce_maps(maps, valid, reduction)
    w = valid.to(maps.dtype)
    weights = (w / (w.sum(-1, keepdim=True) * (maps.shape[0] * maps.shape[1])))[..., None]
    return maps.transpose(-1, -2), mask.to(maps.dtype), weights


def _focus(maps_t: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor, tau: float) -> torch.Tensor:
    area = mask.sum(-1, keepdim=True)
    target = torch.where(area > 0, mask, 1.0)  # an empty mask: uniform
    target = target / target.sum(-1, keepdim=True)
    neg_entropy = torch.xlogy(target, target).sum(-1).mean()
    log_p = F.log_softmax(maps_t / tau, dim=-1)
    return neg_entropy - (log_p * (weights * target[:, None, :])).sum()


def _cover(maps_t: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor, alpha: float) -> torch.Tensor:
    target = mask[:, None, :].expand_as(maps_t)
    return F.binary_cross_entropy_with_logits(
        alpha * maps_t, target, weight=weights / maps_t.shape[-1], reduction="sum"
    )


def focus_loss(
    maps: torch.Tensor,
    mask: torch.Tensor,
    valid: torch.Tensor,
    tau: float = 0.1,
    reduction: str = "per-layer",
) -> torch.Tensor:
    """``KL(norm(mask) || softmax(A / tau))`` over positions, reduced to a scalar (see module docstring).

    Computed as ``sum t log t - sum t log p`` with the first term and the token weights (which need no
    gradient) apart: the maps go through four differentiable ops, as this runs in every training step.
    """
    return _focus(*_prepared(maps, mask, valid, reduction), tau)


def cover_loss(
    maps: torch.Tensor,
    mask: torch.Tensor,
    valid: torch.Tensor,
    alpha: float = 2.0,
    reduction: str = "per-layer",
) -> torch.Tensor:
    """``mean_N BCE_with_logits(alpha * A, mask)``, reduced to a scalar (see module docstring)."""
    return _cover(*_prepared(maps, mask, valid, reduction), alpha)


def attention_losses(
    maps: torch.Tensor, mask: torch.Tensor, valid: torch.Tensor, config: AttentionLossConfig
) -> dict[str, torch.Tensor]:
    """``{"focus", "cover", "attn"}`` with ``attn = lambda_focus * focus + lambda_cover * cover``."""
    prepared = _prepared(maps, mask, valid, config.reduction)
    focus, cover = _focus(*prepared, config.tau), _cover(*prepared, config.alpha)
    return {"focus": focus, "cover": cover, "attn": config.lambda_focus * focus + config.lambda_cover * cover}


def mass_in_mask(maps: torch.Tensor, mask: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Share of each map's spatial attention mass inside the mask, averaged over layers/samples/tokens.

    Example:
        >>> maps = torch.tensor([3.0, 1.0]).view(1, 1, 2, 1)
        >>> float(mass_in_mask(maps, torch.tensor([[1.0, 0.0]]), torch.tensor([[True]])))
        0.75
    """
    share = (maps * mask.to(maps.dtype)[None, :, :, None]).sum(-2) / maps.sum(-2).clamp_min(1e-12)
    return _token_mean(share, valid)


def mask_to_grid(mask: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """Object masks ``(B, H, W)`` -> ``(B, h*w)`` coverage in [0, 1] on the packed latent grid.

    Each cell's value is the share of its pixels covered by the object (area downsampling of ``mask > 0``),
    so an object smaller than one 16x16 cell keeps a weight instead of vanishing between sampled pixels (the
    public code resizes nearest, keeping one pixel per cell). The grid of a Kontext image of ``H x W``
    pixels is ``(H // 16, W // 16)`` (VAE factor 8, then 2x2 packing). Soft ``mask`` values count by area too.

    Example:
        >>> m = torch.zeros(1, 4, 4); m[0, :2, :2] = 1; m[0, 3, 3] = 1
        >>> mask_to_grid(m, (2, 2)).tolist()
        [[1.0, 0.0, 0.0, 0.25]]
    """
    m = mask.float().clamp(0, 1)
    return F.interpolate(m[:, None], size=grid, mode="area")[:, 0].flatten(1)
