"""`rses eval`, `compare`, `leaderboard`, `check` and `ls`: run a benchmark, then read the runs back.

Examples::

    rses eval --method paste-style --split test --metrics pixel
    rses compare runs/identity-test runs/paste-style-test
    rses leaderboard runs/* --format md --out leaderboard.md
    rses check runs/paste-style-test --baseline leaderboard/paste-style-test.json
    rses ls editors
"""

from __future__ import annotations

import json
import math
import shlex
import sys
from enum import Enum
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from rses.cli.app import app, console, err_console
from rses.errors import UsageError


class Listing(str, Enum):
    editors = "editors"
    metrics = "metrics"
    splits = "splits"


def _command_line() -> str:
    return shlex.join(["rses", *sys.argv[1:]])


def _metric_spec(metrics: list[str] | None) -> list[str] | str:
    names = [m.strip() for item in metrics or [] for m in item.split(",") if m.strip()]
    return names or "all"


def _editor_overrides(path: Path | None) -> dict:
    if path is None:
        return {}
    try:
        overrides = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise UsageError(f"--config {path}: cannot read a JSON object ({err}).") from None
    if not isinstance(overrides, dict):
        raise UsageError(
            f"--config {path} must hold a JSON object of editor config fields, got {type(overrides)}."
        )
    return overrides


def _auto_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _fmt(value: float, digits: str = ".4g") -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, digits)


SMOKE_NOTE = "smoke run: tiny random-weight models, these numbers are not meaningful"


@app.command("eval")
def eval_command(
    method: str = typer.Option(..., "--method", "-m", help="Editor name (see `rses ls editors`)."),
    split: str = typer.Option(
        "test", "--split", "-s", help="Built-in name, registered name or manifest path."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Run directory [default: runs/<method>-<split>]."
    ),
    device: str = typer.Option(
        "auto", "--device", help="cpu, cuda, cuda:1, ... (auto: cuda when available)."
    ),
    batch_size: int = typer.Option(1, "--batch-size", "-b", help="Samples per editor call."),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N samples (smoke runs)."),
    shard: str = typer.Option("0/1", "--shard", help="Run shard i of n ('i/n'); shards may share --out."),
    seed: int = typer.Option(0, "--seed", help="Base seed; each sample's seed derives from it and its id."),
    metrics: list[str] | None = typer.Option(
        None,
        "--metrics",
        help="Metric names or groups (pixel, lpips, clip, all); repeat or comma-separate. [default: all]",
    ),
    smoke: bool = typer.Option(
        False, "--smoke", help="Tiny random-weight models: exercises the code, numbers are not meaningful."
    ),
    config: Path | None = typer.Option(None, "--config", help="JSON file of editor config overrides."),
    weights: str | None = typer.Option(
        None,
        "--weights",
        help="The editor's weights: hub id or local directory (sets its `weights` config field).",
    ),
    clip_weights: str | None = typer.Option(
        None, "--clip-weights", help="CLIP checkpoint for the clip metrics (or RSES_CLIP_WEIGHTS)."
    ),
    lpips_weights: str | None = typer.Option(
        None,
        "--lpips-weights",
        help="LPIPS backbone state dict for the lpips metrics (or RSES_LPIPS_WEIGHTS).",
    ),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="On resume, rerun samples that failed."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the progress bar."),
) -> None:
    """Run an editor on a split and score every sample; rerun the same command to resume.

    Exits 1 when some samples failed (their errors are in the table's `error` column).

    Example: rses eval --method paste-style --split test --metrics pixel
    """
    from rses.runner import RunConfig, parse_shard, run_eval

    cfg = RunConfig(
        method=method,
        split=split,
        out=out,
        device=_auto_device(device),
        batch_size=batch_size,
        limit=limit,
        shard=parse_shard(shard),
        seed=seed,
        metrics=_metric_spec(metrics),
        smoke=smoke,
        editor_config=_editor_overrides(config) | ({"weights": weights} if weights else {}),
        clip_weights=clip_weights,
        lpips_weights=lpips_weights,
        retry_failed=retry_failed,
        command=_command_line(),
    )
    try:
        result = run_eval(cfg, progress=progress)
    except KeyboardInterrupt:
        err_console.print("Interrupted. Every finished sample is saved: rerun the same command to resume.")
        raise typer.Exit(130) from None
    if result.merged:
        from rses.results import load_run

        _print_summary(load_run(result.run_dir))
    console.print(
        f"Run directory: {escape(str(result.run_dir))} ({result.n_new} new, {result.n_skipped} resumed)",
        soft_wrap=True,
    )
    if not result.merged:
        console.print("This rank's rows are in its journal; rank 0 writes the tables.")
    elif not result.complete:
        err_console.print("[yellow]Some samples have no row yet (another shard still running?).[/yellow]")
    if result.n_failed:
        err_console.print(
            f"[bold red]{result.n_failed} sample(s) failed[/bold red]; see the error column of "
            f"{escape(str(result.run_dir / 'samples.csv'))}.",
            soft_wrap=True,
        )
        raise typer.Exit(1)


def _print_summary(run) -> None:
    smoke = bool(run.info.get("smoke"))
    table = Table(
        title=f"{run.info['method']} on {run.info['split']}" + (" (smoke)" if smoke else ""),
        caption=SMOKE_NOTE if smoke else None,
    )
    for column in ("metric", "mean", "std", "95% CI", "n"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for name, stats in run.summary.items():
        table.add_row(
            name,
            _fmt(stats["mean"]),
            _fmt(stats["std"]),
            f"[{_fmt(stats['ci_low'])}, {_fmt(stats['ci_high'])}]",
            str(stats["n"]),
        )
    console.print(table)


@app.command("compare")
def compare_command(
    runs: list[Path] = typer.Argument(..., help="Run directories; the first is the reference."),
    metrics: list[str] | None = typer.Option(None, "--metrics", help="Only these metrics (names)."),
    resamples: int = typer.Option(2000, "--resamples", help="Bootstrap resamples."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
) -> None:
    """Metrics side by side, with the paired bootstrap 95% CI of each difference vs the first run and the
    per-sample win rate (ties count half).

    Example: rses compare runs/identity-test runs/paste-style-test
    """
    from rses.compare import compare_runs
    from rses.results import load_run

    loaded = [load_run(p) for p in runs]
    hashes = {r.info.get("split_manifest_sha256") for r in loaded}
    if len(hashes) > 1:
        err_console.print(
            "[yellow]The runs used different split manifests; only shared sample ids are paired.[/yellow]"
        )
    names = _metric_spec(metrics)
    rows = compare_runs(loaded, None if names == "all" else names, n_resamples=resamples, seed=seed)
    table = Table(title=f"vs {escape(loaded[0].label)} (paired over samples ok in both)")
    for column in ("metric", "run", "n", "mean [95% CI]", "Δ vs ref [95% CI]", "win rate", "paired"):
        table.add_column(column, justify="left" if column in {"metric", "run"} else "right")
    for row in rows:
        arrow = {True: " ↑", False: " ↓", None: ""}[row.higher_is_better]
        is_ref = row.run == loaded[0].label
        table.add_row(
            f"{row.metric}{arrow}",
            escape(row.run),
            str(row.n),
            f"{_fmt(row.mean)} [{_fmt(row.ci_low)}, {_fmt(row.ci_high)}]",
            "ref"
            if is_ref
            else f"{_fmt(row.diff, '+.4g')} [{_fmt(row.diff_low, '+.4g')}, {_fmt(row.diff_high, '+.4g')}]",
            "" if is_ref else _fmt(100 * row.win_rate, ".1f") + "%",
            str(row.n_paired),
        )
    console.print(table)


@app.command("leaderboard")
def leaderboard_command(
    runs: list[Path] = typer.Argument(..., help="Run directories."),
    fmt: str = typer.Option("md", "--format", "-f", help="md, csv or html."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write to this file instead of stdout."),
    metrics: list[str] | None = typer.Option(None, "--metrics", help="Only these metrics (names)."),
) -> None:
    """One row per run: method, whether it sees the mask, n, metric backend, each metric's mean ± 95% CI.

    Example: rses leaderboard runs/* --format md
    """
    from rses.io import write_atomic
    from rses.leaderboard import render
    from rses.results import load_run

    names = _metric_spec(metrics)
    text = render([load_run(p) for p in runs], fmt, None if names == "all" else names)
    if out is None:
        typer.echo(text, nl=False)
    else:
        write_atomic(out, text)
        console.print(f"Wrote {escape(str(out))}")


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

    Example: rses check runs/paste-style-test --baseline leaderboard/paste-style-test.json
    """
    from rses.drift import (
        check_drift,
        check_provenance,
        make_baseline,
        read_baseline,
        run_means,
        write_baseline,
    )
    from rses.results import load_run

    loaded = load_run(run)
    if update:
        previous = read_baseline(baseline) if baseline.is_file() else None
        write_baseline(baseline, make_baseline(loaded, tolerance, _command_line(), previous))
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
            _fmt(row.delta, "+.4g"),
            _fmt(row.tolerance, ".3g"),
            f"[{styles[row.status]}]{row.status}[/]",
        )
    console.print(table)
    if failed:
        err_console.print(
            f"[bold red]{len(failed)} value(s) drifted beyond tolerance[/bold red]: "
            f"{', '.join(escape(r.metric) for r in failed)}. If the change is intended, rerun with "
            "--update.",
            soft_wrap=True,
        )
        raise typer.Exit(1)
    console.print("[green]No drift.[/green]")


def _cell(value) -> str:
    return escape(value) if isinstance(value, str) else _fmt(value, ".6g")


@app.command("ls")
def ls_command(what: Listing = typer.Argument(..., help="editors, metrics or splits.")) -> None:
    """List the registered editors, metrics or splits.

    Example: rses ls metrics
    """
    if what is Listing.editors:
        from rses.editing import EDITORS

        table = Table("editor", "implemented by")
        for name in EDITORS.names():
            target = EDITORS._entries[name]
            table.add_row(
                name, target if isinstance(target, str) else f"{target.__module__}:{target.__qualname__}"
            )
    elif what is Listing.metrics:
        from rses.metrics import METRICS

        table = Table("metric", "group", "better", "range", "description")
        for name, info in METRICS.items():
            table.add_row(
                name,
                info.group,
                "higher" if info.higher_is_better else "lower",
                f"[{_fmt(info.lower)}, {_fmt(info.upper)}]",
                info.description,
            )
    else:
        from rses.data.manifest import available_splits, resolve_split

        table = Table("split", "manifest")
        for name in available_splits():
            table.add_row(name, escape(str(resolve_split(name)[1])))
    console.print(table)
