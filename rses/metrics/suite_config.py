"""The metric suite's options: :class:`MetricSuiteConfig`, their type checks, and the metric dtypes.

Every field changes a number and is recorded in ``run.json`` (``MetricSuite.config()``); pinned defaults are
documented in ``docs/metrics.md``.

Example:
    >>> MetricSuiteConfig().lpips_net, metric_dtype("bf16")
    ('alex', torch.bfloat16)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from rses.errors import UsageError
from rses.metrics import pixel
from rses.metrics.clip_views import DEFAULT_CROP_POLICY
from rses.metrics.rses_score import LPIPS_CEILING, PSNR_CEIL, PSNR_FLOOR, RSES_GAIN_SCALE
from rses.metrics.rsm import RSM_PADDING, STYLE_TEMPLATE
from rses.metrics.vlm import MAX_PIXELS, OPPOSITES, QUESTIONS

#: Images per backbone call when ``batch_size`` is not given, by device type (4 was tuned on a 2-core CPU).
BATCH_SIZES = {"cpu": 4, "cuda": 32}
#: ``--metric-dtype`` names: the precision of the learned models (pixel metrics are always float64).
METRIC_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def metric_dtype(name: str | torch.dtype) -> torch.dtype:
    """The torch dtype of a ``--metric-dtype`` name (``fp32``, ``bf16``, ``fp16``); dtypes pass through.

    Raises:
        UsageError: an unknown name.
    """
    if isinstance(name, torch.dtype):
        return name
    if name not in METRIC_DTYPES:
        raise UsageError(
            f"Unknown metric dtype {name!r}: must be one of {', '.join(METRIC_DTYPES)} "
            "(fp32 is the reference; bf16 / fp16 are opt-in, see docs/metrics.md for their error)."
        )
    return METRIC_DTYPES[name]


@dataclass
class MetricSuiteConfig:
    """Every option that changes a number; all pinned defaults are documented in ``docs/metrics.md``."""

    clip_model: str = "ViT-B-32"
    clip_pretrained: str = "openai"
    lpips_net: str = "alex"
    padding: float = RSM_PADDING
    style_template: str = STYLE_TEMPLATE
    boundary: int = 0
    consistency_tol: float = pixel.CONSISTENCY_TOL
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
