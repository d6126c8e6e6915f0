"""A tiny random-weight Qwen-Image-Edit pipeline built from the real diffusers/transformers classes, offline.

Mirrors diffusers' ``tests/pipelines/qwenimage/test_qwenimage_edit.py: get_dummy_components`` (2 transformer
blocks, 3 heads x 16 dims, a 2-layer 16-wide Qwen2.5-VL), with two changes that keep it offline and true to
the real model's geometry:

* the tokenizer is a byte-level :class:`~transformers.Qwen2Tokenizer` with no merges plus Qwen's chat and
  vision special tokens, and the Qwen2.5-VL config points at those ids (the hub test checkpoint is not
  needed); the image processor caps the vision input at 64 merged patches, so the vision tower stays small;
* the VAE has the real model's **8x** layout (``dim_mult=(1, 2, 4, 4)``, temporal downsampling
  ``(False, True, True)``) at width 8, so latent grids are those of the real pipeline.

The pipeline resizes every input to about 1024^2 pixels (its ``calculate_dimensions``), so one call works at
that size: about 9 s of CPU on one core for 2 steps with true CFG.

Example:
    >>> pipe = tiny_qwen_image_edit_pipeline()
    >>> pipe.vae_scale_factor, pipe.transformer.config.num_layers
    (8, 2)
"""

from __future__ import annotations

import torch
from diffusers import (
    AutoencoderKLQwenImage,
    FlowMatchEulerDiscreteScheduler,
    QwenImageEditPipeline,
    QwenImageTransformer2DModel,
)
from tokenizers import pre_tokenizers
from transformers import (
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2Tokenizer,
    Qwen2VLProcessor,
)
from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor
from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

from rses.metrics.tiny_qwen_vl import SPECIAL_TOKENS

#: Qwen's special tokens the pipeline's prompt template and the processor use (Qwen2.5-VL's, as the judge's twin).
SPECIALS = SPECIAL_TOKENS
LATENT_CHANNELS = 4
TEXT_DIM = 16


def tiny_qwen_tokenizer() -> Qwen2Tokenizer:
    """Byte-level BPE without merges (one token per byte) plus :data:`SPECIALS` (ids 256 and up)."""
    vocab = {t: i for i, t in enumerate([*sorted(pre_tokenizers.ByteLevel.alphabet()), *SPECIALS])}
    tok = Qwen2Tokenizer(
        vocab=vocab, merges=[], unk_token=None, bos_token=None, eos_token=SPECIALS[0], pad_token=SPECIALS[0]
    )
    tok.add_special_tokens({"additional_special_tokens": list(SPECIALS[1:])})
    return tok


def tiny_qwen_image_edit_components(seed: int = 0) -> dict:
    """The components of :func:`tiny_qwen_image_edit_pipeline`, named as the pipeline's ``__init__`` expects."""
    tok = tiny_qwen_tokenizer()
    ids = dict(zip(SPECIALS, tok.convert_tokens_to_ids(list(SPECIALS)), strict=True))
    torch.manual_seed(seed)
    transformer = QwenImageTransformer2DModel(
        patch_size=2,
        in_channels=4 * LATENT_CHANNELS,
        out_channels=LATENT_CHANNELS,
        num_layers=2,
        attention_head_dim=16,
        num_attention_heads=3,
        joint_attention_dim=TEXT_DIM,
        guidance_embeds=False,
        axes_dims_rope=(8, 4, 4),
    ).eval()
    torch.manual_seed(seed)
    vae = AutoencoderKLQwenImage(
        base_dim=8,
        z_dim=LATENT_CHANNELS,
        dim_mult=[1, 2, 4, 4],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
        latents_mean=[0.0] * LATENT_CHANNELS,
        latents_std=[1.0] * LATENT_CHANNELS,
    ).eval()
    torch.manual_seed(seed)
    rope = {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"}
    config = Qwen2_5_VLConfig(
        text_config={
            "hidden_size": TEXT_DIM,
            "intermediate_size": TEXT_DIM,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            "rope_scaling": rope,
            "rope_theta": 1e6,
            "vocab_size": len(tok),
            "bos_token_id": None,
            "eos_token_id": ids["<|endoftext|>"],
        },
        vision_config={
            "depth": 2,
            "hidden_size": 16,
            "intermediate_size": 16,
            "num_heads": 2,
            "out_hidden_size": 16,
        },
        hidden_size=TEXT_DIM,
        vocab_size=len(tok),
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
    )
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 64),
        tokenizer=tok,
        video_processor=Qwen2VLVideoProcessor(),
    )
    return {
        "scheduler": FlowMatchEulerDiscreteScheduler(),
        "vae": vae,
        "text_encoder": Qwen2_5_VLForConditionalGeneration(config).eval(),
        "tokenizer": tok,
        "processor": processor,
        "transformer": transformer,
    }


def tiny_qwen_image_edit_pipeline(seed: int = 0) -> QwenImageEditPipeline:
    """A tiny random-weight :class:`~diffusers.QwenImageEditPipeline` on CPU in float32 (see the module)."""
    pipe = QwenImageEditPipeline(**tiny_qwen_image_edit_components(seed))
    pipe.set_progress_bar_config(disable=True)
    return pipe
