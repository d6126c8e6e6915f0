"""Breakdown tables: each method's metrics per style and per object size, with 95% bootstrap CIs.

Object size is the mask area as a fraction of the image (``mask_area``). The bins are
:data:`DEFAULT_SIZE_BINS`: **small** < 5 % of the image, **medium** 5-20 %, **large** >= 20 %. Fractions
rather than COCO's pixel thresholds (32², 96²) because splits come at many resolutions. The thresholds are
our choice (the paper gives none); it names small objects as a failure case, so the small bin is the one
to watch. Pass your own :class:`SizeBins` to change them.

Example:
    >>> import pandas as pd
    >>> size_bin(pd.Series([0.01, 0.05, 0.3])).tolist()
    ['small', 'medium', 'large']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rses.results import bootstrap_ci


@dataclass(frozen=True)
class SizeBins:
    """Mask-area thresholds (fractions of the image) between small/medium and medium/large."""

    small_below: float = 0.05
    large_from: float = 0.20

    def __post_init__(self) -> None:
        if not 0.0 < self.small_below < self.large_from <= 1.0:
            raise ValueError(
                "size bins need 0 < small_below < large_from <= 1, "
                f"got {self.small_below} and {self.large_from}"
            )


DEFAULT_SIZE_BINS = SizeBins()
SIZE_LABELS = ("small", "medium", "large")


def size_bin(mask_area: pd.Series, bins: SizeBins = DEFAULT_SIZE_BINS) -> pd.Series:
    """Label each mask area ``small`` / ``medium`` / ``large`` (an ordered categorical)."""
    edges = [-np.inf, bins.small_below, bins.large_from, np.inf]
    return pd.cut(mask_area, edges, labels=list(SIZE_LABELS), right=False)


def breakdown(
    samples: pd.DataFrame, by: str, metrics: Sequence[str], n_resamples: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """Mean and 95% bootstrap CI of each metric per ``(method, by)`` group, over the ``ok`` rows.

    Args:
        samples: the pooled per-sample table (``method``, ``status``, the ``by`` column, metric columns).
        by: the grouping column, e.g. ``"style"`` or ``"size"`` (see :func:`with_size`).
        metrics: metric columns to summarize.
        n_resamples: bootstrap resamples per CI.
        seed: the bootstrap's random seed.

    Returns:
        One row per ``(method, by)`` with ``n`` and, per metric, ``<m>``, ``<m>_ci_low``, ``<m>_ci_high``.
        Methods keep their first-seen order; a categorical ``by`` keeps its category order.
    """
    ok = samples[samples["status"] == "ok"]
    methods = pd.Categorical(ok["method"], categories=pd.unique(samples["method"]), ordered=True)
    rows = []
    for (method, group), part in ok.groupby([methods, by], sort=True, observed=True):
        row = {"method": method, by: group, "n": len(part)}
        for name in metrics:
            values = part[name].dropna().to_numpy(dtype=np.float64)
            row[name] = float(values.mean()) if values.size else np.nan
            row[f"{name}_ci_low"], row[f"{name}_ci_high"] = bootstrap_ci(values, n_resamples, seed=seed)
        rows.append(row)
    return pd.DataFrame(rows, columns=["method", by, "n", *_metric_cols(metrics)])


def _metric_cols(metrics: Sequence[str]) -> list[str]:
    return [c for name in metrics for c in (name, f"{name}_ci_low", f"{name}_ci_high")]


def with_size(samples: pd.DataFrame, bins: SizeBins = DEFAULT_SIZE_BINS) -> pd.DataFrame:
    """The table with a ``size`` column (small / medium / large) from ``mask_area``."""
    return samples.assign(size=size_bin(samples["mask_area"], bins))


def by_style(samples: pd.DataFrame, metrics: Sequence[str], **kwargs: Any) -> pd.DataFrame:
    """:func:`breakdown` per style."""
    return breakdown(samples, "style", metrics, **kwargs)


def by_size(
    samples: pd.DataFrame, metrics: Sequence[str], bins: SizeBins = DEFAULT_SIZE_BINS, **kwargs: Any
) -> pd.DataFrame:
    """:func:`breakdown` per object size (see :class:`SizeBins`)."""
    return breakdown(with_size(samples, bins), "size", metrics, **kwargs)


def per_method(samples: pd.DataFrame, metrics: Sequence[str], **kwargs: Any) -> pd.DataFrame:
    """:func:`breakdown` over each method's whole run (one row per method, no group column)."""
    return breakdown(samples.assign(_all="all"), "_all", metrics, **kwargs).drop(columns="_all")
