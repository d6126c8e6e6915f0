"""The ``regionroute`` editor: FLUX.1-Kontext-dev plus one LoRA expert per style, mask-free.

Each request is routed to its style's expert (``request.style``, else the style named in the prompt); the
mask is never used. Weights come through :mod:`rses.weights`: the base model from
``RSES_KONTEXT_WEIGHTS`` (default ``black-forest-labs/FLUX.1-Kontext-dev``) and a directory of
``{style}.safetensors`` experts from ``RSES_REGIONROUTE_WEIGHTS`` (e.g. the output dir of
``rses train regionroute``). ``smoke=True`` uses the tiny random pipeline of :mod:`rses.testing.flux` with
fresh (no-op) experts unless ``config.experts`` points at trained ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from regionroute.experts import STYLES, add_expert, experts_of, load_expert, route_style
from rses.editing import Editor, EditRequest
from rses.weights import WeightSpec, pickle_allowed, resolve_weights

KONTEXT_SPEC = WeightSpec(
    name="FLUX.1-Kontext-dev",
    default="hf-hub:black-forest-labs/FLUX.1-Kontext-dev",
    allow_patterns=("*.json", "*.safetensors", "*.txt", "*.model", "tokenizer*/*"),
    env_var="RSES_KONTEXT_WEIGHTS",
)
EXPERTS_SPEC = WeightSpec(
    name="RegionRoute style experts",
    default="hf-hub:bwchen05/RegionRoute",  # hub id unverified: see docs
    allow_patterns=("*.safetensors", "*.json"),
    env_var="RSES_REGIONROUTE_WEIGHTS",
)


@dataclass
class RegionRouteConfig:
    """Inference options (public code defaults: 28 steps, guidance 3.5, 1024 px)."""

    base: str | None = None
    experts: str | None = None
    styles: tuple[str, ...] = STYLES
    steps: int = 28
    guidance_scale: float = 3.5
    resolution: int = 1024
    max_sequence_length: int = 512
    dtype: str = "bfloat16"


class RegionRouteEditor(Editor):
    """Mask-free regional style editing by routing to a per-style LoRA expert."""

    name = "regionroute"
    sees_mask = False
    Config = RegionRouteConfig

    def __init__(self, config=None, device: str = "cpu", smoke: bool = False):
        super().__init__(config, device, smoke)
        self._pipe = None

    def weights(self) -> list[WeightSpec]:
        return [] if self.smoke else [KONTEXT_SPEC, EXPERTS_SPEC]

    def check_weights(self) -> None:
        """Resolve the base model and the experts as :meth:`pipeline` will, honouring ``config.base`` and
        ``config.experts``, so a missing checkpoint stops the run before any work."""
        self._base_path()
        self._experts_path()

    def _base_path(self):
        """The local FLUX.1-Kontext-dev folder; ``None`` in smoke mode (the tiny pipeline is used)."""
        return None if self.smoke else resolve_weights(KONTEXT_SPEC, self.config.base)

    def _experts_path(self):
        """The directory of ``{style}.safetensors`` experts; ``None`` in smoke mode without ``config.experts``."""
        if self.smoke and self.config.experts is None:
            return None
        return resolve_weights(EXPERTS_SPEC, self.config.experts)

    def pipeline(self):
        """The Kontext pipeline with every configured expert loaded (built once)."""
        if self._pipe is not None:
            return self._pipe
        import torch

        cfg, base, experts = self.config, self._base_path(), self._experts_path()
        if base is None:
            from rses.testing.flux import tiny_kontext_pipeline

            pipe = tiny_kontext_pipeline(seed=0)
        else:
            from diffusers import FluxKontextPipeline

            pipe = FluxKontextPipeline.from_pretrained(
                base, torch_dtype=getattr(torch, cfg.dtype), use_safetensors=not pickle_allowed()
            )
        for style in cfg.styles:
            if experts is None:
                add_expert(pipe.transformer, style)
            else:
                load_expert(pipe, experts, style)
        self._pipe = pipe.to(self.device)
        return self._pipe

    def edit(self, requests: Sequence[EditRequest]) -> list[np.ndarray]:
        import torch
        from PIL import Image

        pipe = self.pipeline()
        styles = experts_of(pipe.transformer)
        size = 64 if self.smoke else self.config.resolution
        out = []
        for r in requests:
            style = route_style(r.prompt, styles, r.style or None)
            pipe.set_adapters(style)
            image = pipe(
                prompt=r.prompt,
                image=Image.fromarray(r.image).resize((size, size)),
                height=size,
                width=size,
                max_area=size * size,
                num_inference_steps=2 if self.smoke else self.config.steps,
                guidance_scale=self.config.guidance_scale,
                _auto_resize=False,
                max_sequence_length=32 if self.smoke else self.config.max_sequence_length,
                generator=torch.Generator("cpu").manual_seed(r.seed),
                output_type="pil",
            ).images[0]
            out.append(
                np.asarray(image.resize(r.image.shape[1::-1], Image.BICUBIC).convert("RGB"), dtype=np.uint8)
            )
        return out
