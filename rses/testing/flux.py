"""A tiny random-weight Flux.1-Kontext pipeline built from the real one's diffusers/transformers classes.

Mirrors diffusers' ``tests/pipelines/flux/test_pipeline_flux_kontext.py: get_dummy_components`` (1 double
and 1 single transformer block, 2 heads x 16 dims, text width 32), but fully offline: the tokenizers come
from :mod:`rses.testing.tokenizers` and the T5 encoder from a tiny :class:`~transformers.T5Config`.
The VAE keeps Flux's 8x downsampling (4 blocks), so a 64x64 image is 4x4 packed latent tokens.

Example:
    >>> import PIL.Image, torch
    >>> pipe = tiny_kontext_pipeline()
    >>> out = pipe(prompt="make the cat in pixel-art style", image=PIL.Image.new("RGB", (64, 64)),
    ...            height=64, width=64, max_area=64 * 64, _auto_resize=False, num_inference_steps=2,
    ...            generator=torch.Generator().manual_seed(0), output_type="np").images
    >>> out.shape
    (1, 64, 64, 3)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from diffusers import (
    AutoencoderKL,
    FlowMatchEulerDiscreteScheduler,
    FluxKontextPipeline,
    FluxTransformer2DModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

from rses.testing.tokenizers import TINY_VOCAB_SIZE, tiny_clip_tokenizer, tiny_t5_tokenizer

TEXT_DIM = 32
LATENT_CHANNELS = 4


def tiny_clip_text_encoder(seed: int = 0) -> CLIPTextModel:
    """A 2-layer, 32-wide CLIP text encoder matching :func:`~rses.testing.tokenizers.tiny_clip_tokenizer`."""
    torch.manual_seed(seed)
    config = CLIPTextConfig(
        vocab_size=TINY_VOCAB_SIZE,
        hidden_size=TEXT_DIM,
        intermediate_size=37,
        projection_dim=TEXT_DIM,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        hidden_act="gelu",
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
        layer_norm_eps=1e-5,
    )
    return CLIPTextModel(config).eval()


def tiny_t5_encoder(seed: int = 0) -> T5EncoderModel:
    """A 1-layer, 32-wide T5 encoder matching :func:`~rses.testing.tokenizers.tiny_t5_tokenizer`."""
    torch.manual_seed(seed)
    config = T5Config(
        vocab_size=TINY_VOCAB_SIZE,
        d_model=TEXT_DIM,
        d_kv=8,
        d_ff=37,
        num_layers=1,
        num_heads=4,
        relative_attention_num_buckets=8,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    return T5EncoderModel(config).eval()


def tiny_vae(seed: int = 0, **config: Any) -> AutoencoderKL:
    """A 4-block (8x downsampling) VAE with 4 latent channels and 8-wide blocks; ``config`` adds or overrides
    ``AutoencoderKL`` arguments (the Flux one drops the quant convs and sets Flux's latent shift and scale).
    """
    torch.manual_seed(seed)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=LATENT_CHANNELS,
        sample_size=64,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        layers_per_block=1,
        norm_num_groups=2,
        **config,
    ).eval()


def tiny_flux_vae(seed: int = 0) -> AutoencoderKL:
    """The Flux-style tiny VAE: no quant convs, Flux's latent shift and scale."""
    return tiny_vae(
        seed, use_quant_conv=False, use_post_quant_conv=False, shift_factor=0.0609, scaling_factor=1.5035
    )


def tiny_kontext_components(seed: int = 0) -> dict[str, Any]:
    """The components of :func:`tiny_kontext_pipeline`, named as ``FluxKontextPipeline.__init__`` expects.

    Each module is seeded with ``seed`` before it is built, so the same seed gives identical weights.
    """
    torch.manual_seed(seed)
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=4 * LATENT_CHANNELS,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=TEXT_DIM,
        pooled_projection_dim=TEXT_DIM,
        axes_dims_rope=[4, 4, 8],
    ).eval()
    return {
        "scheduler": FlowMatchEulerDiscreteScheduler(),
        "vae": tiny_flux_vae(seed),
        "text_encoder": tiny_clip_text_encoder(seed),
        "tokenizer": tiny_clip_tokenizer(),
        "text_encoder_2": tiny_t5_encoder(seed),
        "tokenizer_2": tiny_t5_tokenizer(),
        "transformer": transformer,
        "image_encoder": None,
        "feature_extractor": None,
    }


def tiny_kontext_pipeline(seed: int = 0, save_dir: str | Path | None = None) -> FluxKontextPipeline:
    """A tiny random-weight :class:`~diffusers.FluxKontextPipeline` on CPU in float32.

    Args:
        seed: seeds the random weights.
        save_dir: when given, the pipeline is also written there with ``save_pretrained`` (safetensors),
            so it can be loaded back with ``FluxKontextPipeline.from_pretrained(save_dir)`` like real weights.
    """
    pipe = FluxKontextPipeline(**tiny_kontext_components(seed))
    pipe.set_progress_bar_config(disable=True)
    if save_dir is not None:
        pipe.save_pretrained(save_dir, safe_serialization=True)
    return pipe
