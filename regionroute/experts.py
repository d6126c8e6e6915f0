"""Per-style LoRA experts ("LoRA-MoE"): one named peft adapter per style on a frozen Flux(-Kontext) transformer.

Routing is a deterministic lookup (paper.md section 3): the requested style's expert is activated at weight
1.0, the others are off. Each expert is saved as a diffusers LoRA safetensors file
(``FluxKontextPipeline.save_lora_weights``), so ``pipe.load_lora_weights(dir, weight_name=..., adapter_name=...)``
reads ours and the public RegionRoute files alike.

**The experts folder** is the one layout training writes and the editor reads: ``{style}.safetensors`` per
style plus ``index.json``, ``{"format": 1, "experts": {style: entry}}`` where an entry names the file, the
base model and its revision, the LoRA rank/alpha/targets, the training config hash and the hyper-parameters
(:func:`write_index_entry`). A folder of public expert files without an index works too (every
``*.safetensors`` is a style).

Example:
    >>> route_style("make the cat in Pixel Art style, keep other area unchanged", ["pixel-art", "cyberpunk"])
    'pixel-art'
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regionroute.tokens import style_pattern
from rses.errors import UsageError
from rses.io import write_atomic

#: The four styles of the paper (and of the public expert files).
STYLES: tuple[str, ...] = ("pixel-art", "cyberpunk", "expressionism", "line-art")
IMAGE_STREAM_MODULES: tuple[str, ...] = ("to_q", "to_k", "to_v", "to_out.0")
TEXT_STREAM_MODULES: tuple[str, ...] = ("add_q_proj", "add_k_proj", "add_v_proj", "to_add_out")


LORA_BLOCKS: tuple[str, ...] = ("all", "double", "single")
INDEX_FILE = "index.json"


@dataclass
class ExpertConfig:
    """LoRA shape of one expert (the public code: r=4, alpha=4, gaussian init, image-stream q/k/v/out).

    Attributes:
        rank: LoRA rank.
        alpha: LoRA alpha (scale = alpha / rank); ``None`` is ``rank`` (scale 1, as the public r=4, alpha=4).
        init: peft ``init_lora_weights`` (``"gaussian"``: A ~ N(0, 1/r), B = 0, so a new expert is a no-op).
        text_stream: also adapt the double blocks' text-stream projections (``add_*_proj``, ``to_add_out``).
        blocks: ``"all"`` (double- and single-stream blocks, the paper's "dual-stream"), ``"double"`` or
            ``"single"`` only (the paper's Table 3 ablations "w/o Single" and "w/o Double").
    """

    rank: int = 4
    alpha: float | None = None
    init: str = "gaussian"
    text_stream: bool = False
    blocks: str = "all"

    def __post_init__(self) -> None:
        if self.blocks not in LORA_BLOCKS:
            raise UsageError(f"LoRA blocks={self.blocks!r}; use one of {LORA_BLOCKS}.")
        if self.rank < 1:
            raise UsageError(f"LoRA rank must be >= 1, got {self.rank}.")

    def target_modules(self) -> list[str] | str:
        """Peft targets: module-name suffixes for ``"all"``, else a full-name regex limited to those blocks."""
        names = IMAGE_STREAM_MODULES + (TEXT_STREAM_MODULES if self.text_stream else ())
        if self.blocks == "all":
            return list(names)
        alternatives = "|".join(re.escape(n) for n in names)
        prefix = "transformer_blocks" if self.blocks == "double" else "single_transformer_blocks"
        return rf"{prefix}\.\d+\.attn\.({alternatives})"

    def lora_config(self) -> Any:
        """The ``peft.LoraConfig`` for this expert shape."""
        from peft import LoraConfig

        return LoraConfig(
            r=self.rank,
            lora_alpha=self.rank if self.alpha is None else self.alpha,
            init_lora_weights=self.init,
            target_modules=self.target_modules(),
        )


def add_expert(transformer: Any, style: str, config: ExpertConfig | None = None) -> None:
    """Add an (untrained) expert named ``style`` and make it the only active one."""
    transformer.add_adapter((config or ExpertConfig()).lora_config(), adapter_name=style)
    transformer.set_adapters(style)


def experts_of(transformer: Any) -> list[str]:
    """Names of the experts loaded into ``transformer``."""
    return sorted(getattr(transformer, "peft_config", {}) or {})


def route_style(prompt: str, styles: Sequence[str], style: str | None = None) -> str:
    """The expert for a request: ``style`` when given, else the one style name that occurs in ``prompt``.

    Raises:
        UsageError: the explicit style has no expert, or the prompt names none / several of ``styles``.
    """
    if style is not None:
        if style not in styles:
            raise UsageError(
                f"No RegionRoute expert for style {style!r}; loaded experts: {sorted(styles)}. "
                "Train one with `rses train regionroute --style ...` or pass a known style."
            )
        return style
    found = sorted(s for s in styles if style_pattern(s).search(prompt))
    if len(found) != 1:
        what = "none" if not found else f"several ({found})"
        raise UsageError(
            f"Prompt {prompt!r} names {what} of the expert styles {sorted(styles)}; "
            "pass the style explicitly."
        )
    return found[0]


def activate_expert(transformer: Any, style: str) -> None:
    """Route to ``style``'s expert (weight 1.0, all others off)."""
    route_style("", experts_of(transformer), style)
    transformer.set_adapters(style)


def expert_filename(style: str) -> str:
    """The expert file name of ``style``: ``{style}.safetensors``."""
    return f"{style}.safetensors"


def save_expert(transformer: Any, style: str, out_dir: str | Path, entry: dict | None = None) -> Path:
    """Save ``style``'s expert as ``out_dir/{style}.safetensors`` (diffusers LoRA format) and index it.

    Args:
        transformer: the Flux transformer holding the expert as a peft adapter named ``style``.
        style: the style (adapter) name.
        out_dir: the experts folder.
        entry: what the index records besides the file and the LoRA shape (base model, config hash,
            hyper-parameters; see :func:`write_index_entry`).
    """
    from diffusers import FluxKontextPipeline
    from peft.utils import get_peft_model_state_dict

    out_dir = Path(out_dir)
    state = get_peft_model_state_dict(transformer, adapter_name=style)
    cfg = transformer.peft_config[style]
    FluxKontextPipeline.save_lora_weights(
        out_dir,
        transformer_lora_layers=state,
        weight_name=expert_filename(style),
        transformer_lora_adapter_metadata=cfg.to_dict(),
    )
    targets = cfg.target_modules
    lora = {
        "rank": cfg.r,
        "alpha": cfg.lora_alpha,
        "target_modules": targets if isinstance(targets, str) else sorted(targets),
    }
    write_index_entry(out_dir, style, lora | (entry or {}))
    return out_dir / expert_filename(style)


def read_index(experts_dir: str | Path) -> dict[str, dict]:
    """``{style: entry}`` of an experts folder's ``index.json``; ``{}`` when it has none.

    Raises:
        UsageError: the index is not valid JSON of the expected shape.
    """
    path = Path(experts_dir) / INDEX_FILE
    if not path.is_file():
        return {}
    try:
        experts = json.loads(path.read_text())["experts"]
    except (ValueError, KeyError, TypeError) as err:
        raise UsageError(
            f"Experts index {path} is unreadable ({err}); delete it and retrain or re-save."
        ) from None
    return dict(experts)


def write_index_entry(experts_dir: str | Path, style: str, entry: dict) -> Path:
    """Record ``style``'s entry (plus its ``file``) in ``experts_dir/index.json``, keeping the other styles'.

    A typical entry: ``{"rank", "alpha", "target_modules", "base_model", "base_revision", "config_hash",
    "hyperparameters", "steps"}``. Written atomically; one process writes (the trainer's main process).
    """
    experts = read_index(experts_dir) | {style: {"style": style, "file": expert_filename(style)} | entry}
    path = Path(experts_dir) / INDEX_FILE
    write_atomic(path, json.dumps({"format": 1, "experts": experts}, indent=2, sort_keys=True, default=str))
    return path


def styles_in(experts_dir: str | Path) -> list[str]:
    """The styles of an experts folder: the index's, else one per ``*.safetensors`` file (public experts)."""
    index = read_index(experts_dir)
    return sorted(index) if index else sorted(p.stem for p in Path(experts_dir).glob("*.safetensors"))


def load_expert(target: Any, path: str | Path, style: str) -> None:
    """Load an expert file (ours or a public RegionRoute LoRA) as adapter ``style``.

    Args:
        target: a ``FluxKontextPipeline`` (uses ``load_lora_weights``) or a ``FluxTransformer2DModel``.
        path: the ``.safetensors`` file, or a directory holding ``{style}.safetensors``.
        style: adapter name.

    Raises:
        UsageError: the file does not exist.
    """
    path = Path(path)
    file = path / expert_filename(style) if path.is_dir() else path
    if not file.is_file():
        there = styles_in(file.parent) if file.parent.is_dir() else []
        raise UsageError(
            f"No expert file for style {style!r} at {file} (experts there: {there or 'none'}). Train it with "
            f"`rses train regionroute --style {style} --out {file.parent}`."
        )
    if hasattr(target, "load_lora_weights"):
        target.load_lora_weights(str(file.parent), weight_name=file.name, adapter_name=style)
    else:
        target.load_lora_adapter(
            str(file.parent), weight_name=file.name, prefix="transformer", adapter_name=style
        )
