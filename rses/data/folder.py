"""Manifest records from a plain folder of images and masks, so nobody writes a manifest (or a sha256) by hand.

Layout (paths relative to the folder, which becomes the split root)::

    images/<image>.png                  the photos
    masks/<image>.png                   one object of <image> (object name: ``default_object``), or
    masks/<image>-<object>.png          one mask per object (dashes in <object> read as spaces)
    targets/<image>-<object>-<style>.png   optional pseudo-GT images, by sample id

Each mask gives one sample per style, with id ``<mask stem>-<style>`` (the built-in split's scheme).

Example:
    >>> import tempfile, pathlib, numpy as np
    >>> from rses.io import save_image, save_mask
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> save_image(root / "images" / "cat.png", np.zeros((8, 8, 3), np.uint8))
    >>> m = np.zeros((8, 8), bool); m[:4] = True; save_mask(root / "masks" / "cat-ear.png", m)
    >>> records, skipped = folder_records(root, ["pixel-art"])
    >>> [(r["id"], r["object"]) for r in records], skipped
    ([('cat-ear-pixel-art', 'ear')], [])
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rses.data.manifest import sample_record
from rses.errors import UsageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def _files(folder: Path) -> dict[str, Path]:
    """Image files of ``folder`` by stem; hidden files (``.x``, macOS ``._x``) are not samples.

    Raises:
        UsageError: two files with one stem (``cat.png`` and ``cat.jpg``), naming both.
    """
    if not folder.is_dir():
        return {}
    files: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or not p.is_file() or p.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if p.stem in files:
            raise UsageError(
                f"{files[p.stem]} and {p} have one name; keep one of them (a sample id is the stem)."
            )
        files[p.stem] = p
    return files


def folder_records(
    root: Path, styles: Sequence[str], default_object: str = "object"
) -> tuple[list[dict[str, Any]], list[Path]]:
    """Manifest records for every (mask, style) of ``root``, and the images that have no mask.

    Raises:
        UsageError: no ``images/`` or ``masks/`` files, or a mask whose image is missing.
    """
    root = Path(root)
    images, masks = _files(root / "images"), _files(root / "masks")
    if not images or not masks:
        raise UsageError(
            f"{root} needs images/<image>.png and masks/<image>.png or masks/<image>-<object>.png "
            f"(found {len(images)} image(s), {len(masks)} mask(s))."
        )
    targets = _files(root / "targets")
    records, used = [], set()
    for stem, mask in masks.items():
        image = (
            stem
            if stem in images
            else next((i for i in sorted(images, key=len, reverse=True) if stem.startswith(f"{i}-")), None)
        )
        if image is None:
            raise UsageError(
                f"Mask {mask} has no image: name it masks/<image>.png or masks/<image>-<object>.png after a "
                f"file in {root / 'images'}/."
            )
        used.add(image)
        obj = stem[len(image) + 1 :].replace("-", " ") or default_object
        for style in styles:
            sample_id = f"{stem}-{style}"
            records.append(
                sample_record(
                    root, sample_id, images[image], mask, obj, style, targets.get(sample_id), image_id=image
                )
            )
    return records, [p for stem, p in images.items() if stem not in used]
