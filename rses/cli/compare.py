"""`rses compare`: runs side by side, paired bootstrap CIs of the differences vs the first run.

Example::

    rses compare runs/identity-test runs/paste-style-test
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from rses.cli.app import app, console, err_console
from rses.cli.helpers import METRICS_HELP, chosen_metrics, fmt, metric_spec


@app.command("compare")
def compare_command(
    runs: list[Path] = typer.Argument(..., help="Run directories; the first is the reference."),
    metrics: list[str] | None = typer.Option(None, "--metrics", help=METRICS_HELP),
    resamples: int = typer.Option(2000, "--resamples", help="Bootstrap resamples."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
) -> None:
    """Metrics side by side, with the paired bootstrap 95% CI of each difference vs the first run and the
    per-sample win rate (ties count half); for yes/no metrics (vlm) also the share of "yes" and McNemar's exact
    p-value of the paired answers.

    Example: rses compare runs/identity-test runs/paste-style-test
    """
    from rses.compare import compare_runs
    from rses.results import load_run

    loaded = [load_run(p) for p in runs]
    shared = [m for m in loaded[0].metrics if all(m in r.samples.columns for r in loaded)]
    names = chosen_metrics(
        metric_spec(metrics), shared, "every run (compare pairs the metrics all runs have)"
    )
    hashes = {r.info.get("split_manifest_sha256") for r in loaded}
    if len(hashes) > 1:
        err_console.print(
            "[yellow]The runs used different split manifests; only shared sample ids are paired.[/yellow]"
        )
    from rses.leaderboard import not_ranked_reasons

    for run, why in zip(loaded, not_ranked_reasons(loaded), strict=True):
        shown = [w for w in why if w.startswith(("other metric options", "smoke", "weights unverified"))]
        if shown:
            err_console.print(
                f"[yellow]{escape(run.label)}: not comparable: {escape('; '.join(shown))}[/yellow]"
            )
    rows = compare_runs(loaded, names, n_resamples=resamples, seed=seed)
    table = Table(title=f"vs {escape(loaded[0].label)} (paired over samples ok in both)")
    yes_no = any(row.mcnemar_p is not None for row in rows)
    columns = ["metric", "run", "n", "mean [95% CI]", "Δ vs ref [95% CI]", "win rate", "paired"]
    for column in columns + (["share yes", "McNemar p (b/c)"] if yes_no else []):
        table.add_column(column, justify="left" if column in {"metric", "run"} else "right")
    for row in rows:
        arrow = {True: " ↑", False: " ↓", None: ""}[row.higher_is_better]
        is_ref = row.run == loaded[0].label
        table.add_row(
            f"{row.metric}{arrow}",
            escape(row.run),
            str(row.n),
            f"{fmt(row.mean)} [{fmt(row.ci_low)}, {fmt(row.ci_high)}]",
            "ref"
            if is_ref
            else f"{fmt(row.diff, '+.4g')} [{fmt(row.diff_low, '+.4g')}, {fmt(row.diff_high, '+.4g')}]",
            "" if is_ref else fmt(100 * row.win_rate, ".1f") + "%",
            str(row.n_paired),
            *(_yes_no_cells(row, is_ref) if yes_no else []),
        )
    console.print(table)


def _yes_no_cells(row: Any, is_ref: bool) -> list[str]:
    if row.mcnemar_p is None:
        return ["", ""]
    share = fmt(100 * row.share, ".1f") + "%"
    return [share, "" if is_ref else f"{fmt(row.mcnemar_p, '.3g')} ({row.discordant[0]}/{row.discordant[1]})"]
