"""Moved to :mod:`rses.metrics.tiny_models` (``--smoke`` is a product feature); re-exported here for one release.

Example:
    >>> tiny_open_clip(seed=0).model.visual.image_size
    (32, 32)
"""

from rses.metrics.tiny_models import (
    TINY_CLIP_CONFIG,
    TINY_CLIP_NAME,
    TinyClip,
    register_tiny_clip_config,
    tiny_clip_backend,
    tiny_open_clip,
)

__all__ = [
    "TINY_CLIP_CONFIG",
    "TINY_CLIP_NAME",
    "TinyClip",
    "register_tiny_clip_config",
    "tiny_clip_backend",
    "tiny_open_clip",
]
