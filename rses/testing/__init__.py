"""Test kit: tiny, deterministic, random-weight twins of the learned models, built through the real code paths.

Only tests, benchmarks and the explicit ``--smoke`` mode use these; their numbers are not meaningful. The
tiny metric models (CLIP, LPIPS, the Qwen2.5-VL judge) live next to the metrics, in
:mod:`rses.metrics.tiny_models` and :mod:`rses.metrics.tiny_qwen_vl` (``--smoke`` is a product feature);
they are exported here too.
Every name is imported lazily on first use, so ``import rses.testing`` stays cheap (no torch, no diffusers).

Example:
    >>> from rses.testing import tiny_open_clip
    >>> tiny_open_clip(seed=0).model.visual.image_size
    (32, 32)
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TinyClip": "rses.metrics.tiny_models",
    "tiny_open_clip": "rses.metrics.tiny_models",
    "tiny_clip_backend": "rses.metrics.tiny_models",
    "tiny_lpips": "rses.metrics.tiny_models",
    "tiny_lpips_backend": "rses.metrics.tiny_models",
    "tiny_clip_tokenizer": "rses.testing.tokenizers",
    "tiny_t5_tokenizer": "rses.testing.tokenizers",
    "tiny_kontext_components": "rses.testing.flux",
    "tiny_kontext_pipeline": "rses.testing.flux",
    "tiny_instruct_pix2pix_components": "rses.testing.sd",
    "tiny_instruct_pix2pix_pipeline": "rses.testing.sd",
    "tiny_inpaint_components": "rses.testing.sd",
    "tiny_inpaint_pipeline": "rses.testing.sd",
    "tiny_qwen_tokenizer": "rses.metrics.tiny_qwen_vl",
    "tiny_qwen_vl_components": "rses.metrics.tiny_qwen_vl",
    "tiny_qwen_vl_dir": "rses.metrics.tiny_qwen_vl",
    "tiny_qwen_image_edit_components": "rses.testing.qwen_image",
    "tiny_qwen_image_edit_pipeline": "rses.testing.qwen_image",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rses.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
