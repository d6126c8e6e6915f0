"""`rses report` (one self-contained HTML page) and `rses plot` (the report's figures and breakdown tables).

Examples::

    rses report runs/identity-test runs/paste-style-test --out report.html
    rses plot runs/* --out plots/
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from rses.cli.app import app, console


def _bins(small_below: float, large_from: float):
    from rses.errors import UsageError
    from rses.report.breakdown import SizeBins

    try:
        return SizeBins(small_below, large_from)
    except ValueError as err:
        raise UsageError(f"--small-below/--large-from: {err}") from None


_SMALL = typer.Option(0.05, "--small-below", help="Mask-area fraction below which an object is 'small'.")
_LARGE = typer.Option(0.20, "--large-from", help="Mask-area fraction from which an object is 'large'.")


@app.command("report")
def report_command(
    runs: list[Path] = typer.Argument(..., help="Run directories written by `rses eval`."),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="The HTML file to write."),
    grid: int = typer.Option(4, "--grid", help="Rows of the qualitative grid (0: none)."),
    extremes: int = typer.Option(2, "--extremes", help="Worst and best samples shown per method."),
    title: str = typer.Option("rses report", "--title", help="Page title."),
    small_below: float = _SMALL,
    large_from: float = _LARGE,
) -> None:
    """One static HTML page (works offline): sortable leaderboard, trade-off plot with Pareto front, per-style
    and per-object-size breakdowns, a qualitative grid, and each method's worst and best samples.

    Example: rses report runs/identity-test runs/paste-style-test --out report.html
    """
    from rses.report.html import write_report

    path = write_report(
        runs, out, n_grid=grid, n_extremes=extremes, size_bins=_bins(small_below, large_from), title=title
    )
    console.print(f"Wrote {escape(str(path))} ({path.stat().st_size / 1e6:.1f} MB)")


@app.command("plot")
def plot_command(
    runs: list[Path] = typer.Argument(..., help="Run directories written by `rses eval`."),
    out: Path = typer.Option(Path("plots"), "--out", "-o", help="Directory for the PNGs and CSV tables."),
    grid: int = typer.Option(4, "--grid", help="Rows of the qualitative grid (0: none)."),
    small_below: float = _SMALL,
    large_from: float = _LARGE,
) -> None:
    """Write tradeoff.png, by-style.png, by-size.png, grid.png and the by-style / by-size CSV tables.

    Example: rses plot runs/* --out plots/
    """
    from rses.report.assemble import collect, write_plots

    data = collect(runs, _bins(small_below, large_from))
    written = write_plots(data, out, n_grid=grid)
    out.mkdir(parents=True, exist_ok=True)
    from rses.results import csv_safe_frame

    for name, table in (("by-style", data.by_style), ("by-size", data.by_size)):
        csv_safe_frame(table).to_csv(out / f"{name}.csv", index=False)
        written[f"{name}.csv"] = out / f"{name}.csv"
    console.print(f"Wrote {', '.join(escape(p.name) for p in written.values())} to {escape(str(out))}")
    from rses.report.assemble import coverage
    from rses.report.plots import left_out_note

    for name, (_, left_out) in coverage(data).items():
        if left_out:
            console.print(f"[yellow]{name}.png: {escape(left_out_note(left_out))}[/yellow]", soft_wrap=True)
