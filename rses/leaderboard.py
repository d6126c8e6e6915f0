"""Leaderboards: one row per run with each metric's mean and 95% CI, as Markdown, CSV or HTML.

Every row says whether the editor saw the ground-truth mask and which metric backend produced the numbers
(``weight-free``, ``CLIP <id>`` or ``smoke``). Rows are sorted by the combined score when the runs have one
(``rses``, else the weight-free ``rses_ref``), best first by its ``higher_is_better`` flag.

Only comparable runs are ranked (:func:`not_ranked_reasons`): smoke runs, runs whose weights were not checked,
incomplete runs, subsets (``--limit``, a shard) and runs on another split than the ranked ones go to a
separate "Not ranked" section (Markdown, HTML) or carry ``ranked = False`` and the reason (CSV). The models
each run used (reference, files, sha256) are listed under the tables and in the CSV's ``models`` column.

Markdown and CSV are built from ``run.json`` and ``summary.json`` alone, without pandas or a model library, so
``rses leaderboard`` starts in a fraction of a second; :func:`leaderboard_table` gives the same rows as a
DataFrame.
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rses.errors import UsageError
from rses.metrics.catalog import COMBINED
from rses.metrics.suite_config import option_defaults
from rses.report.runs import metric_backend
from rses.results import Run, csv_text, higher_is_better
from rses.run_record import RunRecord

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("md", "csv", "html")


def combined_metric(metrics: Sequence[str]) -> str | None:
    """The combined score to sort by: ``rses`` (learned) when present, else ``rses_ref`` (weight-free)."""
    return next((m for m in COMBINED if m in metrics), None)


def not_ranked_reasons(runs: Sequence[Run]) -> list[list[str]]:
    """For each run, why it must not be ranked with the others (empty list: it is ranked).

    A run's own reasons are :meth:`rses.run_record.RunRecord.ranking_issues`; in addition, of the runs with
    none, those on another split manifest than the most common one (the first run's on a tie), or scored with
    other number-changing metric options (``metric_options`` off their defaults), are not ranked.
    """
    records = [run.record or RunRecord(**_known(run.info)) for run in runs]
    reasons = [record.ranking_issues() for record in records]
    settings = Counter(_settings(r) for r, why in zip(records, reasons, strict=True) if not why)
    if settings:
        (name, sha, options), _ = settings.most_common(1)[0]
        for record, why in zip(records, reasons, strict=True):
            own_name, own_sha, own_options = _settings(record)
            if (own_name, own_sha) != (name, sha):
                why.append(
                    f"other split ({record.split} {record.split_manifest_sha256[:8]}; ranked: {name} {sha[:8]})"
                )
            elif own_options != options:
                why.append(
                    f"other metric options ({own_options or 'defaults'}; ranked: {options or 'defaults'})"
                )
    return reasons


def _settings(record: RunRecord) -> tuple[str, str, str]:
    """Split, manifest and the metric options off their :class:`rses.metrics.MetricSuiteConfig` defaults
    (``k=v, ...``; an option at its default, or not recorded, is the same setting).
    """
    defaults = option_defaults()
    changed = sorted(
        (k, v) for k, v in record.metric_options.items() if k not in defaults or v != defaults[k]
    )
    return record.split, record.split_manifest_sha256, ", ".join(f"{k}={v!r}" for k, v in changed)


def _known(info: dict) -> dict:
    return {f.name: info[f.name] for f in dataclasses.fields(RunRecord) if f.name in info}


def models_summary(info: dict) -> str:
    """One line naming every model a run used: role, reference, file(s) with sha256 prefix, check outcome.

    Example:
        >>> models_summary({"models": [{"role": "metric:lpips", "reference": "file:/w/a.safetensors",
        ...     "files": [{"name": "a.safetensors", "size": 9, "sha256": "9f97fd313f4da83d"}], "check": "ok"}]})
        'metric:lpips file:/w/a.safetensors = a.safetensors sha256:9f97fd313f4d (ok)'
    """
    parts = []
    for model in info.get("models") or []:
        files = model.get("files") or []
        if len(files) == 1:
            what = f"{files[0]['name']} sha256:{files[0]['sha256'][:12]}"
        else:
            commit = f"@{model['commit'][:12]}" if model.get("commit") else ""
            what = f"{model.get('repo') or model.get('resolved')}{commit} ({len(files)} files, key {model.get('key')})"
        parts.append(f"{model.get('role')} {model.get('reference')} = {what} ({model.get('check')})")
    return "; ".join(parts) or (
        "no learned weights" if info.get("schema_version", 1) >= 2 else "not recorded"
    )


def leaderboard_rows(
    runs: Sequence[Run], metrics: Sequence[str] | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per run: method, run, sees_mask, split, n, backend, ranked, not_ranked_because, models, then
    ``<m>_mean``/``_ci_low``/``_ci_high`` (NaN where the run lacks the metric).

    Returns the rows (ranked runs first, each part sorted by the combined score when present, best first, NaN
    last, else in the given order) and the metric names they hold.
    """
    names = list(metrics) if metrics else list(dict.fromkeys(m for r in runs for m in r.metrics))
    rows = []
    for run, why in zip(runs, not_ranked_reasons(runs), strict=True):
        row = {
            "method": run.info.get("method", run.label),
            "run": run.label,
            "sees_mask": bool(run.info.get("editor_sees_mask", False)),
            "split": run.info.get("split", ""),
            "n": int(run.info.get("n_ok", 0)),
            "backend": metric_backend(run.info),
            "ranked": not why,
            "not_ranked_because": "; ".join(why),
            "models": models_summary(run.info),
        }
        for name in names:
            stats = run.summary.get(name, {})
            for key in ("mean", "ci_low", "ci_high"):
                value = stats.get(key)
                row[f"{name}_{key}"] = math.nan if value is None else float(value)
        rows.append(row)
    key = combined_metric(names)
    if key is not None:
        sign = -1.0 if higher_is_better(key, runs) else 1.0  # best first; no known direction: ascending
        rows.sort(key=lambda r: (math.isnan(r[f"{key}_mean"]), sign * r[f"{key}_mean"]))
    rows.sort(key=lambda r: not r["ranked"])
    return rows, names


def leaderboard_table(
    runs: Sequence[Run], metrics: Sequence[str] | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """:func:`leaderboard_rows` as a DataFrame, one row per run, and the metric names it holds."""
    import pandas as pd

    rows, names = leaderboard_rows(runs, metrics)
    return pd.DataFrame(rows), names


def _display(
    rows: Sequence[dict[str, Any]], names: Sequence[str], runs: Sequence[Run]
) -> tuple[list[str], list[list[Any]]]:
    """The human-facing table (columns, rows): one ``mean ± half-CI`` text cell per metric, arrows for the
    direction, and a ``why not ranked`` column when a run is not ranked.
    """
    arrows = {True: " ↑", False: " ↓", None: ""}
    columns = ["method", "sees mask", "split", "n", "metric backend"]
    columns += ["why not ranked"] if not all(row["ranked"] for row in rows) else []
    columns += [f"{name}{arrows[higher_is_better(name, runs)]}" for name in names]
    shown = []
    for row in rows:
        cells = [row["method"], "yes" if row["sees_mask"] else "no", row["split"], row["n"], row["backend"]]
        cells += [row["not_ranked_because"]] if "why not ranked" in columns else []
        cells += [_cell(*(row[f"{name}_{k}"] for k in ("mean", "ci_low", "ci_high"))) for name in names]
        shown.append(cells)
    return columns, shown


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
    rows, names = leaderboard_rows(runs, metrics)
    if fmt == "csv":
        columns = list(rows[0]) if rows else []
        return csv_text(columns, ([row[c] for c in columns] for row in rows))
    columns, shown = _display(rows, names, runs)
    why = columns.index("why not ranked") if "why not ranked" in columns else None
    ranked = [
        cells if why is None else cells[:why] + cells[why + 1 :]
        for cells, row in zip(shown, rows, strict=True)
        if row["ranked"]
    ]
    ranked_columns = [c for c in columns if c != "why not ranked"]
    other = [cells for cells, row in zip(shown, rows, strict=True) if not row["ranked"]]
    models = [f"{row['method']} ({row['run']}): {row['models']}" for row in rows]
    if fmt == "html":
        parts = [_html(ranked_columns, ranked, "rses-leaderboard")]
        if other:
            parts += [f"<h3>{NOT_RANKED}</h3>", _html(columns, other, "rses-leaderboard not-ranked")]
        parts += ["<h3>Models</h3><ul>", *(f"<li>{html.escape(m)}</li>" for m in models), "</ul>"]
        return "\n".join(parts) + "\n"
    text = _markdown(ranked_columns, ranked)
    if other:
        text += f"\n**{NOT_RANKED}**\n\n" + _markdown(columns, other)
    return text + "\n**Models**\n\n" + "".join(f"- {_md_escape(m)}\n" for m in models)


NOT_RANKED = "Not ranked (not comparable with the ranked runs: see why)"
TEXT_COLUMNS = {
    "method",
    "sees mask",
    "split",
    "metric backend",
    "why not ranked",
}  # left-aligned in Markdown


def _md_escape(value: object) -> str:
    return html.escape(str(value)).replace("|", "\\|")


def _markdown(columns: Sequence[str], shown: Sequence[Sequence[Any]]) -> str:
    header = "| " + " | ".join(columns) + " |"
    rule = "|" + "|".join("---" if c in TEXT_COLUMNS else "---:" for c in columns) + "|"
    body = ["| " + " | ".join(_md_escape(v) for v in row) + " |" for row in shown]
    return "\n".join([header, rule, *body]) + "\n"


def _html(columns: Sequence[str], shown: Sequence[Sequence[Any]], classes: str) -> str:
    """An HTML table (pandas' ``to_html`` layout, cells escaped); HTML output alone loads pandas."""
    import pandas as pd

    return pd.DataFrame(list(shown), columns=list(columns)).to_html(
        index=False, escape=True, border=0, classes=classes
    )
