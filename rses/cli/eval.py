"""`rses eval`: run an editor on a split and score every sample (resumable).

Example::

    rses eval --method paste-style --split test --metrics pixel
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from rses.cli import options
from rses.cli.app import app, console, err_console
from rses.cli.helpers import (
    DEVICE_HELP,
    auto_device,
    command_line,
    fmt,
    json_object,
    metric_spec,
    runs_a_model,
)

if TYPE_CHECKING:
    from rses.results import Run

SMOKE_NOTE = "smoke run: tiny random-weight models, these numbers are not meaningful"


@app.command("eval")
def eval_command(
    ctx: typer.Context,
    method: str = typer.Option(..., "--method", "-m", help="Editor name (see `rses ls editors`)."),
    split: str = typer.Option(
        "test", "--split", "-s", help="Built-in name, registered name or manifest path."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Run directory [default: runs/<method>-<split>]."
    ),
    device: str = typer.Option("auto", "--device", help=DEVICE_HELP),
    edit_batch_size: int | None = options.EDIT_BATCH_SIZE,
    old_batch_size: int | None = options.OLD_BATCH_SIZE,
    limit: int | None = typer.Option(None, "--limit", help="Only the first N samples (smoke runs)."),
    shard: str = typer.Option("0/1", "--shard", help="Run shard i of n ('i/n'); shards may share --out."),
    seed: int = typer.Option(0, "--seed", help="Base seed; each sample's seed derives from it and its id."),
    metrics: list[str] | None = typer.Option(
        None,
        "--metrics",
        help="Metric names or groups (pixel, lpips, clip, vlm, all; all leaves vlm out); repeat or "
        "comma-separate. [default: all]",
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
    metric_config: Path | None = typer.Option(
        None, "--metric-config", help="JSON file of metric options (RSESConfig fields, e.g. vlm_opposites)."
    ),
    edits: Path | None = typer.Option(
        None, "--edits", help="With --method folder: the folder of edits made elsewhere, DIR/<sample_id>.png."
    ),
    clip_weights: str | None = typer.Option(
        None, "--clip-weights", help="CLIP checkpoint for the clip metrics (or RSES_CLIP_WEIGHTS)."
    ),
    lpips_weights: str | None = typer.Option(
        None,
        "--lpips-weights",
        help="LPIPS backbone state dict for the lpips metrics (or RSES_LPIPS_WEIGHTS).",
    ),
    vlm_weights: str | None = typer.Option(
        None, "--vlm-weights", help="VLM judge model folder for the vlm metrics (or RSES_VLM_WEIGHTS)."
    ),
    skip_weight_check: bool = typer.Option(
        False,
        "--skip-weight-check",
        help="Use weights whose digest does not match the known one; the run is marked and never ranked.",
    ),
    mask_threshold: float | None = options.MASK_THRESHOLD,
    boundary: int = options.BOUNDARY,
    allow_pickle: bool = options.ALLOW_PICKLE,
    metric_batch_size: int | None = options.METRIC_BATCH_SIZE,
    crop_policy: str = options.CROP_POLICY,
    metric_dtype: str = options.METRIC_DTYPE,
    retry_failed: bool = typer.Option(False, "--retry-failed", help="On resume, rerun samples that failed."),
    threads: int | None = typer.Option(
        None, "--threads", help="CPU threads [default: 1 for weight-free work, all cores for models]."
    ),
    sample_timeout: float | None = typer.Option(
        None,
        "--sample-timeout",
        help="Seconds an editor call may take per sample; a call that hangs longer becomes failed rows and "
        "the run goes on (the call is abandoned, see SECURITY.md). [default: no limit]",
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the progress bar."),
) -> None:
    """Run an editor on a split and score every sample; rerun the same command to resume.

    Exits 1 when some samples failed (their errors are in the table's `error` column).

    Example: rses eval --method paste-style --split test --metrics pixel
    """
    metric_kwargs = options.metric_options(mask_threshold, boundary, allow_pickle, metric_batch_size)
    batch_size = options.renamed_option(edit_batch_size, old_batch_size, "--edit-batch-size") or 1
    options.check_device(device)
    from rses.runner import RunConfig, parse_shard, run_eval

    cfg = RunConfig(
        method=method,
        split=split,
        out=out,
        device=auto_device(device, runs_a_model([method], metric_spec(metrics))),
        batch_size=batch_size,  # RunConfig.batch_size: samples per editor call (--edit-batch-size)
        limit=limit,
        shard=parse_shard(shard),
        seed=seed,
        metrics=metric_spec(metrics),
        smoke=smoke,
        editor_config=json_object(config, "--config", "editor config fields")
        | ({"weights": weights} if weights else {})
        | ({"edits": str(edits)} if edits else {}),
        clip_weights=clip_weights,
        lpips_weights=lpips_weights,
        vlm_weights=vlm_weights,
        metric_options=metric_kwargs
        | json_object(metric_config, "--metric-config", "metric options")
        | options.given_on_command_line(ctx, metric_kwargs),
        skip_weight_check=skip_weight_check,
        retry_failed=retry_failed,
        threads=threads,
        command=command_line(),
        sample_timeout=sample_timeout,
        crop_policy=crop_policy,
        metric_dtype=metric_dtype,
    )
    try:
        with options.pickle_opt_in(allow_pickle):
            result = run_eval(cfg, progress=progress)
    except KeyboardInterrupt as stop:  # Ctrl-C (130) or SIGTERM (rses.isolation.Terminated, 143)
        signum = getattr(stop, "signum", 2)
        what = "Interrupted" if signum == 2 else f"Stopped by signal {signum}"
        err_console.print(f"{what}. Every finished sample is saved: rerun the same command to resume.")
        raise typer.Exit(128 + signum) from None
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


def _print_summary(run: Run) -> None:
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
            fmt(stats["mean"]),
            fmt(stats["std"]),
            f"[{fmt(stats['ci_low'])}, {fmt(stats['ci_high'])}]",
            str(stats["n"]),
        )
    console.print(table)
