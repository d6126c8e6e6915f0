"""`rses check`: a run's metric means against a drift baseline (CI's regression check).

Example::

    rses check runs/paste-style-test --baseline leaderboard/baseline-builtin-test.json
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from rses.cli.app import app, console, err_console
from rses.cli.helpers import command_line, fmt


@app.command("check")
def check_command(
    run: Path = typer.Argument(..., help="Run directory."),
    baseline: Path = typer.Option(..., "--baseline", help="Baseline JSON file."),
    tolerance: float | None = typer.Option(
        None, "--tolerance", help="Absolute tolerance on each metric mean [default: the baseline's]."
    ),
    update: bool = typer.Option(False, "--update", help="Rewrite the baseline from this run."),
) -> None:
    """Check a run's metric means against a baseline; exit 1 on drift beyond the tolerance.

    Example: rses check runs/paste-style-test --baseline leaderboard/baseline-builtin-test.json
    """
    from rses.drift import (
        check_drift,
        check_provenance,
        failure_message,
        make_baseline,
        read_baseline,
        run_means,
        write_baseline,
    )
    from rses.results import load_run

    loaded = load_run(run)
    if update:
        previous = read_baseline(baseline) if baseline.is_file() else None
        write_baseline(baseline, make_baseline(loaded, tolerance, command_line(), previous))
        console.print(f"Wrote baseline {escape(str(baseline))} ({len(loaded.summary)} metrics).")
        return
    expected = read_baseline(baseline)
    rows = check_provenance(loaded, expected) + check_drift(run_means(loaded), expected, tolerance)
    failed = [r for r in rows if r.failed]
    table = Table(title=f"{escape(str(run))} vs baseline {escape(str(baseline))}")
    for column in ("metric", "baseline", "current", "Δ", "tolerance", "status"):
        table.add_column(column, justify="left" if column in {"metric", "status"} else "right")
    styles = {"ok": "green", "drift": "bold red", "missing": "bold red", "new": "yellow"}
    for row in rows:
        table.add_row(
            escape(row.metric),
            _cell(row.baseline),
            _cell(row.current),
            fmt(row.delta, "+.4g"),
            fmt(row.tolerance, ".3g"),
            f"[{styles[row.status]}]{row.status}[/]",
        )
    console.print(table)
    if failed:
        err_console.print(f"[bold red]{escape(failure_message(failed))}[/bold red]", soft_wrap=True)
        raise typer.Exit(1)
    console.print("[green]No drift.[/green]")


def _cell(value: Any) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return escape(value) if isinstance(value, str) else fmt(value, ".6g")
