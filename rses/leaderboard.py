"""Leaderboards: one row per run with each metric's mean and 95% CI, as Markdown, CSV or HTML.

Every row says whether the editor saw the ground-truth mask and which metric backend produced the numbers
(``weight-free``, ``CLIP <id>`` or ``smoke``). Rows are sorted by the combined score when the runs have one
(``rses``, else the weight-free ``rses_ref``), best first by its ``higher_is_better`` flag.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import pandas as pd

from rses.compare import higher_is_better
from rses.errors import UsageError
from rses.metrics.catalog import COMBINED
from rses.report.runs import metric_backend
from rses.results import Run

FORMATS = ("md", "csv", "html")


def combined_metric(metrics: Sequence[str]) -> str | None:
    """The combined score to sort by: ``rses`` (learned) when present, else ``rses_ref`` (weight-free)."""
    return next((m for m in COMBINED if m in metrics), None)


def leaderboard_table(
    runs: Sequence[Run], metrics: Sequence[str] | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """One row per run: method, sees_mask, split, n, backend, then ``<m>_mean``/``_ci_low``/``_ci_high``.

    Returns the table (sorted by the combined score when present) and the metric names it holds.
    """
    names = list(metrics) if metrics else list(dict.fromkeys(m for r in runs for m in r.metrics))
    rows = []
    for run in runs:
        row = {
            "method": run.info.get("method", run.label),
            "run": run.label,
            "sees_mask": bool(run.info.get("editor_sees_mask", False)),
            "split": run.info.get("split", ""),
            "n": int(run.info.get("n_ok", 0)),
            "backend": metric_backend(run.info),
        }
        for name in names:
            stats = run.summary.get(name, {})
            for key in ("mean", "ci_low", "ci_high"):
                row[f"{name}_{key}"] = stats.get(key, math.nan)
        rows.append(row)
    table = pd.DataFrame(rows)
    key = combined_metric(names)
    if key is not None:
        table = table.sort_values(
            f"{key}_mean", ascending=not higher_is_better(key, runs), na_position="last"
        )
    return table.reset_index(drop=True), names


def _display(table: pd.DataFrame, names: Sequence[str], runs: Sequence[Run]) -> pd.DataFrame:
    """The human-facing table: one ``mean ± half-CI`` text cell per metric, arrows for the direction."""
    shown = pd.DataFrame(
        {
            "method": table["method"],
            "sees mask": table["sees_mask"].map({True: "yes", False: "no"}),
            "split": table["split"],
            "n": table["n"],
            "metric backend": table["backend"],
        }
    )
    for name in names:
        direction = higher_is_better(name, runs)
        arrow = {True: " ↑", False: " ↓", None: ""}[direction]
        shown[f"{name}{arrow}"] = [
            _cell(m, lo, hi)
            for m, lo, hi in zip(
                table[f"{name}_mean"], table[f"{name}_ci_low"], table[f"{name}_ci_high"], strict=True
            )
        ]
    return shown


def _cell(mean: float, low: float, high: float) -> str:
    if mean is None or math.isnan(mean):
        return "–"
    if low is None or math.isnan(low):
        return f"{mean:.4g}"
    return f"{mean:.4g} ± {(high - low) / 2:.2g}"


def render(runs: Sequence[Run], fmt: str, metrics: Sequence[str] | None = None) -> str:
    """The leaderboard of ``runs`` as ``md``, ``csv`` or ``html`` text.

    Raises:
        UsageError: unknown format.
    """
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}.")
    table, names = leaderboard_table(runs, metrics)
    if fmt == "csv":
        return table.to_csv(index=False)
    shown = _display(table, names, runs)
    if fmt == "html":
        return shown.to_html(index=False, escape=True, border=0, classes="rses-leaderboard")
    header = "| " + " | ".join(shown.columns) + " |"
    rule = (
        "|"
        + "|".join(
            "---" if c in {"method", "sees mask", "split", "metric backend"} else "---:"
            for c in shown.columns
        )
        + "|"
    )
    body = [
        "| " + " | ".join(html.escape(str(v)).replace("|", "\\|") for v in row) + " |"
        for row in shown.itertuples(index=False)
    ]
    return "\n".join([header, rule, *body]) + "\n"
