"""The metric catalogue: every metric's name, group, direction, bounds, needs and derivation; selection.

The catalogue drives :class:`~rses.metrics.suite.MetricSuite`: a metric with a ``formula`` is derived, per
sample, from the metrics it names in ``derives_from`` (computed first, even when not selected); any other
metric is measured by the suite stage of its ``group`` (``pixel``, ``lpips``, ``clip``, ``vlm``, run in that
order). A new derived metric is one :class:`MetricInfo` here and nothing else (``docs/extending.md``).
This module imports no torch (``import rses.metrics.catalog`` is cheap).

Example:
    >>> select_metrics("pixel")[:3]
    ['mse_bg', 'psnr_bg', 'ssim_bg']
    >>> METRICS["lpips_bg"].higher_is_better
    False
"""

from __future__ import annotations

import difflib
import graphlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rses.errors import UsageError
from rses.metrics.rses_score import rses_ref_lpips_score, rses_ref_score, rses_score

#: A derived metric's per-sample formula: ``formula(values, options)`` with ``values`` the per-sample values
#: of (at least) its ``derives_from`` metrics as floats, and ``options`` the suite's
#: :class:`~rses.metrics.suite.MetricSuiteConfig`; returns a float (NaN when undefined).
Formula = Callable[[Mapping[str, float], Any], float]


@dataclass(frozen=True)
class MetricInfo:
    """What a metric is and what it needs.

    Attributes:
        name, group: the metric's name and group (``pixel`` needs no weights; ``lpips`` / ``clip`` / ``vlm``:
            the suite stage that measures it).
        higher_is_better, lower, upper, description: direction, bounds and a one-line definition.
        needs: the models it needs (``clip``, ``lpips``, ``vlm``); its weights are checked before a run.
        needs_target: NaN without a pseudo-GT target.
        combined: a combined score (tables sort by the first one a run has).
        derives_from: metrics it is computed from; the suite computes them first, even when not selected.
        formula: for a derived metric, its per-sample :data:`Formula`; ``None``: measured by its group's stage.
    """

    name: str
    group: str
    higher_is_better: bool
    lower: float
    upper: float
    description: str
    needs: frozenset[str] = frozenset()
    needs_target: bool = False
    combined: bool = False
    derives_from: tuple[str, ...] = ()
    formula: Formula | None = None


def _rses(v: Mapping[str, float], o: Any) -> float:
    return rses_score(v["rsm_gain"], v["lpips_bg"], o.gain_scale, o.lpips_ceiling)


def _rses_ref(v: Mapping[str, float], o: Any) -> float:
    return (
        math.nan
        if math.isnan(v["ref_gain"])
        else rses_ref_score(v["ref_gain"], v["psnr_bg"], o.psnr_floor, o.psnr_ceil)
    )


def _rses_ref_lpips(v: Mapping[str, float], o: Any) -> float:
    return (
        math.nan
        if math.isnan(v["ref_gain"])
        else rses_ref_lpips_score(v["ref_gain"], v["lpips_bg"], o.lpips_ceiling)
    )


def _vlm_localized(v: Mapping[str, float], o: Any) -> float:
    from rses.metrics.vlm import localized  # the VLM module imports torch: only when scoring

    return localized(v["vlm_obj_target"], v["vlm_bg_target"])


_INF = float("inf")
_CLIP, _LPIPS, _BOTH = frozenset({"clip"}), frozenset({"lpips"}), frozenset({"clip", "lpips"})
_VLM = frozenset({"vlm"})
METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in [
        MetricInfo("mse_bg", "pixel", False, 0.0, 1.0, "MSE of the background vs the source ([0,1] pixels)"),
        MetricInfo(
            "psnr_bg", "pixel", True, 0.0, 100.0, "PSNR of the background vs the source (dB, capped at 100)"
        ),
        MetricInfo("ssim_bg", "pixel", True, -1.0, 1.0, "SSIM map averaged over the background"),
        MetricInfo(
            "pixel_consistency", "pixel", True, 0.0, 1.0, "share of background pixels changed by <= 2/255"
        ),
        MetricInfo(
            "mse_in",
            "pixel",
            False,
            0.0,
            1.0,
            "MSE inside the mask vs the pseudo-GT target",
            needs_target=True,
        ),
        MetricInfo(
            "ssim_in",
            "pixel",
            True,
            -1.0,
            1.0,
            "SSIM inside the mask vs the pseudo-GT target",
            needs_target=True,
        ),
        MetricInfo(
            "ref_gain",
            "pixel",
            True,
            0.0,
            1.0,
            "share of the source-to-target Laplacian distance covered",
            needs_target=True,
        ),
        MetricInfo(
            "rses_ref",
            "pixel",
            True,
            0.0,
            1.0,
            "weight-free RSES: sqrt(ref_gain * PSNR_bg preservation)",
            needs_target=True,
            combined=True,
            derives_from=("ref_gain", "psnr_bg"),
            formula=_rses_ref,
        ),
        MetricInfo(
            "lpips_bg", "lpips", False, 0.0, _INF, "spatial LPIPS averaged over the background", _LPIPS
        ),
        MetricInfo(
            "lpips_in",
            "lpips",
            False,
            0.0,
            _INF,
            "spatial LPIPS inside the mask vs the pseudo-GT target",
            _LPIPS,
            needs_target=True,
        ),
        MetricInfo(
            "rses_ref_lpips",
            "lpips",
            True,
            0.0,
            1.0,
            "target-based RSES with LPIPS: sqrt(ref_gain * (1 - LPIPS_bg / 0.3))",
            _LPIPS,
            needs_target=True,
            combined=True,
            derives_from=("ref_gain", "lpips_bg"),
            formula=_rses_ref_lpips,
        ),
        MetricInfo(
            "rsm", "clip", True, 0.0, 1.0, "(1+cos)/2 of the padded object crop and the style text", _CLIP
        ),
        MetricInfo(
            "rsm_strict", "clip", True, 0.0, 1.0, "RSM with the background inside the crop greyed out", _CLIP
        ),
        MetricInfo(
            "rsm_gain", "clip", True, -1.0, 1.0, "RSM(edited) - RSM(source)", _CLIP, derives_from=("rsm",)
        ),
        MetricInfo(
            "style_leakage",
            "clip",
            False,
            -1.0,
            1.0,
            "background style similarity, edited minus source",
            _CLIP,
        ),
        MetricInfo(
            "rses",
            "clip",
            True,
            0.0,
            1.0,
            "RSES: sqrt(style success from RSM gain * (1 - LPIPS_bg / 0.3))",
            _BOTH,
            combined=True,
            derives_from=("rsm_gain", "lpips_bg"),
            formula=_rses,
        ),
        MetricInfo(
            "vlm_obj_target", "vlm", True, 0.0, 1.0, "VLM judge P(yes): object in the target style?", _VLM
        ),
        MetricInfo(
            "vlm_bg_target", "vlm", False, 0.0, 1.0, "VLM judge P(yes): background in the target style?", _VLM
        ),
        MetricInfo(
            "vlm_obj_opposite",
            "vlm",
            False,
            0.0,
            1.0,
            "VLM judge P(yes): object in the opposite style?",
            _VLM,
        ),
        MetricInfo(
            "vlm_bg_opposite",
            "vlm",
            False,
            0.0,
            1.0,
            "VLM judge P(yes): background in the opposite style?",
            _VLM,
        ),
        MetricInfo(
            "vlm_localized",
            "vlm",
            True,
            0.0,
            1.0,
            "min(P(object styled), 1 - P(background styled))",
            _VLM,
            derives_from=("vlm_obj_target", "vlm_bg_target"),
            formula=_vlm_localized,
        ),
    ]
}
#: The combined scores, learned ones first: tables sort by the first one a run has.
COMBINED = tuple(sorted((m.name for m in METRICS.values() if m.combined), key=lambda n: not METRICS[n].needs))
GROUPS = ("pixel", "lpips", "clip", "vlm")
#: Groups ``all`` leaves out: opt-in because they need a large model (the VLM judge is 7B parameters).
OPT_IN_GROUPS = frozenset({"vlm"})
#: Metrics whose value is a probability of "yes": an answer is "yes" when it is above YES_THRESHOLD (shares,
#: McNemar's test).
YES_THRESHOLD = 0.5
YES_NO_METRICS = frozenset(m.name for m in METRICS.values() if m.group == "vlm")


def select_metrics(spec: str | Sequence[str]) -> list[str]:
    """Metric names (catalogue order) for names or groups (``pixel``, ``lpips``, ``clip``, ``vlm``, ``all``).

    ``all`` is every metric outside :data:`OPT_IN_GROUPS` (``vlm`` is selected by name or group only).

    ``spec`` is a list or a comma-separated string.

    Raises:
        UsageError: an unknown name, with the closest matches.
    """
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if s.strip()]
    if not items:
        raise UsageError(
            f"No metrics selected; pass names or groups from: all, {', '.join(GROUPS)}, {', '.join(METRICS)}."
        )
    chosen: set[str] = set()
    for item in items:
        if item == "all":
            chosen |= {m.name for m in METRICS.values() if m.group not in OPT_IN_GROUPS}
        elif item in GROUPS:
            chosen |= {m.name for m in METRICS.values() if m.group == item}
        elif item in METRICS:
            chosen.add(item)
        else:
            close = difflib.get_close_matches(item, ["all", *GROUPS, *METRICS], n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise UsageError(
                f"Unknown metric or group {item!r}.{hint} Available: all, {', '.join(GROUPS)}, "
                f"{', '.join(METRICS)}."
            )
    return [name for name in METRICS if name in chosen]


def with_dependencies(names: Sequence[str], catalogue: Mapping[str, MetricInfo] | None = None) -> list[str]:
    """``names`` plus, transitively, the metrics they derive from, each after everything it derives from.

    ``catalogue`` defaults to :data:`METRICS` (read at call time, so a metric registered there counts).

    Raises:
        UsageError: a dependency the catalogue does not have, or a cycle (naming the metrics in it).

    Example:
        >>> with_dependencies(["rses"])
        ['lpips_bg', 'rsm', 'rsm_gain', 'rses']
    """
    catalogue = METRICS if catalogue is None else catalogue
    graph: dict[str, tuple[str, ...]] = {}
    todo = list(names)
    while todo:
        name = todo.pop(0)
        if name in graph:
            continue
        if name not in catalogue:
            users = sorted(n for n, deps in graph.items() if name in deps)
            raise UsageError(
                f"Metric {', '.join(users) or name} derives from {name!r}, which the catalogue "
                f"does not have; register it in rses.metrics.catalog.METRICS or fix derives_from."
            )
        graph[name] = tuple(catalogue[name].derives_from)
        todo.extend(graph[name])
    try:
        return list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as err:
        cycle = " -> ".join(dict.fromkeys(err.args[1])) + f" -> {err.args[1][0]}" if len(err.args) > 1 else ""
        raise UsageError(
            f"Metric dependency cycle in the catalogue: {cycle}; a metric cannot derive from "
            "itself, directly or through others (fix derives_from)."
        ) from None


def higher_is_better(name: str, recorded: Sequence[Mapping] = ()) -> bool | None:
    """Whether a larger value of metric ``name`` is better: the one answer every table and comparison uses.

    The catalogue decides for a metric it knows; for one it does not (registered by a package not installed
    here), the first ``metric_info`` entry recorded in a run's ``run.json`` (``recorded``) that names it.
    ``None`` when neither knows.

    Example:
        >>> higher_is_better("psnr_bg"), higher_is_better("x", [{"x": {"higher_is_better": False}}])
        (True, False)
    """
    if name in METRICS:
        return METRICS[name].higher_is_better
    for info in recorded:
        entry = info.get(name) if isinstance(info, Mapping) else None
        if isinstance(entry, Mapping) and "higher_is_better" in entry:
            return bool(entry["higher_is_better"])
    return None
