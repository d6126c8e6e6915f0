"""``rses score``: score one (source, edited, mask) triple, or three directories matched by file stem."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from rses.cli import options
from rses.cli.app import app, console, err_console
from rses.cli.helpers import auto_device, runs_a_model
from rses.errors import UsageError

if TYPE_CHECKING:
    from rses.metrics.suite import MetricSuite

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
SMOKE_NOTE = "SMOKE MODE: tiny random-weight models, these numbers are NOT meaningful"
UNCHECKED_NOTE = "--skip-weight-check: the weights were not checked against their known digests"


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
        found: dict[str, list[Path]] = {}
        for p in sorted(folder.iterdir()):
            if p.suffix.lower() in IMAGE_SUFFIXES:
                found.setdefault(p.stem, []).append(p)
        doubled = [" + ".join(p.name for p in ps) for ps in found.values() if len(ps) > 1]
        if doubled:
            raise UsageError(
                f"{folder}: {len(doubled)} file name(s) are used by several images "
                f"({', '.join(doubled[:5])}); files are matched by the same name without extension: "
                "keep one of each."
            )
        return {stem: ps[0] for stem, ps in found.items()}

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
    skip_weight_check: bool = typer.Option(
        False, "--skip-weight-check", help="Use weights whose digest does not match the known one (marked)."
    ),
    device: str = typer.Option(
        "cpu",
        "--device",
        help="torch device for the learned metrics (auto: cuda when available and one runs).",
    ),
    mask_threshold: float | None = options.MASK_THRESHOLD,
    boundary: int = options.BOUNDARY,
    allow_pickle: bool = options.ALLOW_PICKLE,
    metric_batch_size: int | None = options.METRIC_BATCH_SIZE,
    crop_policy: str = options.CROP_POLICY,
    metric_dtype: str = options.METRIC_DTYPE,
    smoke: bool = typer.Option(
        False, "--smoke", help="Tiny random models instead of real weights (not meaningful)."
    ),
    threads: int | None = typer.Option(
        None, "--threads", help="CPU threads [default: 1 for weight-free metrics, all cores for models]."
    ),
) -> None:
    """Score edited images against their sources with the RSES metric suite.

    Example (the built-in split's pseudo ground truth scored as an edit): rses score
    rses/data/builtin/images/chelsea.png rses/data/builtin/targets/chelsea-cat-pixel-art.png
    rses/data/builtin/masks/chelsea-cat.png --style pixel-art

    Directories are matched by file stem: rses score SOURCES/ EDITS/ MASKS/ --style cyberpunk --out scores.csv
    """
    if out is not None and out.suffix.lower() not in {".csv", ".json"}:
        raise UsageError(f"--out must end in .csv or .json, got {out}.")
    metric_kwargs = options.metric_options(mask_threshold, boundary, allow_pickle, metric_batch_size)
    options.check_device(device)
    from rses.metrics import METRICS, MetricSuite
    from rses.pixels import load_image, load_mask

    selected = _computable(metrics, has_target=target is not None)
    learned = runs_a_model([], selected)  # a metric needs a model: it picks the device (auto) and the threads
    suite = MetricSuite(
        metrics=selected,
        device=auto_device(device, learned),
        clip_weights=clip_weights,
        lpips_weights=lpips_weights,
        smoke=smoke,
        **metric_kwargs,
        crop_policy=crop_policy,
        dtype=metric_dtype,
    )
    suite.check_weights()
    from rses.weight_identity import metric_identities

    models = metric_identities(suite, clip_weights, lpips_weights, verify=not skip_weight_check)
    if skip_weight_check:
        err_console.print(f"[bold yellow]{UNCHECKED_NOTE}[/bold yellow]")
    from rses.threads import apply_threads, choose_threads

    apply_threads(choose_threads(threads, learned), learned)
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
        _write(out, rows, suite, smoke, models, skip_weight_check)
        console.print(
            f"wrote {len(rows)} row(s) to {out}" + (f" [yellow]({SMOKE_NOTE})[/yellow]" if smoke else "")
        )


def _computable(metrics: str, has_target: bool) -> list[str]:
    """The selected metrics that can be computed; without a target the target-based ones are dropped with a note.

    Raises:
        UsageError: every selected metric needs a target and none was given.
    """
    from rses.metrics import METRICS, select_metrics

    names = select_metrics(metrics)
    if has_target:
        return names
    skipped = [n for n in names if METRICS[n].needs_target]
    kept = [n for n in names if n not in skipped]
    if not kept:
        raise UsageError(
            f"{', '.join(skipped)} compare the edit with a pseudo-GT target image: pass --target FILE/DIR."
        )
    if skipped:
        err_console.print(
            f"Skipped {', '.join(skipped)}: they compare the edit with a pseudo-GT target image "
            "(pass --target FILE/DIR to compute them).",
            highlight=False,
            soft_wrap=True,
        )
    return kept


def _fmt(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.4f}"


def _write(
    out: Path, rows: list[dict], suite: MetricSuite, smoke: bool, models: list, unchecked: bool
) -> None:
    import pandas as pd

    from rses.results import csv_safe_frame

    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".json":
        payload = {
            "smoke": smoke,
            "note": SMOKE_NOTE if smoke else None,
            "config": suite.config(),
            "models": [m.to_dict() for m in models],
            "weight_check": "skipped" if unchecked else "checked",
            "summary": suite.compute(),
            "samples": rows,
        }
        out.write_text(json.dumps(payload, indent=2, default=str, allow_nan=True))
    else:
        frame = pd.DataFrame(rows)
        notes = [n for n, on in ((SMOKE_NOTE, smoke), (UNCHECKED_NOTE, unchecked)) if on]
        if notes:
            frame.insert(1, "note", "; ".join(notes))
        csv_safe_frame(frame).to_csv(out, index=False)
