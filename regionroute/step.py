"""One RegionRoute training forward: flow matching on Kontext's packed tokens plus focus/cover attention losses.

:func:`training_losses` is the step the trainer, the diagnostics and the benchmarks share; :func:`kontext_ids`
and :func:`pack` lay out ``[noisy target | context]`` tokens as ``FluxKontextPipeline`` does.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from regionroute.attention import AttentionMapStore, StyleProbe
from regionroute.losses import AttentionLossConfig, attention_losses


def kontext_ids(height: int, width: int, device: torch.device | str, dtype: torch.dtype) -> torch.Tensor:
    """Position ids of ``[target | context]`` packed tokens for latents of ``height x width`` (context axis 0 = 1)."""
    from diffusers import FluxKontextPipeline

    ids = FluxKontextPipeline._prepare_latent_image_ids(1, height // 2, width // 2, device, dtype)
    ctx = ids.clone()
    ctx[..., 0] = 1
    return torch.cat([ids, ctx], dim=0)


def pack(latents: torch.Tensor) -> torch.Tensor:
    """``(B, C, H, W)`` latents as ``(B, H/2 * W/2, 4C)`` tokens (``FluxKontextPipeline._pack_latents``)."""
    from diffusers import FluxKontextPipeline

    b, c, h, w = latents.shape
    return FluxKontextPipeline._pack_latents(latents, b, c, h, w)


def training_losses(
    transformer: Any,
    batch: dict,
    noise: torch.Tensor,
    sigmas: torch.Tensor,
    guidance: float = 1.0,
    loss_config: AttentionLossConfig | None = None,
    attn_loss: bool = True,
) -> dict:
    """One forward: flow-matching MSE plus (optionally) focus/cover on this batch's style maps.

    ``transformer`` may be wrapped (DDP after ``accelerator.prepare``): its config is read from the model inside.
    Returns ``{"loss", "flow"}`` and, with ``attn_loss``, ``"focus", "cover", "attn", "maps"``.
    """
    x0 = batch["target_latents"]
    s = sigmas.view(-1, 1, 1, 1).to(x0.dtype)
    packed = pack((1.0 - s) * x0 + s * noise)
    context = pack(batch["context_latents"])
    n = packed.shape[1]
    ids = kontext_ids(x0.shape[2], x0.shape[3], x0.device, x0.dtype)
    store, kwargs = AttentionMapStore(), None
    if attn_loss:
        probe = StyleProbe(
            batch["token_index"],
            batch["token_valid"],
            batch["prompt_embeds"].shape[1],
            n,
            store,
        )
        kwargs = {"style_probe": probe}
    from accelerate.utils import extract_model_from_parallel

    config = extract_model_from_parallel(transformer).config  # prepared models are wrapped (DDP)
    g = torch.full((x0.shape[0],), guidance, device=x0.device) if config.guidance_embeds else None
    with store.recording():
        pred = transformer(
            hidden_states=torch.cat([packed, context], dim=1),
            timestep=sigmas,
            guidance=g,
            pooled_projections=batch["pooled"],
            encoder_hidden_states=batch["prompt_embeds"],
            txt_ids=batch["text_ids"],
            img_ids=ids,
            joint_attention_kwargs=kwargs,
            return_dict=False,
        )[0][:, :n]
    flow = F.mse_loss(pred.float(), pack(noise - x0).float())
    out = {"flow": flow, "loss": flow}
    if attn_loss:
        maps = store.stacked()
        att = attention_losses(
            maps, batch["mask"], batch["token_valid"], loss_config or AttentionLossConfig()
        )
        out |= att | {"loss": flow + att["attn"], "maps": maps}
    return out
