"""Tiny random-weight CLIP and LPIPS models for ``--smoke``, built through the real loading code paths.

``--smoke`` (user-facing) and the tests use them; their numbers are NOT meaningful. The CLIP model is an
ordinary open_clip JSON config (one vision and one text layer, width 32, 32x32 images) registered with
:func:`open_clip.add_model_config` and created by :func:`rses.metrics.backends.build_open_clip`, the function
that loads real checkpoints, with no checkpoint. The LPIPS model is ``lpips.LPIPS`` with the package's linear
heads and a random trunk, built by :func:`rses.metrics.backends.build_lpips`. The seed fixes every weight.
The tiny Qwen2.5-VL judge is :mod:`rses.metrics.tiny_qwen_vl`. :mod:`rses.testing` re-exports all of them.

Example:
    >>> tiny = tiny_open_clip(seed=0)
    >>> tiny.model.encode_text(tiny.tokenizer(["a cat"])).shape
    torch.Size([1, 16])
    >>> float(tiny_lpips(seed=0)(torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 32)).sum())
    0.0
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rses.metrics.backends import LpipsBackend, OpenClipBackend, build_lpips, build_open_clip

TINY_CLIP_NAME = "rses-tiny-clip"
TINY_CLIP_CONFIG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


@dataclass
class TinyClip:
    """The pieces open_clip returns: the model, its eval preprocess transform and its tokenizer."""

    model: torch.nn.Module
    preprocess: Any
    tokenizer: Any
    name: str = TINY_CLIP_NAME


def register_tiny_clip_config() -> str:
    """Register the tiny architecture with open_clip (idempotent) and return its model name."""
    import open_clip

    if TINY_CLIP_NAME not in open_clip.list_models():
        path = Path(tempfile.mkdtemp(prefix="rses-tiny-clip-")) / f"{TINY_CLIP_NAME}.json"
        path.write_text(json.dumps(TINY_CLIP_CONFIG))
        open_clip.add_model_config(path)
    return TINY_CLIP_NAME


def tiny_open_clip(seed: int = 0, device: str = "cpu") -> TinyClip:
    """Build the tiny open_clip model with weights fixed by ``seed``."""
    name = register_tiny_clip_config()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model, preprocess, tokenizer = build_open_clip(name, checkpoint=None, device=device)
    return TinyClip(model, preprocess, tokenizer)


def tiny_clip_backend(
    seed: int = 0, device: str = "cpu", dtype: torch.dtype = torch.float32
) -> OpenClipBackend:
    """The tiny model wrapped as the :class:`~rses.metrics.backends.OpenClipBackend` the metrics use."""
    tiny = tiny_open_clip(seed, device)
    return OpenClipBackend(
        tiny.model,
        tiny.preprocess,
        tiny.tokenizer,
        key=f"{TINY_CLIP_NAME}/seed{seed}",
        device=device,
        dtype=dtype,
    )


def tiny_lpips(seed: int = 0, net: str = "alex", device: str = "cpu") -> torch.nn.Module:
    """Build ``lpips.LPIPS(net)`` with the package's linear heads and a trunk drawn from ``seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_lpips(net, backbone_state_dict=None, device=device)


def tiny_lpips_backend(
    seed: int = 0, net: str = "alex", device: str = "cpu", dtype: torch.dtype = torch.float32
) -> LpipsBackend:
    """The tiny model wrapped as the :class:`~rses.metrics.backends.LpipsBackend` the metrics use."""
    return LpipsBackend(tiny_lpips(seed, net, device), key=f"lpips-{net}-random/seed{seed}", dtype=dtype)
