"""`rses data`: build splits from local dataset copies, regenerate the built-in split, list splits, and build
RegionRoute's pseudo ground truth (`rses data pseudo-gt`).

Examples::

    rses data build coco --root ~/datasets/coco --limit 500        # registers coco/test
    rses data build voc --root ~/datasets/VOCdevkit/VOC2012 --seed 1
    rses data make-builtin --overlays /tmp/overlays                # then look at the overlays
    rses data manifest ~/photos --styles pixel-art,line-art   # images/ + masks/ -> ~/photos/split.jsonl
    rses data ls
    rses data pseudo-gt --out pgt --blend alpha
"""

from __future__ import annotations

import os
from enum import Enum
from pathlib import Path

import typer
from rich.table import Table

from rses.cli.app import app, console
from rses.errors import UsageError

data_app = typer.Typer(
    help="Build, regenerate and list benchmark splits; build RegionRoute's pseudo ground truth.\n\n"
    "Example: rses data ls",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")


class Dataset(str, Enum):
    """The datasets ``rses data`` can build."""

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
    """Build a split (one object per image, styles round-robin) from a local COCO, VOC or BIG copy.

    Example: rses data build coco --root ~/datasets/coco --limit 500
    """
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
    """Regenerate the built-in test/train split from skimage.data photos (deterministic).

    Example: rses data make-builtin --out /tmp/builtin --overlays /tmp/overlays
    """
    from rses.data.builtin import make_builtin
    from rses.data.manifest import BUILTIN_DIR, read_manifest

    for split_name, manifest in make_builtin(out or BUILTIN_DIR, overlays).items():
        split = read_manifest(manifest, name=split_name)
        console.print(f"{split_name}: {len(split)} samples, manifest sha256 {split.manifest_sha256[:12]}")


@data_app.command("ls")
def list_splits() -> None:
    """List the built-in and registered splits with their sample counts.

    Example: rses data ls
    """
    from rses.data.manifest import available_splits, resolve_split

    table = Table("split", "samples", "manifest")
    for spec in available_splits():
        _, path = resolve_split(spec)
        lines = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        table.add_row(spec, str(lines), str(path))
    console.print(table)


@data_app.command("manifest")
def manifest_command(
    folder: Path = typer.Argument(..., help="Folder with images/ and masks/ (and optional targets/)."),
    styles: str = typer.Option(
        "all", "--styles", help="Comma-separated styles, or all; each mask gives one sample per style."
    ),
    object_name: str = typer.Option(
        "object", "--object", help="Object name for masks named like their image (masks/<image>.png)."
    ),
    name: str = typer.Option("split", "--name", help="Manifest name: FOLDER/<name>.jsonl."),
) -> None:
    """Write a split manifest, with every file's sha256, from a folder of images and masks.

    Layout: images/<image>.png; masks/<image>.png or masks/<image>-<object>.png; optional
    targets/<image>-<object>-<style>.png. Then: rses eval --method paste-style --split FOLDER/split.jsonl

    Example: rses data manifest ~/photos --styles pixel-art,line-art
    """
    from rses.data.folder import folder_records
    from rses.data.manifest import STYLES, read_manifest, write_manifest

    names = list(STYLES) if styles == "all" else [s.strip() for s in styles.split(",") if s.strip()]
    if not names:
        raise UsageError("--styles names no style.")
    records, skipped = folder_records(folder, names, object_name)
    path = folder / f"{name}.jsonl"
    draft = write_manifest(
        folder / f".{name}.jsonl.draft", records
    )  # replaces `path` only once it checks out
    try:
        split = read_manifest(draft, name=name)  # check it loads: hashes, sizes, binary masks
    except BaseException:
        draft.unlink(missing_ok=True)
        raise
    draft.replace(path)
    for image in skipped:
        console.print(f"[yellow]skipped {image}: no mask in {folder / 'masks'}[/yellow]", soft_wrap=True)
    console.print(
        f"Wrote {len(split)} samples to {path} (sha256 {split.manifest_sha256[:12]})", soft_wrap=True
    )


@data_app.command("pseudo-gt")
def pseudo_gt(
    split: str = typer.Option("train", "--split", help="Split whose (source, mask, prompt) get targets."),
    out: Path = typer.Option(..., "--out", help="Output dir for targets/ and pseudo_gt.jsonl."),
    stylizer: str = typer.Option("classical", "--stylizer", help="classical or kontext."),
    blend: str = typer.Option("seamless", "--blend", help="seamless (Poisson) or alpha (hard paste)."),
    device: str = typer.Option("cpu", "--device"),
    smoke: bool = typer.Option(False, "--smoke", help="With --stylizer kontext: tiny random pipeline."),
    allow_pickle: bool = typer.Option(
        False, "--allow-pickle", help="Allow pickle checkpoints (they can run code); or RSES_ALLOW_PICKLE=1."
    ),
) -> None:
    """Build a (source, target, mask, prompt) training set for RegionRoute from a split.

    Example: rses data pseudo-gt --out pgt --blend alpha
    """
    if allow_pickle:
        os.environ["RSES_ALLOW_PICKLE"] = "1"  # what every weight lookup reads, for this command's process
    from regionroute.pseudo_gt import build_pseudo_gt

    manifest = build_pseudo_gt(split, out, stylizer, blend, device, smoke)
    console.print(f"wrote {manifest}")
