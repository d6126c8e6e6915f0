"""Build full splits from local copies of the paper's evaluation datasets: COCO, Pascal VOC and BIG.

All builders share one deterministic selection (:func:`select`): images in a seeded random order, at most one
object per image, chosen among the non-crowd objects whose area fraction lies in ``[min_area, max_area]``
and whose category occurs once in the image (so "the cat" names one thing); styles assigned round-robin.
Selected images are hard-linked (or copied) into the split directory, masks written as PNG, and the manifest
written with every file's sha256. Expected layouts:

- ``coco``: ``ROOT/annotations/instances_<subset>.json`` and ``ROOT/<subset>/<file_name>`` (subset
  ``val2017`` by default); polygon and RLE segmentations are decoded here (no pycocotools needed).
- ``voc``: ``ROOT`` is ``VOCdevkit/VOC2012``: ``JPEGImages/<id>.jpg``, ``SegmentationObject/<id>.png``,
  ``SegmentationClass/<id>.png``, ``ImageSets/Segmentation/<subset>.txt`` (subset ``val``).
- ``big`` (CascadePSP's BIG): ``ROOT/<subset>/<name>_im.jpg`` (or ``.png``) with ``<name>_gt.png``
  (subset ``test``; ``ROOT`` itself when it holds the files); the object is the VOC class named in
  ``<name>``, else ``object``.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from rses.data.manifest import STYLES, sample_record, write_manifest
from rses.errors import UsageError
from rses.io import save_mask

logger = logging.getLogger(__name__)

VOC_CLASSES = (
    "background",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "dining table",
    "dog",
    "horse",
    "motorbike",
    "person",
    "potted plant",
    "sheep",
    "sofa",
    "train",
    "tv monitor",
)


@dataclass(frozen=True)
class Candidate:
    """One object that may be picked: its image, noun, area fraction, and a callable making its mask."""

    image_id: str
    image_path: Path
    object_name: str
    area: float
    make_mask: Callable[[], np.ndarray]


def select(
    candidates: dict[str, list[Candidate]], seed: int, min_area: float, max_area: float, limit: int | None
) -> list[Candidate]:
    """Seeded choice of at most one candidate per image (area in range, category unique in its image)."""
    rng = np.random.default_rng(seed)
    image_ids = sorted(candidates)
    picked: list[Candidate] = []
    for index in rng.permutation(len(image_ids)):
        objects = candidates[image_ids[index]]
        counts = Counter(c.object_name for c in objects)
        eligible = [c for c in objects if counts[c.object_name] == 1 and min_area <= c.area <= max_area]
        if eligible:
            picked.append(eligible[int(rng.integers(len(eligible)))])
        if limit is not None and len(picked) >= limit:
            break
    return picked


def write_split(picked: Sequence[Candidate], out_dir: Path, name: str) -> Path:
    """Link/copy images, write masks and the manifest ``<out_dir>/<name>.jsonl``; styles round-robin."""
    out_dir = Path(out_dir)
    records = []
    for i, cand in enumerate(picked):
        image = out_dir / "images" / f"{cand.image_id}{cand.image_path.suffix.lower()}"
        _link_or_copy(cand.image_path, image)
        mask = out_dir / "masks" / f"{cand.image_id}.png"
        save_mask(mask, cand.make_mask())
        style = STYLES[i % len(STYLES)]
        records.append(
            sample_record(
                out_dir,
                f"{cand.image_id}-{style}",
                image,
                mask,
                cand.object_name,
                style,
                image_id=cand.image_id,
            )
        )
    if not records:
        raise UsageError("No object matched the selection; widen --min-area/--max-area or check --root.")
    return write_manifest(out_dir / f"{name}.jsonl", records)


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise UsageError(
            f"{what} not found at {path}; check --root and --subset (see `rses data build --help`)."
        )
    return path


# COCO -------------------------------------------------------------------------------------------------------


def coco_rle_decode(rle: dict) -> np.ndarray:
    """Decode a COCO RLE (``counts`` as a list, or as COCO's compressed string) to an ``(h, w)`` bool mask.

    Example:
        >>> coco_rle_decode({"size": [2, 3], "counts": [1, 2, 3]}).astype(int).tolist()
        [[0, 1, 0], [1, 0, 0]]
    """
    h, w = rle["size"]
    counts = rle["counts"]
    if isinstance(counts, str):
        counts = _coco_counts_from_string(counts)
    values = np.zeros(len(counts), bool)
    values[1::2] = True
    flat = np.repeat(values, counts)
    return np.pad(flat, (0, h * w - flat.size)).reshape(w, h).T  # column-major


def _coco_counts_from_string(s: str) -> list[int]:
    """COCO's compressed counts: 5-bit groups with a continuation bit, deltas from two runs back."""
    counts: list[int] = []
    pos = 0
    while pos < len(s):
        value, shift, more = 0, 0, True
        while more:
            c = ord(s[pos]) - 48
            value |= (c & 0x1F) << (5 * shift)
            more = bool(c & 0x20)
            pos += 1
            shift += 1
            if not more and c & 0x10:
                value |= -1 << (5 * shift)
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def coco_mask(segmentation: list | dict, height: int, width: int) -> np.ndarray:
    """Rasterize a COCO segmentation (polygons or RLE) to an ``(height, width)`` bool mask."""
    if isinstance(segmentation, dict):
        return coco_rle_decode(segmentation)
    canvas = np.zeros((height, width), np.uint8)
    polygons = [np.round(np.asarray(p, np.float64).reshape(-1, 2)).astype(np.int32) for p in segmentation]
    cv2.fillPoly(canvas, polygons, 1)
    return canvas.astype(bool)


def coco_candidates(root: Path, subset: str = "val2017") -> dict[str, list[Candidate]]:
    """Candidates from ``annotations/instances_<subset>.json``; crowd annotations are never candidates."""
    import json

    ann_file = _require(Path(root) / "annotations" / f"instances_{subset}.json", "COCO annotations")
    data = json.loads(ann_file.read_text())
    names = {c["id"]: c["name"] for c in data["categories"]}
    images = {img["id"]: img for img in data["images"]}
    out: dict[str, list[Candidate]] = {}
    for ann in data["annotations"]:
        if ann.get("iscrowd", 0):
            continue
        img = images[ann["image_id"]]
        h, w = img["height"], img["width"]
        out.setdefault(str(img["id"]), []).append(
            Candidate(
                image_id=str(img["id"]),
                image_path=Path(root) / subset / img["file_name"],
                object_name=names[ann["category_id"]],
                area=float(ann["area"]) / (h * w),
                make_mask=lambda seg=ann["segmentation"], h=h, w=w: coco_mask(seg, h, w),
            )
        )
    return out


# Pascal VOC -------------------------------------------------------------------------------------------------


def voc_candidates(root: Path, subset: str = "val") -> dict[str, list[Candidate]]:
    """Candidates from ``SegmentationObject`` instances; class = majority ``SegmentationClass`` label."""
    root = Path(root)
    ids = _require(root / "ImageSets" / "Segmentation" / f"{subset}.txt", "VOC image set").read_text().split()
    out: dict[str, list[Candidate]] = {}
    for image_id in ids:
        objects = np.asarray(
            Image.open(_require(root / "SegmentationObject" / f"{image_id}.png", "VOC mask"))
        )
        classes = np.asarray(Image.open(root / "SegmentationClass" / f"{image_id}.png"))
        for instance in (int(v) for v in np.unique(objects) if v not in (0, 255)):
            inside = objects == instance
            label = int(np.bincount(classes[inside]).argmax())
            if not 0 < label < len(VOC_CLASSES):
                continue
            out.setdefault(image_id, []).append(
                Candidate(
                    image_id,
                    root / "JPEGImages" / f"{image_id}.jpg",
                    VOC_CLASSES[label],
                    float(inside.mean()),
                    lambda m=inside: m,
                )
            )
    return out


# BIG --------------------------------------------------------------------------------------------------------


def big_candidates(root: Path, subset: str = "test") -> dict[str, list[Candidate]]:
    """Candidates from BIG's ``<name>_im.(jpg|png)`` / ``<name>_gt.png`` pairs (gt thresholded at 128)."""
    folder = Path(root) / subset if (Path(root) / subset).is_dir() else _require(Path(root), "BIG folder")
    out: dict[str, list[Candidate]] = {}
    for gt_path in sorted(folder.glob("*_gt.png")):
        stem = gt_path.name[: -len("_gt.png")]
        images = [p for p in (folder / f"{stem}_im.jpg", folder / f"{stem}_im.png") if p.exists()]
        if not images:
            continue
        mask = np.asarray(Image.open(gt_path).convert("L")) >= 128
        out[stem] = [Candidate(stem, images[0], _big_object(stem), float(mask.mean()), lambda m=mask: m)]
    return out


def _big_object(stem: str) -> str:
    tokens = stem.lower().replace("-", "_").split("_")
    return next((c for c in VOC_CLASSES[1:] if c.replace(" ", "") in tokens), "object")


BUILDERS: dict[str, tuple[Callable[..., dict[str, list[Candidate]]], str]] = {
    "coco": (coco_candidates, "val2017"),
    "voc": (voc_candidates, "val"),
    "big": (big_candidates, "test"),
}
"""Dataset name -> (candidate reader, default subset)."""


def build_split(
    dataset: str,
    root: Path,
    out_dir: Path,
    name: str = "test",
    subset: str | None = None,
    seed: int = 0,
    min_area: float = 0.05,
    max_area: float = 0.6,
    limit: int | None = None,
) -> Path:
    """Build ``<out_dir>/<name>.jsonl`` from a local dataset copy; returns the manifest path.

    Raises:
        UsageError: unknown dataset, missing files under ``root``, bad area range, or nothing selected.
    """
    if dataset not in BUILDERS:
        raise UsageError(f"Unknown dataset {dataset!r}; builders exist for {', '.join(BUILDERS)}.")
    if not 0.0 <= min_area < max_area <= 1.0:
        raise UsageError(f"Need 0 <= --min-area < --max-area <= 1, got {min_area} and {max_area}.")
    reader, default_subset = BUILDERS[dataset]
    picked = select(reader(Path(root), subset or default_subset), seed, min_area, max_area, limit)
    logger.info("%s: selected %d objects", dataset, len(picked))
    return write_split(picked, Path(out_dir), name)


__all__: Iterable[str] = ["BUILDERS", "Candidate", "build_split", "coco_mask", "coco_rle_decode", "select"]
