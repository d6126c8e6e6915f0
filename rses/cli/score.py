"""``rses score``: score one (source, edited, mask) triple, or three directories matched by file stem."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer
from rich.table import Table

from rses.cli.app import app, console, err_console
from rses.errors import UsageError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
SMOKE_NOTE = "SMOKE MODE: tiny random-weight models, these numbers are NOT meaningful"


def _triples(
    source: Path, edited: Path, mask: Path, target: Path | None
) -> list[tuple[str, Path, Path, Path, Path | None]]:
    paths = [source, edited, mask] + ([target] if target else [])
    if all(p.is_file() for p in paths):
        return [(source.stem, source, edited, mask, target)]
    if not all(p.is_dir() for p in paths):
        raise UsageError(
            "SOURCE, EDITED and MASK (and --target) must all be files or all be directories; got "
            + ", ".join(
                f"{p} ({'file' if p.is_file() else 'dir' if p.is_dir() else 'missing'})" for p in paths
            )
        )

    def by_stem(folder: Path) -> dict[str, Path]:
        return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}

    found = [by_stem(p) for p in paths]
    if not found[0]:
        raise UsageError(f"No images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {source}.")
    for folder, files in zip(paths[1:], found[1:], strict=True):
        missing = sorted(set(found[0]) - set(files))
        if missing:
            raise UsageError(
                f"{len(missing)} source image(s) have no counterpart in {folder}: {missing[:5]} "
                "(files are matched by name without extension)."
            )
    return [
        (stem, found[0][stem], found[1][stem], found[2][stem], found[3][stem] if target else None)
        for stem in found[0]
    ]


@app.command()
def score(
    source: Path = typer.Argument(..., help="Source image, or a directory of them."),
    edited: Path = typer.Argument(
        ..., help="Edited image (same size), or a directory with the same file stems."
    ),
    mask: Path = typer.Argument(..., help="Object mask, or a directory with the same file stems."),
    style: str = typer.Option(..., "--style", help="Style name, e.g. pixel-art."),
    target: Path = typer.Option(
        None, "--target", help="Pseudo-GT target image/directory (for *_in, rses_ref)."
    ),
    metrics: str = typer.Option(
        "pixel", "--metrics", help="Names or groups: pixel, lpips, clip, all (comma list)."
    ),
    out: Path = typer.Option(None, "--out", help="Write per-sample results to FILE.csv or FILE.json."),
    clip_weights: str = typer.Option(None, "--clip-weights", help="open_clip checkpoint file/dir or hub id."),
    lpips_weights: str = typer.Option(
        None, "--lpips-weights", help="torchvision AlexNet/VGG16 state dict file/dir."
    ),
    allow_pickle: bool = typer.Option(False, "--allow-pickle", help="Allow pickle (.pth/.bin) checkpoints."),
    device: str = typer.Option("cpu", "--device", help="torch device for the learned metrics."),
    boundary: int = typer.Option(
        0, "--boundary", help="Exclude background pixels within this many px of the mask."
    ),
    mask_threshold: float = typer.Option(
        None, "--mask-threshold", help="Binarize soft masks at this level (0-1)."
    ),
    smoke: bool = typer.Option(
        False, "--smoke", help="Tiny random models instead of real weights (not meaningful)."
    ),
) -> None:
    """Score edited images against their sources with the RSES metric suite.

    Examples: rses score src.png out.png mask.png --style pixel-art;
    rses score sources/ edits/ masks/ --style cyberpunk --metrics all --out scores.csv
    """
    if out is not None and out.suffix.lower() not in {".csv", ".json"}:
        raise UsageError(f"--out must end in .csv or .json, got {out}.")
    from rses.io import load_image, load_mask
    from rses.metrics import METRICS, RSES

    suite = RSES(
        metrics=metrics,
        device=device,
        clip_weights=clip_weights,
        lpips_weights=lpips_weights,
        smoke=smoke,
        boundary=boundary,
        mask_threshold=mask_threshold,
        allow_pickle=allow_pickle,
    )
    suite.check_weights()
    if smoke:
        err_console.print(f"[bold yellow]{SMOKE_NOTE}[/bold yellow]")
    for stem, src, edt, msk, tgt in _triples(source, edited, mask, target):
        suite.update(
            stem,
            load_image(src),
            load_image(edt),
            load_mask(msk, mask_threshold),
            style,
            load_image(tgt) if tgt else None,
        )
    rows = suite.rows
    table = Table(title="RSES scores" + (f" ({SMOKE_NOTE})" if smoke else ""))
    table.add_column("sample")
    for name in suite.metrics:
        table.add_column(f"{name} {'↑' if METRICS[name].higher_is_better else '↓'}", justify="right")
    for row in rows:
        table.add_row(row["sample_id"], *(_fmt(row[n]) for n in suite.metrics))
    if len(rows) > 1:
        table.add_row("[bold]mean[/bold]", *(_fmt(v) for v in suite.compute().values()))
    console.print(table)
    if out is not None:
        _write(out, rows, suite, smoke)
        console.print(
            f"wrote {len(rows)} row(s) to {out}" + (f" [yellow]({SMOKE_NOTE})[/yellow]" if smoke else "")
        )


def _fmt(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.4f}"


def _write(out: Path, rows: list[dict], suite, smoke: bool) -> None:
    import pandas as pd

    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".json":
        payload = {
            "smoke": smoke,
            "note": SMOKE_NOTE if smoke else None,
            "config": suite.config(),
            "summary": suite.compute(),
            "samples": rows,
        }
        out.write_text(json.dumps(payload, indent=2, default=str, allow_nan=True))
    else:
        frame = pd.DataFrame(rows)
        if smoke:
            frame.insert(1, "note", SMOKE_NOTE)
        frame.to_csv(out, index=False)
