"""What a RegionRoute run shows while it trains: attention share in the mask, overlays and loss curves.

:func:`diagnostics` turns one forward's outputs into logged floats; :func:`evaluate_fixed_batch` measures them
on a fixed batch, sigma and noise; :func:`write_validation` saves attention-map overlays (paper Fig. 4) and
their metrics; :func:`write_curves` plots the loss history.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

from regionroute.config import TrainConfig
from regionroute.losses import mass_in_mask
from regionroute.samples import CachedSet
from regionroute.step import training_losses


@torch.no_grad()
def evaluate_fixed_batch(
    transformer: Any,
    cache: CachedSet,
    index: torch.Tensor,
    config: TrainConfig,
    sigma: float = 0.5,
    seed: int = 1234,
) -> dict[str, float]:
    """Focus, cover and attention share inside the mask on a fixed batch, sigma and noise."""
    batch = cache.batch(index)
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(batch["target_latents"].shape, generator=gen).to(batch["target_latents"])
    sig = torch.full((len(index),), sigma, device=noise.device)
    out = training_losses(
        transformer,
        batch,
        noise,
        sig,
        config.guidance,
        config.losses,
        attn_loss=True,
    )
    return diagnostics(out, batch)


def diagnostics(out: dict, batch: dict) -> dict[str, float]:
    """Flow, focus, cover and the share of attention inside the mask, as floats for logs."""
    share = mass_in_mask(out["maps"].detach(), batch["mask"], batch["token_valid"])
    return {k: float(out[k]) for k in ("flow", "focus", "cover")} | {"mass_in_mask": float(share)}


def write_curves(history: list[dict], out_dir: Path) -> None:
    """``losses.json`` and ``losses.png`` (flow, focus, cover, attention mass in the mask vs step)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not history:
        return
    (out_dir / "losses.json").write_text(json.dumps(history, indent=1))
    fig, axes = plt.subplots(1, 4, figsize=(16, 3))
    for ax, key in zip(axes, ("flow", "focus", "cover", "mass_in_mask"), strict=True):
        ax.plot([r["step"] for r in history if key in r], [r[key] for r in history if key in r])
        ax.set_title(key)
        ax.set_xlabel("step")
    fig.tight_layout()
    fig.savefig(out_dir / "losses.png", dpi=80)
    plt.close(fig)


@torch.no_grad()
def write_validation(
    transformer: Any, cache: CachedSet, index: torch.Tensor, config: TrainConfig, out_dir: Path
) -> dict:
    """Attention-map overlays (layer/token-averaged style map over mask outline, paper Fig. 4) + metrics JSON."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    batch = cache.batch(index.to(cache.mask.device))
    gen = torch.Generator().manual_seed(1234)
    noise = torch.randn(batch["target_latents"].shape, generator=gen).to(batch["target_latents"])
    out = training_losses(
        transformer,
        batch,
        noise,
        torch.full((len(index),), 0.5, device=noise.device),
        config.guidance,
        config.losses,
        attn_loss=True,
    )
    valid = batch["token_valid"].float()[None, :, None, :]
    avg = ((out["maps"] * valid).sum((0, 3)) / (valid.sum((0, 3)) * out["maps"].shape[0])).cpu()
    side = int(math.isqrt(avg.shape[1]))
    for b in range(len(index)):
        fig, ax = plt.subplots(figsize=(3, 3))
        ax.imshow(avg[b].view(side, side).numpy(), cmap="jet")
        ax.contour(batch["mask"][b].view(side, side).cpu().numpy(), levels=[0.5], colors="white")
        ax.set_axis_off()
        fig.savefig(out_dir / f"attention_{int(index[b])}.png", dpi=80, bbox_inches="tight")
        plt.close(fig)
    metrics = diagnostics(out, batch)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics
