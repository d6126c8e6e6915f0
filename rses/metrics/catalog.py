"""The metric catalogue: every metric's name, group, direction and bounds, and name/group selection.

Example:
    >>> select_metrics("pixel")[:3]
    ['mse_bg', 'psnr_bg', 'ssim_bg']
    >>> METRICS["lpips_bg"].higher_is_better
    False
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from rses.errors import UsageError


@dataclass(frozen=True)
class MetricInfo:
    """What a metric is: group (``pixel`` needs no weights; ``lpips`` / ``clip`` name the models it needs)."""

    name: str
    group: str
    higher_is_better: bool
    lower: float
    upper: float
    description: str
    needs: frozenset[str] = frozenset()
    needs_target: bool = False
    combined: bool = False


_INF = float("inf")
_CLIP, _LPIPS, _BOTH = frozenset({"clip"}), frozenset({"lpips"}), frozenset({"clip", "lpips"})
METRICS: dict[str, MetricInfo] = {m.name: m for m in [
    MetricInfo("mse_bg", "pixel", False, 0.0, 1.0, "MSE of the background vs the source ([0,1] pixels)"),
    MetricInfo("psnr_bg", "pixel", True, 0.0, 100.0, "PSNR of the background vs the source (dB, capped at 100)"),
    MetricInfo("ssim_bg", "pixel", True, -1.0, 1.0, "SSIM map averaged over the background"),
    MetricInfo("pixel_consistency", "pixel", True, 0.0, 1.0, "share of background pixels changed by <= 2/255"),
    MetricInfo("mse_in", "pixel", False, 0.0, 1.0, "MSE inside the mask vs the pseudo-GT target", needs_target=True),
    MetricInfo("ssim_in", "pixel", True, -1.0, 1.0, "SSIM inside the mask vs the pseudo-GT target", needs_target=True),
    MetricInfo("ref_gain", "pixel", True, 0.0, 1.0, "share of the source-to-target Laplacian distance covered",
               needs_target=True),
    MetricInfo("rses_ref", "pixel", True, 0.0, 1.0, "weight-free RSES: sqrt(ref_gain * PSNR_bg preservation)",
               needs_target=True, combined=True),
    MetricInfo("lpips_bg", "lpips", False, 0.0, _INF, "spatial LPIPS averaged over the background", _LPIPS),
    MetricInfo("lpips_in", "lpips", False, 0.0, _INF, "spatial LPIPS inside the mask vs the pseudo-GT target", _LPIPS,
               needs_target=True),
    MetricInfo("rsm", "clip", True, 0.0, 1.0, "(1+cos)/2 of the padded object crop and the style text", _CLIP),
    MetricInfo("rsm_strict", "clip", True, 0.0, 1.0, "RSM with the background inside the crop greyed out", _CLIP),
    MetricInfo("rsm_gain", "clip", True, -1.0, 1.0, "RSM(edited) - RSM(source)", _CLIP),
    MetricInfo("style_leakage", "clip", False, -1.0, 1.0, "background style similarity, edited minus source", _CLIP),
    MetricInfo("rses", "clip", True, 0.0, 1.0, "RSES: sqrt(style success from RSM gain * (1 - LPIPS_bg / 0.5))", _BOTH,
               combined=True),
]}
#: The combined scores, learned ones first: tables sort by the first one a run has.
COMBINED = tuple(sorted((m.name for m in METRICS.values() if m.combined), key=lambda n: not METRICS[n].needs))
GROUPS = ("pixel", "lpips", "clip")


def select_metrics(spec: str | Sequence[str]) -> list[str]:
    """Metric names (catalogue order) for names or groups (``pixel``, ``lpips``, ``clip``, ``all``).

    ``spec`` is a list or a comma-separated string.

    Raises:
        UsageError: an unknown name, with the closest matches.
    """
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if not items:
        raise UsageError(f"No metrics selected; pass names or groups from: all, {', '.join(GROUPS)}, "
                         f"{', '.join(METRICS)}.")
    chosen: set[str] = set()
    for item in items:
        if item == "all":
            chosen |= set(METRICS)
        elif item in GROUPS:
            chosen |= {m.name for m in METRICS.values() if m.group == item}
        elif item in METRICS:
            chosen.add(item)
        else:
            close = difflib.get_close_matches(item, ["all", *GROUPS, *METRICS], n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise UsageError(f"Unknown metric or group {item!r}.{hint} Available: all, {', '.join(GROUPS)}, "
                             f"{', '.join(METRICS)}.")
    return [name for name in METRICS if name in chosen]
