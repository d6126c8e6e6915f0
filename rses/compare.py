"""Comparing runs on the same samples: paired bootstrap CI of each metric difference, per-sample win rates, and
for yes/no metrics (the VLM judge's P(yes), "yes" when above 0.5) the share of "yes" and McNemar's exact test.

Runs are paired by ``sample_id`` over the samples that are ``ok`` in both. The difference is always
``other - reference``; whether that is an improvement comes from the metric's ``higher_is_better`` flag in
:data:`rses.metrics.METRICS` (or, for a metric this install does not know, the flag recorded in run.json).

Example:
    >>> a, b = np.array([1.0, 2.0, 3.0]), np.array([2.0, 3.0, 3.0])
    >>> win_rate(a, b, higher_is_better=True)
    0.8333333333333334
    >>> mcnemar_exact(np.array([1, 1, 1, 0]), np.array([0, 0, 0, 0]))
    (3, 0, 0.25)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rses.results import Run, higher_is_better


def paired_bootstrap(
    reference: np.ndarray, other: np.ndarray, n_resamples: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of ``other - reference`` and its percentile bootstrap CI, resampling samples (pairs) together.

    Example:
        >>> paired_bootstrap(np.zeros(4), np.ones(4))
        (1.0, 1.0, 1.0)
    """
    diff = np.asarray(other, dtype=np.float64) - np.asarray(reference, dtype=np.float64)
    if diff.size == 0:
        return (math.nan, math.nan, math.nan)
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, diff.size, size=(n_resamples, diff.size))].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return (float(diff.mean()), float(low), float(high))


def win_rate(reference: np.ndarray, other: np.ndarray, higher_is_better: bool) -> float:
    """Fraction of samples where ``other`` beats ``reference``; a tie counts as half a win."""
    diff = np.asarray(other, dtype=np.float64) - np.asarray(reference, dtype=np.float64)
    if diff.size == 0:
        return math.nan
    better = diff > 0 if higher_is_better else diff < 0
    return float((better.sum() + 0.5 * (diff == 0).sum()) / diff.size)


def mcnemar_exact(reference_yes: np.ndarray, other_yes: np.ndarray) -> tuple[int, int, float]:
    """McNemar's exact test of paired yes/no answers: ``(b, c, p)``.

    ``b``: pairs where only the reference says yes, ``c``: only the other run. Under "no difference" each of the
    ``n = b + c`` discordant pairs is ``b`` or ``c`` with probability 1/2, so the two-sided exact p-value is
    ``min(1, 2 * P(Binomial(n, 1/2) <= min(b, c)))`` (1.0 when ``n = 0``); equal to
    ``scipy.stats.binomtest(b, n, 0.5).pvalue``.
    """
    ref, other = np.asarray(reference_yes, dtype=bool), np.asarray(other_yes, dtype=bool)
    b, c = int((ref & ~other).sum()), int((~ref & other).sum())
    n = b + c
    if n == 0:
        return b, c, 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n
    return b, c, min(1.0, 2.0 * tail)


def is_yes_no(metric: str, runs: Sequence[Run]) -> bool:
    """Whether ``metric`` is a probability of "yes" (the VLM judge's), from the catalogue or a run's record."""
    try:
        from rses.metrics.catalog import YES_NO_METRICS

        if metric in YES_NO_METRICS:
            return True
    except ImportError:
        pass
    return any(run.info.get("metric_info", {}).get(metric, {}).get("group") == "vlm" for run in runs)


@dataclass(frozen=True)
class Comparison:
    """One metric of one run against the reference run."""

    metric: str
    run: str
    n: int  # ok samples of this run
    mean: float
    ci_low: float
    ci_high: float
    n_paired: int  # samples ok in both this run and the reference
    diff: float  # mean of (this run - reference) over the paired samples
    diff_low: float
    diff_high: float
    win_rate: float  # fraction of paired samples where this run is better (ties count half)
    higher_is_better: bool | None
    share: float | None = None  # yes/no metrics: share of "yes" (P(yes) > 0.5) over this run's ok samples
    discordant: tuple[int, int] | None = None  # yes/no: (only the reference says yes, only this run does)
    mcnemar_p: float | None = None  # yes/no: McNemar's exact two-sided p-value over the paired samples


def compare_runs(
    runs: Sequence[Run], metrics: Sequence[str] | None = None, n_resamples: int = 2000, seed: int = 0
) -> list[Comparison]:
    """Every run against ``runs[0]`` on each metric they share (``metrics`` restricts them)."""
    shared = [m for m in runs[0].metrics if all(m in r.samples.columns for r in runs)]
    names = [m for m in (metrics or shared) if m in shared]
    reference = _ok(runs[0])
    from rses.metrics.catalog import YES_THRESHOLD

    results = []
    for metric in names:
        direction = higher_is_better(metric, runs)
        yes_no = is_yes_no(metric, runs)
        for run in runs:
            summary = run.summary.get(metric, {})
            paired = (
                reference[[metric]]
                .merge(_ok(run)[[metric]], left_index=True, right_index=True, suffixes=("_ref", ""))
                .dropna()
            )
            ref, other = paired[f"{metric}_ref"].to_numpy(), paired[metric].to_numpy()
            diff, low, high = paired_bootstrap(ref, other, n_resamples=n_resamples, seed=seed)
            extra = {}
            if yes_no:
                values = _ok(run)[metric].dropna().to_numpy(dtype=np.float64)
                b, c, p = mcnemar_exact(ref > YES_THRESHOLD, other > YES_THRESHOLD)
                extra = {
                    "share": float((values > YES_THRESHOLD).mean()) if values.size else math.nan,
                    "discordant": (b, c),
                    "mcnemar_p": p,
                }
            results.append(
                Comparison(
                    metric=metric,
                    run=run.label,
                    n=int(summary.get("n", 0)),
                    mean=summary.get("mean", math.nan),
                    ci_low=summary.get("ci_low", math.nan),
                    ci_high=summary.get("ci_high", math.nan),
                    n_paired=len(paired),
                    diff=diff,
                    diff_low=low,
                    diff_high=high,
                    win_rate=win_rate(ref, other, direction) if direction is not None else math.nan,
                    higher_is_better=direction,
                    **extra,
                )
            )
    return results


def _ok(run: Run) -> pd.DataFrame:
    return run.samples[run.samples["status"] == "ok"].set_index("sample_id")
