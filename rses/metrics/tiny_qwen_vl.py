"""A tiny random-weight Qwen2.5-VL judge, built through transformers' real classes and saved as a model folder.

The twin has the real architecture (:class:`~transformers.Qwen2_5_VLForConditionalGeneration`, windowed
vision tower, M-RoPE language model) at toy size, a byte-level BPE :class:`~transformers.Qwen2Tokenizer` with
Qwen's chat and vision special tokens, a :class:`~transformers.Qwen2VLImageProcessor` and the Qwen2.5-VL
chat template. :func:`tiny_qwen_vl_dir` writes it with ``save_pretrained`` (safetensors) into a folder that
:func:`rses.metrics.vlm.load_judge` reads exactly as it reads the real checkpoint, so the whole load path
runs in CI and under ``--smoke`` (a product feature, hence here beside the metrics; :mod:`rses.testing`
re-exports it). The seed fixes every weight; the answers are meaningless.

Example:
    >>> from pathlib import Path
    >>> import tempfile
    >>> folder = tiny_qwen_vl_dir(Path(tempfile.mkdtemp()))
    >>> sorted(p.name for p in folder.glob("*.safetensors"))
    ['model.safetensors']
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

from tokenizers import pre_tokenizers

#: Qwen2.5-VL's special tokens, in the order the real vocabulary has them.
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
#: Words that become single tokens (the judge's answers must: ``Yes`` and ``No``).
WORDS = (
    "Yes",
    "No",
    "yes",
    "no",
    "Is",
    "is",
    "the",
    "this",
    "image",
    "in",
    "style",
    "object",
    "background",
    "Answer",
    "or",
    "system",
    "user",
    "assistant",
    "You",
    "are",
    "a",
    "helpful",
)
#: The Qwen2.5-VL chat template (system prompt, images as vision_start/image_pad/vision_end), text-only parts.
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}<|im_start|>system\n"
    "You are a helpful assistant.<|im_end|>\n{% endif %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n{% else %}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == 'text' %}{{ content['text'] }}"
    "{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
#: Image side bounds of the twin's processor: at most 56x56 pixels, i.e. 4x4 patches -> 2x2 image tokens.
TINY_MIN_PIXELS, TINY_MAX_PIXELS = 28 * 28, 56 * 56


def learn_bpe_merges(words: list[list[str]]) -> list[tuple[str, str]]:
    """Classic BPE training until every word is one symbol; ties break lexicographically (deterministic).

    Example:
        >>> learn_bpe_merges([["a", "b", "c"], ["a", "b"]])
        [('a', 'b'), ('ab', 'c')]
    """
    merges = []
    while pairs := Counter(pair for word in words for pair in zip(word, word[1:], strict=False)):
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        merges.append(best)
        merged = []
        for word in words:
            out, i = [], 0
            while i < len(word):
                if tuple(word[i : i + 2]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            merged.append(out)
        words = merged
    return merges


def tiny_qwen_tokenizer() -> Any:
    """A byte-level BPE Qwen2 tokenizer: every byte, merges that make :data:`WORDS` one token, the specials."""
    from transformers import Qwen2Tokenizer

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    space = "Ġ"  # byte-level spelling of a leading space
    words = sorted({w for word in WORDS for w in (word, space + word)})
    merges = learn_bpe_merges([list(word) for word in words])
    tokens = [*alphabet, *(a + b for a, b in merges)]
    vocab = {token: i for i, token in enumerate(dict.fromkeys(tokens))}
    tokenizer = Qwen2Tokenizer(
        vocab=vocab,
        merges=list(merges),
        errors="replace",
        unk_token=None,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=4096,
    )
    tokenizer.add_special_tokens({"additional_special_tokens": list(SPECIAL_TOKENS[1:])})
    tokenizer.add_special_tokens({"pad_token": SPECIAL_TOKENS[0]})
    tokenizer.padding_side = "left"
    return tokenizer


def tiny_qwen_vl_components(seed: int = 0) -> Any:
    """``(model, processor)``: the random-weight twin (float32, eval mode) and its processor."""
    import torch
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    tokenizer = tiny_qwen_tokenizer()
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    pixels = {"shortest_edge": TINY_MIN_PIXELS, "longest_edge": TINY_MAX_PIXELS}
    image_processor = Qwen2VLImageProcessor(size=pixels, patch_size=14, merge_size=2, temporal_patch_size=2)
    video_processor = Qwen2VLVideoProcessor(size=pixels, patch_size=14, merge_size=2, temporal_patch_size=2)
    processor = Qwen2_5_VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=CHAT_TEMPLATE,
    )
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "max_position_embeddings": 4096,
            "bos_token_id": None,
            "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
        },
        vision_config={
            "depth": 2,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": 32,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 56,
            "fullatt_block_indexes": [1],
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval().requires_grad_(False)
    return model, processor


def tiny_qwen_vl_dir(root: Path | None = None, seed: int = 0) -> Path:
    """Save the twin as a model folder (``config.json``, ``model.safetensors``, processor and tokenizer files).

    ``root`` defaults to ``$RSES_CACHE_DIR/testing`` (or ``~/.cache/rses/testing``); an existing complete folder
    for the same seed is reused. Returns the folder.
    """
    from rses.io import cache_root

    base = Path(root or cache_root() / "testing")
    folder = base / f"tiny-qwen2.5-vl-seed{seed}"
    if (folder / "model.safetensors").is_file() and (folder / ".complete").is_file():
        return folder
    import shutil

    if folder.exists():  # left incomplete by a killed process
        shutil.rmtree(folder, ignore_errors=True)
    model, processor = tiny_qwen_vl_components(seed)
    tmp = base / f".{folder.name}.{os.getpid()}.tmp"
    model.save_pretrained(tmp, safe_serialization=True)
    processor.save_pretrained(tmp)
    (tmp / ".complete").write_text("ok")
    try:
        os.replace(tmp, folder)
    except OSError:  # another process saved it first: theirs is identical
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
