"""`rses data`: build splits from local dataset copies, regenerate the built-in split, list splits.

Examples::

    rses data build coco --root ~/datasets/coco --limit 500        # registers coco/test
    rses data build voc --root ~/datasets/VOCdevkit/VOC2012 --seed 1
    rses data make-builtin --overlays /tmp/overlays                # then look at the overlays
    rses data ls
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer
from rich.table import Table

from rses.cli.app import app, console

data_app = typer.Typer(help="Build, regenerate and list benchmark splits.", no_args_is_help=True)
app.add_typer(data_app, name="data")


class Dataset(str, Enum):
    coco = "coco"
    voc = "voc"
    big = "big"


@data_app.command()
def build(
    dataset: Dataset = typer.Argument(..., help="Which dataset layout ROOT has."),
    root: Path = typer.Option(..., "--root", help="Local copy of the dataset (see rses.data.builders)."),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Split directory; default <splits dir>/<dataset>, which registers <dataset>/<name>.",
    ),
    name: str = typer.Option("test", "--name", help="Manifest name: <out>/<name>.jsonl."),
    subset: str | None = typer.Option(
        None, "--subset", help="val2017 (coco), val (voc), test (big) by default."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the image order and object choice."),
    min_area: float = typer.Option(
        0.05, "--min-area", help="Smallest object area, as a fraction of the image."
    ),
    max_area: float = typer.Option(
        0.6, "--max-area", help="Largest object area, as a fraction of the image."
    ),
    limit: int | None = typer.Option(None, "--limit", help="Stop after this many samples."),
) -> None:
    """Build a split (one object per image, styles round-robin) from a local COCO, VOC or BIG copy."""
    from rses.data.builders import build_split
    from rses.data.manifest import read_manifest, splits_dir

    out_dir = out if out is not None else splits_dir() / dataset.value
    manifest = build_split(dataset.value, root, out_dir, name, subset, seed, min_area, max_area, limit)
    split = read_manifest(manifest)
    console.print(f"Wrote {len(split)} samples to {manifest} (sha256 {split.manifest_sha256[:12]})")


@data_app.command("make-builtin")
def make_builtin_command(
    out: Path | None = typer.Option(None, "--out", help="Target directory; default: the package's builtin/."),
    overlays: Path | None = typer.Option(
        None, "--overlays", help="Also render mask overlays here, to check."
    ),
) -> None:
    """Regenerate the built-in test/train split from skimage.data photos (deterministic)."""
    from rses.data.builtin import make_builtin
    from rses.data.manifest import BUILTIN_DIR, read_manifest

    for split_name, manifest in make_builtin(out or BUILTIN_DIR, overlays).items():
        split = read_manifest(manifest, name=split_name)
        console.print(f"{split_name}: {len(split)} samples, manifest sha256 {split.manifest_sha256[:12]}")


@data_app.command("ls")
def list_splits() -> None:
    """List the built-in and registered splits with their sample counts."""
    from rses.data.manifest import available_splits, resolve_split

    table = Table("split", "samples", "manifest")
    for spec in available_splits():
        _, path = resolve_split(spec)
        lines = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        table.add_row(spec, str(lines), str(path))
    console.print(table)
