"""Tiny random-weight Stable Diffusion InstructPix2Pix and inpainting pipelines (the real diffusers classes).

Mirrors diffusers' ``tests/pipelines/stable_diffusion/test_stable_diffusion_{instruction_pix2pix,inpaint}.py``
dummy components, smaller and offline: a 2-level UNet (8/16 channels, cross-attention width 32) whose
input stacks the noisy latents with the source-image latents (InstructPix2Pix: 4 + 4 = 8 channels) or
with the mask and masked-image latents (inpainting: 4 + 1 + 4 = 9 channels), an 8x VAE, and the tiny
CLIP text encoder and tokenizer. No safety checker.

Example:
    >>> import numpy as np, PIL.Image, torch
    >>> pipe = tiny_inpaint_pipeline()
    >>> image = PIL.Image.fromarray(np.zeros((64, 64, 3), np.uint8))
    >>> mask = PIL.Image.fromarray(np.full((64, 64), 255, np.uint8))
    >>> pipe(prompt="a cat", image=image, mask_image=mask, height=64, width=64, num_inference_steps=2,
    ...      generator=torch.Generator().manual_seed(0), output_type="np").images.shape
    (1, 64, 64, 3)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from diffusers import (
    EulerAncestralDiscreteScheduler,
    PNDMScheduler,
    StableDiffusionInpaintPipeline,
    StableDiffusionInstructPix2PixPipeline,
    UNet2DConditionModel,
)

from rses.testing.flux import LATENT_CHANNELS, TEXT_DIM, tiny_clip_text_encoder, tiny_vae
from rses.testing.tokenizers import tiny_clip_tokenizer

# The noise schedule of Stable Diffusion 1.x/2.x checkpoints.
SD_BETAS = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear"}


def tiny_sd_unet(in_channels: int, seed: int = 0) -> UNet2DConditionModel:
    """A 2-level cross-attention UNet predicting 4 latent channels from ``in_channels`` inputs."""
    torch.manual_seed(seed)
    return UNet2DConditionModel(
        sample_size=8,
        in_channels=in_channels,
        out_channels=LATENT_CHANNELS,
        layers_per_block=1,
        block_out_channels=(8, 16),
        norm_num_groups=4,
        attention_head_dim=4,
        cross_attention_dim=TEXT_DIM,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    ).eval()


def _sd_components(in_channels: int, scheduler: Any, seed: int) -> dict[str, Any]:
    return {
        "unet": tiny_sd_unet(in_channels, seed),
        "scheduler": scheduler,
        "vae": tiny_vae(seed),
        "text_encoder": tiny_clip_text_encoder(seed),
        "tokenizer": tiny_clip_tokenizer(),
        "safety_checker": None,
        "feature_extractor": None,
        "image_encoder": None,
        "requires_safety_checker": False,
    }


def tiny_instruct_pix2pix_components(seed: int = 0) -> dict[str, Any]:
    """Components for :class:`~diffusers.StableDiffusionInstructPix2PixPipeline` (8-channel UNet)."""
    scheduler = EulerAncestralDiscreteScheduler(steps_offset=1, **SD_BETAS)
    return _sd_components(2 * LATENT_CHANNELS, scheduler, seed)


def tiny_inpaint_components(seed: int = 0) -> dict[str, Any]:
    """Components for :class:`~diffusers.StableDiffusionInpaintPipeline` (9-channel UNet)."""
    scheduler = PNDMScheduler(skip_prk_steps=True, steps_offset=1, **SD_BETAS)
    return _sd_components(2 * LATENT_CHANNELS + 1, scheduler, seed)


def _finish(pipe: Any, save_dir: str | Path | None) -> Any:
    pipe.set_progress_bar_config(disable=True)
    if save_dir is not None:
        pipe.save_pretrained(save_dir, safe_serialization=True)
    return pipe


def tiny_instruct_pix2pix_pipeline(
    seed: int = 0, save_dir: str | Path | None = None
) -> StableDiffusionInstructPix2PixPipeline:
    """A tiny random-weight InstructPix2Pix pipeline; ``save_dir`` also writes it with ``save_pretrained``."""
    return _finish(StableDiffusionInstructPix2PixPipeline(**tiny_instruct_pix2pix_components(seed)), save_dir)


def tiny_inpaint_pipeline(
    seed: int = 0, save_dir: str | Path | None = None
) -> StableDiffusionInpaintPipeline:
    """A tiny random-weight Stable Diffusion inpainting pipeline; ``save_dir`` also writes it to disk."""
    return _finish(StableDiffusionInpaintPipeline(**tiny_inpaint_components(seed)), save_dir)
