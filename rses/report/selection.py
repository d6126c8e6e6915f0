"""Which metrics the report plots, which way each one points, and the per-sample combined score.

Directions (``{metric: higher_is_better}``) come from the runs (:func:`rses.report.runs.metric_directions`);
the report never hard-codes a sign.
The trade-off plot puts a *style-success* metric (the first available of :data:`STYLE_METRICS`) against a
*background-distortion* metric (the first available of :data:`BACKGROUND_METRICS`).

Example:
    >>> import pandas as pd
    >>> t = pd.DataFrame({"rsm": [0.6, 0.7, 0.5], "lpips_bg": [0.1, 0.3, 0.2]})
    >>> combined_score(t, {"rsm": True, "lpips_bg": False}).round(3).tolist()
    [0.833, 0.667, 0.5]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from rses.errors import UsageError
from rses.metrics.catalog import COMBINED

#: Style-success metrics in order of preference: the RSM gain over the source, RSM itself, then the
#: weight-free ones that compare the object with the pseudo-GT target (``ref_gain``, ``ssim_in``).
STYLE_METRICS = ("rsm_gain", "rsm", "ref_gain", "ssim_in")
#: Background-distortion metrics in order of preference: LPIPS_bg, then the weight-free MSE_bg.
BACKGROUND_METRICS = ("lpips_bg", "mse_bg")


def pick_metric(directions: Mapping[str, bool], preferred: Sequence[str], higher_is_better: bool) -> str:
    """The first of ``preferred`` present in ``directions``, else the first metric with that direction.

    Raises:
        UsageError: when no metric of that direction was scored.
    """
    for name in preferred:
        if name in directions:
            return name
    for name, hib in directions.items():
        if hib == higher_is_better:
            return name
    kind = "higher-is-better (style)" if higher_is_better else "lower-is-better (background)"
    raise UsageError(f"the runs have no {kind} metric; scored metrics: {sorted(directions) or 'none'}")


def style_metric(directions: Mapping[str, bool]) -> str:
    """The style-success metric to plot (see :data:`STYLE_METRICS`)."""
    return pick_metric(directions, STYLE_METRICS, higher_is_better=True)


def background_metric(directions: Mapping[str, bool]) -> str:
    """The background-distortion metric to plot (see :data:`BACKGROUND_METRICS`)."""
    return pick_metric(directions, BACKGROUND_METRICS, higher_is_better=False)


def sample_score(
    samples: pd.DataFrame, directions: Mapping[str, bool], x: str, y: str
) -> tuple[pd.Series, str]:
    """The score that orders samples best to worst, and its description.

    The run's own combined RSES metric when it was scored (see :data:`COMBINED`), else
    :func:`combined_score` of the style metric ``x`` and the background metric ``y``.
    """
    for name in COMBINED:
        if name in directions and name in samples.columns:
            scores = samples[name] if directions[name] else -samples[name]
            return scores, f"the per-sample {name} metric"
    scores = combined_score(samples, {x: directions[x], y: directions[y]})
    return scores, f"the mean percentile rank of {x} and {y} over all runs' samples (1 = best on both)"


def combined_score(samples: pd.DataFrame, directions: Mapping[str, bool]) -> pd.Series:
    """Per-sample combined score in [0, 1]: the mean over metrics of the sample's percentile rank.

    Each metric is ranked over all given rows (ties share the average rank) so that 1 is the best value;
    the ranks are averaged with equal weights. This only orders samples for "best / worst" views of runs
    that have no combined RSES metric (:data:`COMBINED`); tables always show the metrics themselves.
    """
    if not directions:
        raise UsageError("combined score needs at least one metric with a known direction")
    ranks = [samples[name].rank(pct=True, ascending=hib) for name, hib in directions.items()]
    return pd.concat(ranks, axis=1).mean(axis=1)
