"""Per-style LoRA experts ("LoRA-MoE"): one named peft adapter per style on a frozen Flux(-Kontext) transformer.

Routing is a deterministic lookup (paper.md section 3): the requested style's expert is activated at weight
1.0, the others are off. Each expert is saved as a diffusers LoRA safetensors file
(``FluxKontextPipeline.save_lora_weights``), so ``pipe.load_lora_weights(dir, weight_name=..., adapter_name=...)``
reads ours and the public RegionRoute files alike.

Example:
    >>> route_style("make the cat in Pixel Art style, keep other area unchanged", ["pixel-art", "cyberpunk"])
    'pixel-art'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from regionroute.tokens import style_pattern
from rses.errors import UsageError

#: The four styles of the paper (and of the public expert files).
STYLES: tuple[str, ...] = ("pixel-art", "cyberpunk", "expressionism", "line-art")
IMAGE_STREAM_MODULES: tuple[str, ...] = ("to_q", "to_k", "to_v", "to_out.0")
TEXT_STREAM_MODULES: tuple[str, ...] = ("add_q_proj", "add_k_proj", "add_v_proj", "to_add_out")


@dataclass
class ExpertConfig:
    """LoRA shape of one expert (the public code: r=4, alpha=4, gaussian init, image-stream q/k/v/out).

    Attributes:
        rank: LoRA rank.
        alpha: LoRA alpha (scale = alpha / rank).
        init: peft ``init_lora_weights`` (``"gaussian"``: A ~ N(0, 1/r), B = 0, so a new expert is a no-op).
        text_stream: also adapt the double blocks' text-stream projections (``add_*_proj``, ``to_add_out``).
    """

    rank: int = 4
    alpha: float = 4.0
    init: str = "gaussian"
    text_stream: bool = False

    def target_modules(self) -> list[str]:
        return list(IMAGE_STREAM_MODULES + (TEXT_STREAM_MODULES if self.text_stream else ()))

    def lora_config(self):
        from peft import LoraConfig

        return LoraConfig(
            r=self.rank,
            lora_alpha=self.alpha,
            init_lora_weights=self.init,
            target_modules=self.target_modules(),
        )


def add_expert(transformer, style: str, config: ExpertConfig | None = None) -> None:
    """Add an (untrained) expert named ``style`` and make it the only active one."""
    transformer.add_adapter((config or ExpertConfig()).lora_config(), adapter_name=style)
    transformer.set_adapters(style)


def experts_of(transformer) -> list[str]:
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


def activate_expert(transformer, style: str) -> None:
    """Route to ``style``'s expert (weight 1.0, all others off)."""
    route_style("", experts_of(transformer), style)
    transformer.set_adapters(style)


def expert_filename(style: str) -> str:
    return f"{style}.safetensors"


def save_expert(transformer, style: str, out_dir: str | Path) -> Path:
    """Save ``style``'s expert as ``out_dir/{style}.safetensors`` (diffusers LoRA format) plus a JSON config."""
    from diffusers import FluxKontextPipeline
    from peft.utils import get_peft_model_state_dict

    out_dir = Path(out_dir)
    state = get_peft_model_state_dict(transformer, adapter_name=style)
    FluxKontextPipeline.save_lora_weights(
        out_dir,
        transformer_lora_layers=state,
        weight_name=expert_filename(style),
        transformer_lora_adapter_metadata=transformer.peft_config[style].to_dict(),
    )
    cfg = transformer.peft_config[style]
    meta = {
        "style": style,
        "rank": cfg.r,
        "alpha": cfg.lora_alpha,
        "target_modules": sorted(cfg.target_modules),
    }
    (out_dir / f"{style}.json").write_text(json.dumps(meta, indent=2))
    return out_dir / expert_filename(style)


def load_expert(target, path: str | Path, style: str) -> None:
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
        raise UsageError(f"No expert file for style {style!r} at {file}.")
    if hasattr(target, "load_lora_weights"):
        target.load_lora_weights(str(file.parent), weight_name=file.name, adapter_name=style)
    else:
        target.load_lora_adapter(
            str(file.parent), weight_name=file.name, prefix="transformer", adapter_name=style
        )


def config_dict(config: ExpertConfig) -> dict:
    return asdict(config)
