"""The metric suite's options: :class:`MetricSuiteConfig`, their pinned defaults, type checks and dtypes.

Every field changes a number and is recorded in ``run.json`` (``MetricSuite.config()``); pinned defaults are
documented in ``docs/metrics.md``. This module imports no model library (torch loads on the first
:func:`metric_dtype` call), so the commands that read finished runs (``rses leaderboard``) and ``rses --help``
compare options against these defaults without it.

Example:
    >>> MetricSuiteConfig().lpips_net, metric_dtype("bf16")
    ('alex', torch.bfloat16)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rses.errors import UsageError
from rses.metrics.rses_score import LPIPS_CEILING, PSNR_CEIL, PSNR_FLOOR, RSES_GAIN_SCALE

if TYPE_CHECKING:
    import torch

#: Pixel consistency: a pixel is kept when its largest channel change is at most this (2 levels of 255).
CONSISTENCY_TOL = 2 / 255
#: RSM's object crop: the mask's bounding box grown by this fraction of its size on each side.
RSM_PADDING = 0.1
#: The text CLIP compares a region with; ``{style}`` is the style name with hyphens as spaces.
STYLE_TEMPLATE = "a {style} style image"
#: How CLIP sees a region of any aspect ratio (:mod:`rses.metrics.clip_views`); the paper's is ``center-crop``.
CROP_POLICIES = ("letterbox", "tile", "center-crop")
DEFAULT_CROP_POLICY = "letterbox"
#: VLM judge question templates per view; ``{style}`` is the style name with hyphens as spaces ("pixel art").
QUESTIONS: dict[str, str] = {
    "object": "The grey area is masked out. Is the object in this image drawn in {style} style? Answer Yes or No.",
    "background": "The grey area hides the main object. Is the rest of this image, the background, drawn in "
    "{style} style? Answer Yes or No.",
}
#: The "opposite" of each style (the paper gives none): a style far from it in look, as symmetric pairs.
OPPOSITES: dict[str, str] = {
    "pixel-art": "expressionism",
    "expressionism": "pixel-art",
    "line-art": "cyberpunk",
    "cyberpunk": "line-art",
}
#: VLM judge pixel budget of one view: the processor keeps the aspect ratio and scales the view to at most this
#: area (448 x 448 = 256 visual tokens for Qwen2.5-VL) and at least 28 x 28.
MAX_PIXELS, MIN_PIXELS = 448 * 448, 28 * 28

#: Images per backbone call when ``batch_size`` is not given, by device type (4 was tuned on a 2-core CPU).
BATCH_SIZES = {"cpu": 4, "cuda": 32}
#: ``--metric-dtype`` names and their torch dtypes: the precision of the learned models (pixel metrics are
#: always float64).
METRIC_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


def style_text(style: str, template: str = STYLE_TEMPLATE) -> str:
    """The text CLIP compares against: ``template`` with the style name's hyphens read as spaces.

    Example:
        >>> style_text("pixel-art")
        'a pixel art style image'
    """
    return template.format(style=style.replace("-", " ").replace("_", " "))


def metric_dtype(name: str | torch.dtype) -> torch.dtype:
    """The torch dtype of a ``--metric-dtype`` name (``fp32``, ``bf16``, ``fp16``); dtypes pass through.

    Raises:
        UsageError: an unknown name.
    """
    import torch

    if isinstance(name, torch.dtype):
        return name
    if name not in METRIC_DTYPES:
        raise UsageError(
            f"Unknown metric dtype {name!r}: must be one of {', '.join(METRIC_DTYPES)} "
            "(fp32 is the reference; bf16 / fp16 are opt-in, see docs/metrics.md for their error)."
        )
    return getattr(torch, METRIC_DTYPES[name])


@dataclass
class MetricSuiteConfig:
    """Every option that changes a number; all pinned defaults are documented in ``docs/metrics.md``."""

    clip_model: str = "ViT-B-32"
    clip_pretrained: str = "openai"
    lpips_net: str = "alex"
    padding: float = RSM_PADDING
    style_template: str = STYLE_TEMPLATE
    boundary: int = 0
    consistency_tol: float = CONSISTENCY_TOL
    pixel_range: str = "unit"
    gain_scale: float = RSES_GAIN_SCALE
    lpips_ceiling: float = LPIPS_CEILING
    psnr_floor: float = PSNR_FLOOR
    psnr_ceil: float = PSNR_CEIL
    mask_threshold: float | None = None
    allow_pickle: bool = False
    source_cache_size: int = 16
    batch_size: int | None = None  # images per backbone call; None: BATCH_SIZES of the device
    crop_policy: str = DEFAULT_CROP_POLICY
    vlm_questions: dict[str, str] = field(default_factory=lambda: dict(QUESTIONS))
    vlm_opposites: dict[str, str] = field(default_factory=lambda: dict(OPPOSITES))
    vlm_max_pixels: int = MAX_PIXELS


def option_defaults() -> dict[str, Any]:
    """Every option's default, by name: what a run that records no value for an option was scored with.

    Example:
        >>> option_defaults()["boundary"], option_defaults()["vlm_opposites"]["pixel-art"]
        (0, 'expressionism')
    """
    return dataclasses.asdict(MetricSuiteConfig())


def check_option_types(options: dict[str, Any]) -> None:
    """One-line UsageError for an option whose type differs from its default's (ints are floats too; None is a
    float for ``mask_threshold``) or a ``mask_threshold`` outside [0, 1].
    """
    defaults = MetricSuiteConfig()
    for name, value in options.items():
        default = getattr(defaults, name)
        kind = float if default is None or isinstance(default, float) else type(default)
        kinds = (int, float) if kind is float else (kind,)
        if (not isinstance(value, kinds) or (isinstance(value, bool) and kind is not bool)) and not (
            default is None and value is None
        ):
            raise UsageError(f"{name} must be a {kind.__name__}, got {type(value).__name__} {value!r}.")
    if options.get("mask_threshold") is not None and not 0 <= options["mask_threshold"] <= 1:
        raise UsageError(f"mask_threshold must lie in [0, 1], got {options['mask_threshold']}.")
