"""Offline tokenizers for the tiny test pipelines, built with the ``tokenizers`` library (no downloads).

* :func:`tiny_clip_tokenizer`: a byte-level BPE :class:`~transformers.CLIPTokenizer` (the class real CLIP
  checkpoints load into), with BPE merges learned on :data:`WORDS`. Every
  byte is in the vocabulary, so any text encodes; the words of :data:`WORDS` become single tokens, so a
  benchmark prompt stays well under 77 tokens.
* :func:`tiny_t5_tokenizer`: a Unigram :class:`~transformers.T5TokenizerFast` (SentencePiece-style
  ``▁`` word prefix) with whole-word pieces for :data:`WORDS` and single-character pieces for
  everything else printable.

Both are deterministic: the same call returns the same vocabulary and ids.

Example:
    >>> tok = tiny_t5_tokenizer()
    >>> tok.convert_ids_to_tokens(tok("make the cat in pixel-art style").input_ids)
    ['▁make', '▁the', '▁cat', '▁in', '▁pixel-art', '▁style', '</s>']
    >>> clip = tiny_clip_tokenizer()
    >>> clip.convert_ids_to_tokens(clip("keep other area unchanged").input_ids)
    ['<|startoftext|>', 'keep</w>', 'other</w>', 'area</w>', 'unchanged</w>', '<|endoftext|>']
"""

from __future__ import annotations

import re
import string

from tokenizers import pre_tokenizers
from transformers import CLIPTokenizer, T5TokenizerFast

from rses.metrics.tiny_qwen_vl import learn_bpe_merges as _learn_bpe_merges

#: Words that get a token of their own: the prompt template, the four styles, and common objects.
WORDS: tuple[str, ...] = (
    "make",
    "the",
    "in",
    "style",
    "keep",
    "other",
    "area",
    "unchanged",
    "a",
    "an",
    "of",
    "and",
    "photo",
    "pixel-art",
    "pixel",
    "line-art",
    "line",
    "art",
    "cyberpunk",
    "expressionism",
    "expressionist",
    "person",
    "man",
    "woman",
    "cat",
    "dog",
    "car",
    "bus",
    "bird",
    "horse",
    "rocket",
    "cup",
    "coffee",
    "astronaut",
    "chair",
    "table",
    "tree",
    "house",
    "flower",
    "boat",
    "train",
    "plane",
    "bicycle",
)

#: Vocabulary size the tiny text encoders are configured with; both tokenizers stay below it.
TINY_VOCAB_SIZE = 1000

CLIP_MAX_LENGTH = 77
CLIP_SPECIALS = ("<|startoftext|>", "<|endoftext|>")


def _clip_vocab_and_merges() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Byte-level vocabulary (each byte, alone and word-final) plus merges making :data:`WORDS` one token."""
    byte_chars = pre_tokenizers.ByteLevel.alphabet()
    alphabet = sorted(byte_chars)
    # CLIP's pre-tokenizer splits "pixel-art" into "pixel", "-", "art": learn merges on those pieces.
    pieces = sorted({piece for word in WORDS for piece in re.findall(r"[a-z]+", word)})
    merges = _learn_bpe_merges([[*piece[:-1], piece[-1] + "</w>"] for piece in pieces])
    tokens = [*CLIP_SPECIALS, *alphabet, *(c + "</w>" for c in alphabet), *(a + b for a, b in merges)]
    return {token: i for i, token in enumerate(dict.fromkeys(tokens))}, merges


def tiny_clip_tokenizer() -> CLIPTokenizer:
    """A byte-level BPE CLIP tokenizer (max length 77; ids below :data:`TINY_VOCAB_SIZE`).

    Ids: ``<|startoftext|>`` = 0, ``<|endoftext|>`` = 1 (also the pad token, as in CLIP).
    """
    vocab, merges = _clip_vocab_and_merges()
    if len(vocab) > TINY_VOCAB_SIZE:
        raise ValueError(f"tiny CLIP vocabulary has {len(vocab)} tokens, more than {TINY_VOCAB_SIZE}")
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=CLIP_MAX_LENGTH)


def _t5_vocab() -> list[tuple[str, float]]:
    specials = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    words = [("▁" + w, -1.0) for w in WORDS]
    chars = [(c, -5.0) for c in string.ascii_letters + string.digits + string.punctuation]
    prefixed = [("▁" + c, -5.5) for c in string.ascii_letters + string.digits + string.punctuation]
    vocab = specials + words + chars + prefixed
    seen: set[str] = set()
    return [(p, s) for p, s in vocab if not (p in seen or seen.add(p))]


def tiny_t5_tokenizer() -> T5TokenizerFast:
    """A Unigram T5 tokenizer: ``<pad>`` = 0, ``</s>`` = 1, ``<unk>`` = 2, no sentinel ids, max length 512."""
    vocab = _t5_vocab()
    if len(vocab) > TINY_VOCAB_SIZE:
        raise ValueError(f"tiny T5 vocabulary has {len(vocab)} pieces, more than {TINY_VOCAB_SIZE}")
    return T5TokenizerFast(vocab=vocab, extra_ids=0, model_max_length=512)
