"""Moved to :mod:`rses.metrics.tiny_qwen_vl` (``--smoke`` is a product feature); re-exported here for one release.

Example:
    >>> "<|im_start|>" in SPECIAL_TOKENS
    True
"""

from rses.metrics.tiny_qwen_vl import (
    CHAT_TEMPLATE,
    SPECIAL_TOKENS,
    TINY_MAX_PIXELS,
    TINY_MIN_PIXELS,
    WORDS,
    tiny_qwen_tokenizer,
    tiny_qwen_vl_components,
    tiny_qwen_vl_dir,
)

__all__ = [
    "CHAT_TEMPLATE",
    "SPECIAL_TOKENS",
    "TINY_MAX_PIXELS",
    "TINY_MIN_PIXELS",
    "WORDS",
    "tiny_qwen_tokenizer",
    "tiny_qwen_vl_components",
    "tiny_qwen_vl_dir",
]
