"""`rses leaderboard` (one row per run) and `rses publish-leaderboard` (regenerate the committed one).

Examples::

    rses leaderboard runs/* --format md --out leaderboard.md
    rses publish-leaderboard --out leaderboard
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from rses.cli.app import app, console
from rses.cli.helpers import METRICS_HELP, chosen_metrics, command_line, metric_spec


@app.command("leaderboard")
def leaderboard_command(
    runs: list[Path] = typer.Argument(..., help="Run directories."),
    fmt: str = typer.Option("md", "--format", "-f", help="md, csv or html."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write to this file instead of stdout."),
    metrics: list[str] | None = typer.Option(None, "--metrics", help=METRICS_HELP),
) -> None:
    """One row per run: method, whether it sees the mask, n, metric backend, each metric's mean ± 95% CI.

    Example: rses leaderboard runs/* --format md
    """
    from rses.io import write_atomic
    from rses.leaderboard import render
    from rses.results import load_run

    loaded = [load_run(p) for p in runs]
    held = list(dict.fromkeys(m for r in loaded for m in r.metrics))
    text = render(loaded, fmt, chosen_metrics(metric_spec(metrics), held, "any of the runs"))
    if fmt == "html":
        from rses.report.html import table_page

        splits = ", ".join(sorted({str(r.info.get("split", "?")) for r in loaded}))
        text = table_page(
            text, "rses leaderboard", f"{len(loaded)} run(s) on {splits}; mean ± half the 95% CI."
        )
    if out is None:
        typer.echo(text, nl=False)
    else:
        write_atomic(out, text)
        console.print(f"Wrote {escape(str(out))}")


@app.command("publish-leaderboard")
def publish_leaderboard_command(
    split: str = typer.Option(
        "test", "--split", help="Split to run (built-in name, registered name or path)."
    ),
    out: Path = typer.Option(Path("leaderboard"), "--out", "-o", help="Where the leaderboard files go."),
    runs_dir: Path = typer.Option(Path("runs/leaderboard"), "--runs-dir", help="Where the runs go."),
    metrics: str = typer.Option("pixel", "--metrics", help="Weight-free metric names or groups."),
    baseline_method: str = typer.Option(
        "paste-style",
        "--baseline-method",
        help="The run the drift baseline records (CI checks it with `rses check`).",
    ),
    lpips_weights: Path | None = typer.Option(
        None,
        "--lpips-weights",
        help="A real AlexNet trunk (.safetensors): adds the lpips metrics to the board.",
    ),
) -> None:
    """Run every weight-free editor on the split and write leaderboard/builtin-<split>.md, .csv and the drift
    baseline leaderboard/baseline-builtin-<split>.json.

    Example: rses publish-leaderboard
    """
    from rses.report.publish import publish

    paths = publish(
        split,
        out,
        runs_dir,
        metrics,
        baseline_method,
        command=command_line(),
        lpips_weights=lpips_weights,
    )
    console.print("Wrote " + ", ".join(escape(str(p)) for p in paths.values()))
