"""Everything a report shows, computed once from run directories: tables, chosen metrics, figures.

Example (run directories written by ``rses eval``)::

    data = collect(["runs/identity-test", "runs/paste-style-test"])
    paths = write_plots(data, "report-plots")   # tradeoff.png, by-style.png, by-size.png, grid.png
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rses.report import breakdown, plots
from rses.report.runs import RunInfo, load_runs, metric_directions, source_lookup
from rses.report.selection import background_metric, sample_score, style_metric


@dataclass
class ReportData:
    """The pooled runs and every table derived from them.

    Attributes:
        samples: pooled per-sample rows (``method`` = run label) plus ``size`` and ``combined`` columns
            (``combined`` is NaN on failed rows).
        runs: one :class:`RunInfo` per run, in the given order.
        directions: ``{metric: higher_is_better}``.
        style_metric: the x axis of the trade-off plot; background_metric: its y axis.
        score_note: what the ``combined`` column is (see :func:`rses.report.selection.sample_score`).
        leaderboard: one row per run (:func:`rses.leaderboard.leaderboard_table`, metric means as ``<m>``).
        per_method, by_style, by_size: breakdown tables with 95% CIs.
        size_bins: the object-size thresholds used.
    """

    samples: pd.DataFrame
    runs: list[RunInfo]
    directions: dict[str, bool]
    style_metric: str
    background_metric: str
    score_note: str
    leaderboard: pd.DataFrame
    per_method: pd.DataFrame
    by_style: pd.DataFrame
    by_size: pd.DataFrame
    size_bins: breakdown.SizeBins

    @property
    def plotted(self) -> list[str]:
        """The two metrics the plots and the combined score use."""
        return [self.style_metric, self.background_metric]


def collect(
    run_paths: Sequence[str | Path], size_bins: breakdown.SizeBins = breakdown.DEFAULT_SIZE_BINS
) -> ReportData:
    """Load runs and compute every report table."""
    samples, runs = load_runs(run_paths)
    directions = metric_directions(runs)
    x, y = style_metric(directions), background_metric(directions)
    samples = breakdown.with_size(samples, size_bins)
    ok = samples["status"] == "ok"
    scores, note = sample_score(samples[ok], directions, x, y)
    samples.loc[ok, "combined"] = scores
    metrics = list(directions)
    return ReportData(
        samples=samples,
        runs=runs,
        directions=directions,
        style_metric=x,
        background_metric=y,
        score_note=note,
        leaderboard=_leaderboard(runs, metrics, samples, directions),
        per_method=breakdown.per_method(samples, metrics),
        by_style=breakdown.breakdown(samples, "style", metrics),
        by_size=breakdown.breakdown(samples, "size", metrics),
        size_bins=size_bins,
    )


def _leaderboard(
    runs: Sequence[RunInfo], metrics: Sequence[str], samples: pd.DataFrame, directions: Mapping[str, bool]
) -> pd.DataFrame:
    """One row per run, sorted by the combined score, which is the second column (after ``method``, the run's
    label), so it is on screen however many metrics follow.

    The combined score is the runs' combined metric (``rses``, else ``rses_ref``) when one was scored, else
    ``combined``: the mean over the run's ok samples of the per-sample score the worst/best table ranks by.
    """
    from rses.leaderboard import combined_metric, leaderboard_table

    table = pd.concat([leaderboard_table([run.run], metrics)[0] for run in runs], ignore_index=True)
    table = table.rename(columns={f"{m}_mean": m for m in metrics} | {"backend": "metric_backend"})
    table["method"] = [run.label for run in runs]
    key = combined_metric(metrics)
    if key is None:
        key = "combined"
        means = samples[samples["status"] == "ok"].groupby("method")["combined"].mean()
        table[key] = table["method"].map(means)
    ascending = not directions.get(key, True)
    table = table.sort_values(key, ascending=ascending, na_position="last", kind="stable")
    first = ["method", key, f"{key}_ci_low", f"{key}_ci_high"]
    tail = ["sees_mask", "n", "split", "metric_backend"]
    rest = [c for c in table.columns if c not in first and c not in tail and c != "run"]
    table = table[[c for c in first if c in table.columns] + rest + tail].reset_index(drop=True)
    return table.assign(sees_mask=table["sees_mask"].map({True: "yes", False: "no"}))


def write_plots(
    data: ReportData,
    out_dir: str | Path,
    sources: Mapping[str, tuple[Path, Path]] | None = None,
    n_grid: int = 4,
) -> dict[str, Path]:
    """Write the report's PNGs into ``out_dir``; returns ``{name: path}``.

    ``sources`` maps sample ids to (source, mask) paths; by default it comes from the runs' split
    manifests. ``n_grid`` rows go into the qualitative grid (0 skips it).
    """
    out_dir = Path(out_dir)
    x, y = data.plotted
    methods = [run.label for run in data.runs]
    backends = ", ".join(sorted({run.backend for run in data.runs}))
    written = {
        "tradeoff": plots.tradeoff_plot(
            data.per_method,
            x,
            y,
            data.directions,
            out_dir / "tradeoff.png",
            sees_mask=[run.label for run in data.runs if run.sees_mask],
            title=f"{x} vs {y} ({backends}); squares saw the mask, ringed = Pareto front",
        ),
        "by-style": plots.group_bars(
            data.by_style, "style", data.plotted, data.directions, out_dir / "by-style.png"
        ),
        "by-size": plots.group_bars(
            data.by_size, "size", data.plotted, data.directions, out_dir / "by-size.png"
        ),
    }
    sources = sources if sources is not None else source_lookup(data.runs)
    photos = {sid: str(source) for sid, (source, _) in sources.items()}
    grid_ids = plots.pick_grid_samples(data.samples, n_grid, photos) if n_grid else []
    if grid_ids:
        written["grid"] = plots.qualitative_grid(
            data.samples, sources, grid_ids, methods, out_dir / "grid.png"
        )
    return written


def coverage(data: ReportData) -> dict[str, tuple[list[str], dict[str, list[str]]]]:
    """Per figure of :func:`write_plots`: the runs it draws, and those it leaves out with the metrics they lack.

    Every run is in exactly one of the two, so a report can say which runs a figure does not show.
    """
    out = {
        "tradeoff": plots.drawable(data.per_method, data.plotted),
        "by-style": plots.drawable(data.by_style, data.plotted),
        "by-size": plots.drawable(data.by_size, data.plotted),
    }
    labels = [run.label for run in data.runs]
    for name, (drawn, left_out) in out.items():  # runs with no ok sample are absent from the tables
        absent = [m for m in labels if m not in drawn and m not in left_out]
        left_out.update({m: ["ok samples"] for m in absent})
        out[name] = (drawn, left_out)
    return out


def extremes(data: ReportData, k: int = 2) -> pd.DataFrame:
    """Each method's ``k`` worst then ``k`` best ok samples by combined score, with a ``rank`` column.

    ``rank`` reads ``worst 1``, ``worst 2``, ..., ``best 1`` (best first among the best). Equal scores (an
    identity run scores every sample alike) are taken in sample-id order, in both lists. A method with
    fewer than ``2k`` ok samples shows each sample once.
    """
    rows = []
    ok = data.samples[data.samples["status"] == "ok"]
    for method in [run.label for run in data.runs]:
        part = ok[ok["method"] == method]
        worst = part.sort_values(["combined", "sample_id"], ascending=[True, True]).head(k)
        rest = part.drop(worst.index)
        best = rest.sort_values(["combined", "sample_id"], ascending=[False, True]).head(k)
        rows.append(worst.assign(rank=[f"worst {i + 1}" for i in range(len(worst))]))
        rows.append(best.assign(rank=[f"best {i + 1}" for i in range(len(best))]))
    return pd.concat(rows, ignore_index=True) if rows else ok.head(0).assign(rank=[])
