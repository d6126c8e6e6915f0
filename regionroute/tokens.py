"""Where the style word sits in the T5 token sequence of a prompt.

The attention losses supervise the image queries' attention to the *style word* ("pixel-art"), not the
object noun. The span is found on characters, then mapped to tokens through the tokenizer's offset
mapping, so it does not depend on how SentencePiece splits the word in context: hyphens, spaces and
underscores in the style name are interchangeable ("pixel-art" matches "Pixel Art"), matching is
case-insensitive, and with repeated words the mention followed by "style" wins (the prompt template
``make the {object} in {style} style, ...``), else the first one. The public code T5-tokenizes the word
alone and searches the id subsequence, which misses words that tokenize differently in context.

Example:
    >>> style_char_span("make the pixel-art cat in Pixel Art style", "pixel-art")
    (26, 35)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import torch

from rses.errors import UsageError

_SEPARATORS = r"[\s\-_]+"


def style_pattern(style: str) -> re.Pattern[str]:
    """A case-insensitive whole-word regex for ``style`` with any hyphen/space/underscore between parts."""
    parts = [re.escape(p) for p in re.split(_SEPARATORS, style.strip()) if p]
    if not parts:
        raise UsageError(f"Style name {style!r} is empty.")
    return re.compile(r"(?<![\w])" + _SEPARATORS.join(parts) + r"(?![\w])", re.IGNORECASE)


def style_char_span(prompt: str, style: str) -> tuple[int, int]:
    """Character span ``(start, end)`` of the style word's mention in ``prompt``.

    Raises:
        UsageError: the style word does not occur in the prompt.
    """
    matches = list(style_pattern(style).finditer(prompt))
    if not matches:
        raise UsageError(
            f"Style word {style!r} not found in prompt {prompt!r}: the attention losses need it in the prompt "
            f"(template: 'make the {{object}} in {style} style, keep other area unchanged')."
        )
    templated = [m for m in matches if re.match(r"\s+style\b", prompt[m.end() :], re.IGNORECASE)]
    match = (templated or matches)[0]
    return match.start(), match.end()


def style_token_indices(tokenizer: Any, prompt: str, style: str, max_length: int = 512) -> list[int]:
    """Token positions of the style word in the T5 sequence (as encoded with ``max_length``).

    Args:
        tokenizer: a *fast* tokenizer (offset mappings), the one that encodes the prompt for the model.
        prompt: the instruction.
        style: the style name, e.g. ``"pixel-art"``.
        max_length: the text sequence length the prompt is encoded with (512 Kontext, 77 public code).

    Raises:
        UsageError: the word is missing, the tokenizer gives no offsets, or the word lies past ``max_length``.
    """
    start, end = style_char_span(prompt, style)
    if not getattr(tokenizer, "is_fast", False):
        raise UsageError(
            f"style_token_indices needs a fast tokenizer with offsets, got {type(tokenizer).__name__}."
        )
    enc = tokenizer(prompt, max_length=max_length, truncation=True, return_offsets_mapping=True)
    idx = [i for i, (s, e) in enumerate(enc["offset_mapping"]) if e > s and s < end and e > start]
    if not idx:
        raise UsageError(
            f"Style word {style!r} in prompt {prompt!r} falls past the first {max_length} tokens; "
            "shorten the prompt or raise max_sequence_length."
        )
    return idx


def pad_token_indices(
    indices: Sequence[Sequence[int]], device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack per-sample index lists into ``(index (B, K), valid (B, K))``, padding with index 0 / invalid.

    Example:
        >>> idx, valid = pad_token_indices([[3, 4], [7]])
        >>> idx.tolist(), valid.tolist()
        ([[3, 4], [7, 0]], [[True, True], [True, False]])
    """
    if any(len(i) == 0 for i in indices):
        raise UsageError("Every sample needs at least one style token index.")
    k = max(len(i) for i in indices)
    index = torch.zeros(len(indices), k, dtype=torch.long, device=device)
    valid = torch.zeros(len(indices), k, dtype=torch.bool, device=device)
    for b, ids in enumerate(indices):
        index[b, : len(ids)] = torch.as_tensor(list(ids), dtype=torch.long)
        valid[b, : len(ids)] = True
    return index, valid
