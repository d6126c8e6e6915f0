"""The ``regionroute`` editor: FLUX.1-Kontext-dev plus one LoRA expert per style, mask-free.

It is the ``kontext`` editor (same loading, sizes, seeding, dtype and memory options: ``offload``,
``vae_tiling``) with the style experts loaded into its transformer. Each request is routed to its style's
expert (``request.style``, else the style named in the prompt); requests of one style share pipeline calls;
the mask is never used. Weights come through :mod:`rses.weights`: the base model from ``config.weights`` /
``RSES_KONTEXT_WEIGHTS`` (default ``black-forest-labs/FLUX.1-Kontext-dev``) and an experts folder
(:mod:`regionroute.experts`: ``{style}.safetensors`` + ``index.json``) from ``config.experts`` /
``RSES_REGIONROUTE_WEIGHTS``, e.g. the ``--out`` folder of ``rses train regionroute``, which every style's
training writes into. ``smoke=True`` uses the tiny random pipeline of :mod:`rses.testing.flux`
with fresh (no-op) experts unless ``config.experts`` points at trained ones.

Example:
    >>> import numpy as np
    >>> from rses.editing import EditRequest, get_editor
    >>> editor = get_editor("regionroute", smoke=True)  # tiny random weights: the output is noise
    >>> req = EditRequest("s0", np.zeros((48, 64, 3), np.uint8), None, "make the cat in line-art style",
    ...                   "line-art", "cat")
    >>> editor.edit([req])[0].shape
    (48, 64, 3)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from baselines.kontext import KontextConfig, KontextEditor
from regionroute.experts import STYLES, add_expert, experts_of, load_expert, route_style, styles_in
from rses.editing import EditRequest
from rses.weights import WeightSpec, resolve_weights

EXPERTS_SPEC = WeightSpec(
    name="RegionRoute style experts",
    default="hf-hub:bwchen05/RegionRoute",  # hub id unverified: see docs
    allow_patterns=("*.safetensors", "*.json"),
    env_var="RSES_REGIONROUTE_WEIGHTS",
)


@dataclass(frozen=True)
class RegionRouteConfig(KontextConfig):
    """:class:`~baselines.kontext.KontextConfig` (the public code's 28 steps, guidance 3.5, 1024 px) plus the experts.

    Args:
        experts: the experts folder; ``None`` uses ``RSES_REGIONROUTE_WEIGHTS``, then the hub id.
        styles: the experts to load; ``None`` loads the folder's (its index, else its ``*.safetensors``
            files), or the paper's four fresh no-op experts in smoke mode without a folder.
    """

    experts: str | None = None
    styles: tuple[str, ...] | None = None


class RegionRouteEditor(KontextEditor):
    """Mask-free regional style editing by routing to a per-style LoRA expert."""

    name = "regionroute"
    sees_mask = False
    Config = RegionRouteConfig
    weight_fields = ("weights", "experts")

    def weights(self) -> list[WeightSpec]:
        """The base pipeline (not in smoke mode) and the experts (in smoke mode only when configured)."""
        base = [] if self.smoke else [self.weight_spec()]
        return base + ([EXPERTS_SPEC] if not self.smoke or self.config.experts else [])

    def weight_reference(self, spec: WeightSpec) -> str | None:
        """``config.experts`` for the experts, ``config.weights`` for the base pipeline."""
        return self.config.experts if spec == EXPERTS_SPEC else super().weight_reference(spec)

    def check_weights(self) -> None:
        """Resolve the base model and the experts as loading will (``config.weights``, ``config.experts``),
        so a missing checkpoint stops the run before any work.
        """
        super().check_weights()
        self.experts_dir()

    def experts_dir(self) -> Path | None:
        """The directory of ``{style}.safetensors`` experts; ``None`` in smoke mode without ``config.experts``."""
        if self.smoke and self.config.experts is None:
            return None
        return resolve_weights(EXPERTS_SPEC, self.config.experts)

    def prepare_pipeline(self, pipe: Any) -> Any:
        """Load every configured expert (fresh no-op experts in smoke mode without ``config.experts``)."""
        experts = self.experts_dir()
        styles = self.config.styles or (STYLES if experts is None else styles_in(experts))
        for style in styles:
            if experts is None:
                add_expert(pipe.transformer, style)
            else:
                load_expert(pipe, experts, style)
        return pipe

    def edit(self, requests: Sequence[EditRequest]) -> list[np.ndarray]:
        """Route each request to its style's expert; one :meth:`KontextEditor.edit` per style.

        Raises:
            UsageError: a request's style has no expert (naming the styles there are).
        """
        pipe = self.load_pipeline()
        styles = experts_of(pipe.transformer)
        by_style: dict[str, list[int]] = defaultdict(list)
        for i, request in enumerate(requests):
            by_style[route_style(request.prompt, styles, request.style or None)].append(i)
        outputs: list[np.ndarray | None] = [None] * len(requests)
        for style, indices in by_style.items():
            pipe.set_adapters(style)
            for i, image in zip(indices, super().edit([requests[i] for i in indices]), strict=True):
                outputs[i] = image
        return outputs
