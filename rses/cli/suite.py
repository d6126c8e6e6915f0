"""`rses suite run FILE|NAME` and `rses suite ls`: benchmark suites as data (see :mod:`rses.suites`).

Examples::

    rses suite run builtin --out runs/builtin
    rses suite ls
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from rses.cli import options
from rses.cli.app import app, console, err_console
from rses.cli.helpers import DEVICE_HELP, auto_device, command_line, runs_a_model

suite_app = typer.Typer(
    help="Benchmark suites as data: run a TOML suite, list the shipped ones.\n\n"
    "Example: rses suite run builtin --out runs/builtin",
    no_args_is_help=True,
)
app.add_typer(suite_app, name="suite")


@suite_app.command("run")
def run_command(
    ctx: typer.Context,
    suite: str = typer.Argument(..., help="A suite file (TOML) or a shipped suite's name (`rses suite ls`)."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Directory of the runs and tables [default: runs/<suite name>]."
    ),
    split: str | None = typer.Option(None, "--split", "-s", help="Run on this split instead of the suite's."),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N samples (smoke runs)."),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    smoke: bool = typer.Option(
        False, "--smoke", help="Tiny random-weight models: numbers are not meaningful."
    ),
    edit_batch_size: int | None = typer.Option(
        None,
        "--edit-batch-size",
        "-b",
        show_default=False,
        help="Samples per editor call [default: the suite's batch_size, else 1].",
    ),
    old_batch_size: int | None = options.OLD_BATCH_SIZE,
    mask_threshold: float | None = options.MASK_THRESHOLD,
    boundary: int = options.BOUNDARY,
    allow_pickle: bool = options.ALLOW_PICKLE,
    metric_batch_size: int | None = options.METRIC_BATCH_SIZE,
    crop_policy: str = options.CROP_POLICY,
    metric_dtype: str = options.METRIC_DTYPE,
    report: bool = typer.Option(True, "--report/--no-report", help="Write report.html too."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the progress bars."),
) -> None:
    """Run every method of a suite (resumably: rerun to continue), then write leaderboard.md/.csv, table.md
    (with the published numbers beside the run's where the suite gives them) and report.html.

    Exits 1 when some samples failed.

    Example: rses suite run builtin --out runs/builtin
    """
    import dataclasses

    from rses.suites import load_suite, run_suite

    batch_size = options.renamed_option(edit_batch_size, old_batch_size, "--edit-batch-size")
    given = options.metric_options(mask_threshold, boundary, allow_pickle, metric_batch_size)
    overrides = options.given_on_command_line(ctx, given)  # the suite's own values stand otherwise
    loaded = load_suite(suite)
    if (
        batch_size is not None
    ):  # Suite.batch_size: samples per editor call; the command line's overrides the file's
        loaded = dataclasses.replace(loaded, batch_size=batch_size)
    with options.pickle_opt_in(allow_pickle):
        result = run_suite(
            loaded,
            out or Path("runs") / loaded.name,
            device=auto_device(device, runs_a_model([m.method for m in loaded.methods], loaded.metrics)),
            smoke=smoke,
            limit=limit,
            split=split,
            progress=progress,
            report=report,
            command=command_line(),
            metric_options=overrides,
            crop_policy=crop_policy,
            metric_dtype=metric_dtype,
        )
    typer.echo(result.files["table.md"].read_text())
    console.print("Wrote " + ", ".join(escape(str(p)) for p in result.files.values()), soft_wrap=True)
    if result.n_failed:
        err_console.print(
            f"[bold red]{result.n_failed} sample(s) failed[/bold red]; see each run's samples.csv."
        )
        raise typer.Exit(1)


@suite_app.command("ls")
def ls_command() -> None:
    """List the shipped suites.

    Example: rses suite ls
    """
    from rses.suites import builtin_suites, load_suite

    table = Table("suite", "split", "methods", "metrics", "description")
    for name in builtin_suites():
        s = load_suite(name)
        table.add_row(
            name,
            escape(s.split),
            ", ".join(m.label for m in s.methods),
            ", ".join(s.metrics),
            escape(s.description),
        )
    console.print(table)
