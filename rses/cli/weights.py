"""``rses weights``: every weight a method and metric set need, where rses looks, found or not, how to fetch.

Example::

    rses weights --method kontext --metrics all
"""

from __future__ import annotations

import typer
from rich.markup import escape

from rses.cli import options
from rses.cli.app import app, console

_STYLE = {"found": "green", "missing": "bold red", "refused": "bold yellow"}


@app.command("weights")
def weights_command(
    method: str | None = typer.Option(
        None, "--method", "-m", help="Editor name (see `rses ls editors`); omit for the metrics alone."
    ),
    metrics: str = typer.Option("all", "--metrics", help="Metric names or groups (pixel, lpips, clip, all)."),
    weights: str | None = typer.Option(
        None, "--weights", help="The editor's weights, as `rses eval` takes them."
    ),
    clip_weights: str | None = typer.Option(None, "--clip-weights", help="CLIP checkpoint, as `rses eval`."),
    lpips_weights: str | None = typer.Option(None, "--lpips-weights", help="LPIPS backbone, as `rses eval`."),
    allow_pickle: bool = options.ALLOW_PICKLE,
) -> None:
    """List every weight a run would load: where rses looks, found or missing, whether its hash was checked,
    and the exact command that fetches it (gated hub repositories say what to do first). Nothing is
    downloaded. Exits 1 when a weight is missing.

    Example: rses weights --method kontext --metrics all
    """
    from rses.doctor import needed_weights

    with options.pickle_opt_in(allow_pickle):
        found = needed_weights(method, metrics, weights, clip_weights, lpips_weights, allow_pickle)
    what = f"--method {method} --metrics {metrics}" if method else f"--metrics {metrics}"
    if not found:
        console.print(f"{escape(what)} needs no weights.")
        return
    for w in found:
        console.print(
            f"[bold]{escape(w.name)}[/bold] (for {escape(w.needed_by)}): [{_STYLE[w.status]}]{w.status}[/]",
            soft_wrap=True,
        )
        rows = [("looks in", w.looks_in), ("found at", w.path or "-"), ("checked", w.checked)]
        rows += [("fetch", w.fetch)] if w.status != "found" else []
        rows += [("problem", w.problem)] if w.problem and w.status == "refused" else []
        for label, text in rows:
            console.print(f"  {label:<9} {escape(text)}", soft_wrap=True, highlight=False)
    missing = [w for w in found if w.status != "found"]
    if missing:
        console.print(f"{len(missing)} of {len(found)} weights missing or refused.", highlight=False)
        raise typer.Exit(1)
    console.print(f"All {len(found)} weights found.", highlight=False)
