"""Build full splits from local copies of the paper's evaluation datasets: COCO, Pascal VOC and BIG.

All builders share one deterministic selection (:func:`select`): images in a seeded random order, at most one
object per image, chosen among the non-crowd objects whose area fraction lies in ``[min_area, max_area]``
and whose category occurs once in the image (so "the cat" names one thing); styles assigned round-robin.
Selected images are hard-linked (or copied) into the split directory, masks written as PNG, and the manifest
written with every file's sha256. Expected layouts:

- ``coco``: ``ROOT/annotations/instances_<subset>.json`` and ``ROOT/<subset>/<file_name>`` (subset
  ``val2017`` by default). Masks are decoded by the reference COCO API (``pycocotools``), exactly as
  ``COCO.annToMask``: polygons (a pixel is inside when its centre is, so the square ``[0,0, 4,0, 4,4, 0,4]``
  covers 16 pixels), uncompressed and compressed RLE. Two guards come first: polygon parts with fewer than
  3 points or an odd number of coordinates are dropped (as detectron2 does; the COCO API would misread a
  4-number part as a box), and an RLE whose ``size`` is not the image's or whose runs do not sum to
  ``height * width`` is refused naming the annotation (pycocotools would fill the rest of the mask from
  uninitialised memory).
- ``voc``: ``ROOT`` is ``VOCdevkit/VOC2012``: ``JPEGImages/<id>.jpg``, ``SegmentationObject/<id>.png``,
  ``SegmentationClass/<id>.png``, ``ImageSets/Segmentation/<subset>.txt`` (subset ``val``). The label PNGs
  must hold palette indices (as shipped); the 255 "void" band (object outlines, unsure pixels) belongs to
  no object: it is excluded from every mask and from the object areas the area filter sees (areas are
  object pixels over all pixels of the image).
- ``big`` (CascadePSP's BIG): ``ROOT/<subset>/<name>_im.jpg`` (or ``.png``) with ``<name>_gt.png``
  (subset ``test``; ``ROOT`` itself when it holds the files); the object is the VOC class named in
  ``<name>``, else ``object``. The ground truth is binarised as CascadePSP's evaluation does
  (``eval_post.py``: ``gt > 128`` on the 8-bit grey value), so 128 itself is background.

Dataset annotations are drawn on the photo's stored pixels, so masks are rasterised in that frame, checked
against the photo's stored size, and then turned by the photo's EXIF orientation (:func:`rses.pixels.orient`)
into the frame every rses loader decodes the photo in.
"""

from __future__ import annotations

import logging
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rses import pixels
from rses.data.manifest import STYLES, sample_record, write_manifest
from rses.errors import InvalidSampleError, UsageError
from rses.io import link_or_copy, save_mask

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
    """One object that may be picked: its image, noun, area fraction, and a callable making its mask
    (``(H, W)`` bool on the image's stored pixels, before EXIF orientation).
    """

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
        if cand.image_id in ("", ".", "..") or any(c in cand.image_id for c in "/\\"):
            raise UsageError(
                f"The image id {cand.image_id!r} of {cand.image_path} must be a plain name (no / or \\, "
                "not . or ..): it names files under --out. Fix the dataset's annotation or image set."
            )
        image = out_dir / "images" / f"{cand.image_id}{cand.image_path.suffix.lower()}"
        object_mask = displayed_mask(cand)  # first: it names a missing photo in one line
        link_or_copy(cand.image_path, image)
        mask = out_dir / "masks" / f"{cand.image_id}.png"
        save_mask(mask, object_mask)
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


def displayed_mask(cand: Candidate) -> np.ndarray:
    """The candidate's mask in the frame the photo is decoded in (its EXIF orientation applied).

    Raises:
        UsageError: the mask does not have the photo's stored size, or it is empty or full.
    """
    try:
        (height, width), turn = pixels.stored_frame(cand.image_path)
    except InvalidSampleError as err:
        raise UsageError(f"{err} Check --root.") from None
    mask = cand.make_mask()
    if mask.shape != (height, width):
        raise UsageError(
            f"Image {cand.image_path} stores {height}x{width} pixels (H x W) but the annotation of its "
            f"{cand.object_name!r} is {mask.shape[0]}x{mask.shape[1]}; the annotation file does not match the "
            "images: check --root and --subset."
        )
    if not mask.any() or mask.all():
        raise UsageError(
            f"The annotation of {cand.object_name!r} in {cand.image_path} decodes to an "
            f"{'empty' if not mask.any() else 'full'} mask; fix or remove that annotation."
        )
    return pixels.orient(mask, turn)


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        raise UsageError(
            f"{what} not found at {path}; check --root and --subset (see `rses data build --help`)."
        )
    return path


# COCO -------------------------------------------------------------------------------------------------------


def coco_rle_decode(rle: dict, where: str = "COCO RLE") -> np.ndarray:
    """Decode a COCO RLE (``counts`` a list, or COCO's compressed string) to an ``(h, w)`` bool mask with
    the COCO API, after checking that its runs cover exactly ``h * w`` pixels.

    Raises:
        UsageError: malformed size or counts, or runs not summing to ``h * w``; the message starts with
            ``where``.

    Example:
        >>> coco_rle_decode({"size": [2, 3], "counts": [1, 2, 3]}).astype(int).tolist()
        [[0, 1, 0], [1, 0, 0]]
    """
    from pycocotools import mask as mask_utils

    size, counts = rle.get("size"), rle.get("counts")
    if not (
        isinstance(size, list | tuple) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)
    ):
        raise UsageError(f"{where}: RLE size {size!r} is not [height, width].")
    h, w = size
    if isinstance(counts, list):
        runs = counts
    elif isinstance(counts, str | bytes):
        text = counts.decode("ascii", "replace") if isinstance(counts, bytes) else counts
        runs = _compressed_counts(text)
    else:
        raise UsageError(f"{where}: RLE counts must be a list of run lengths or a compressed string.")
    if not _runs_ok(runs):
        raise UsageError(
            f"{where}: its RLE runs are not all whole numbers >= 0; fix or remove that annotation."
        )
    if sum(runs) != h * w:
        raise UsageError(
            f"{where}: its RLE runs sum to {sum(runs)}, not {h * w} = {h} x {w}: the COCO API would fill the "
            "rest of the mask from uninitialised memory (a different mask on every run). Fix or remove that "
            "annotation."
        )
    if isinstance(counts, list):  # checked first: the COCO API trusts the runs
        return _decode_rle(mask_utils.frPyObjects({"size": [h, w], "counts": counts}, h, w))
    return _decode_rle({"size": [h, w], "counts": text.encode("ascii")})


def _decode_rle(rle: dict) -> np.ndarray:
    from pycocotools import mask as mask_utils

    with warnings.catch_warnings():  # pycocotools 2.0.x on numpy 2: a harmless __array__ copy warning
        warnings.simplefilter("ignore", DeprecationWarning)
        return mask_utils.decode(rle).astype(bool)


def _runs_ok(runs: list) -> bool:
    return all(isinstance(r, int) and not isinstance(r, bool) and r >= 0 for r in runs)


def _compressed_counts(s: str) -> list[int]:
    """The run lengths of COCO's compressed counts (5-bit groups with a continuation bit, deltas from two runs
    back), only to check their sum before the COCO API decodes them.
    """
    counts: list[int] = []
    pos = 0
    while pos < len(s):
        value, shift, more = 0, 0, True
        while more and pos < len(s):
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


_POLYGON_REACH = 10  # polygon coordinates may lie this many image sizes from the origin


def coco_mask(
    segmentation: list | dict, height: int, width: int, where: str = "COCO annotation"
) -> np.ndarray:
    """Rasterise a COCO segmentation to an ``(height, width)`` bool mask as ``COCO.annToMask`` does.

    Polygon parts with fewer than 3 points or an odd number of coordinates are dropped first; an RLE must
    have the image's size and runs summing to ``height * width``.

    Raises:
        UsageError: no valid polygon part, or a malformed RLE; the message starts with ``where``.

    Example:
        >>> int(coco_mask([[0, 0, 4, 0, 4, 4, 0, 4]], 6, 6).sum())  # pixel centres inside the square
        16
    """
    from pycocotools import mask as mask_utils

    if isinstance(segmentation, dict):
        if list(segmentation.get("size") or []) != [height, width]:
            raise UsageError(
                f"{where}: RLE size {segmentation.get('size')!r} is not the image's "
                f"[{height}, {width}] (height, width)."
            )
        return coco_rle_decode(segmentation, where)
    parts = [p for p in segmentation if isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0]
    reach = _POLYGON_REACH * max(height, width)
    for (
        part
    ) in parts:  # the COCO API segfaults on non-numbers and allocates per unit of edge length (NaN: OOM)
        if not all(type(v) in (int, float) and -reach <= v <= reach for v in part):
            raise UsageError(
                f"{where}: polygon coordinates must be finite numbers within {reach} px of the "
                f"image's {width}x{height}; got {part}. Fix or remove that annotation."
            )
    if not parts:
        raise UsageError(f"{where}: no polygon with 3 points or more; fix or remove that annotation.")
    return _decode_rle(mask_utils.merge(mask_utils.frPyObjects(parts, height, width)))


def coco_candidates(root: Path, subset: str = "val2017") -> dict[str, list[Candidate]]:
    """Candidates from ``annotations/instances_<subset>.json``; crowd annotations are never candidates."""
    import json

    ann_file = _require(Path(root) / "annotations" / f"instances_{subset}.json", "COCO annotations")
    try:
        data = json.loads(ann_file.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UsageError(f"COCO annotations {ann_file} is not valid JSON ({err}); check --root.") from None
    try:
        names = {c["id"]: c["name"] for c in data["categories"]}
        images = {img["id"]: img for img in data["images"]}
        annotations = list(data["annotations"])
    except (KeyError, TypeError) as err:
        raise UsageError(
            f"COCO annotations {ann_file}: no categories/images/annotations lists with id, name "
            f"({type(err).__name__}: {err}); is it an instances_*.json file?"
        ) from None
    out: dict[str, list[Candidate]] = {}
    for ann in annotations:
        if ann.get("iscrowd", 0):
            continue
        try:
            img = images[ann["image_id"]]
            h, w, area, name = (
                int(img["height"]),
                int(img["width"]),
                float(ann["area"]),
                names[ann["category_id"]],
            )
            area /= h * w
            if (
                h * w > pixels.MAX_PIXELS
            ):  # masks are decoded at this size before the photo's size is compared
                raise ValueError(f"{w}x{h} is over the limit of {pixels.MAX_PIXELS} pixels (RSES_MAX_PIXELS)")
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as err:
            raise UsageError(
                f"COCO annotations {ann_file}: annotation {ann.get('id')} (image_id {ann.get('image_id')}, "
                f"category_id {ann.get('category_id')}) cannot be read: {type(err).__name__} {err} (an unknown "
                "image or category, or a missing, zero or huge area, height or width); fix or remove it."
            ) from None
        where = f"COCO annotation {ann.get('id')} of image {img['id']} ({img['file_name']})"
        out.setdefault(str(img["id"]), []).append(
            Candidate(
                image_id=str(img["id"]),
                image_path=Path(root) / subset / img["file_name"],
                object_name=name,
                area=area,
                make_mask=lambda seg=ann["segmentation"], h=h, w=w, where=where: coco_mask(seg, h, w, where),
            )
        )
    return out


# Pascal VOC -------------------------------------------------------------------------------------------------


def voc_candidates(root: Path, subset: str = "val") -> dict[str, list[Candidate]]:
    """Candidates from ``SegmentationObject`` instances; class = majority ``SegmentationClass`` label.

    Index 255 ("void") is never an object pixel: masks and areas (object pixels / image pixels) exclude it.
    """
    root = Path(root)
    ids = _require(root / "ImageSets" / "Segmentation" / f"{subset}.txt", "VOC image set").read_text().split()
    out: dict[str, list[Candidate]] = {}
    for image_id in ids:
        objects = _labels(_require(root / "SegmentationObject" / f"{image_id}.png", "VOC mask"))
        classes = _labels(root / "SegmentationClass" / f"{image_id}.png")
        if objects.shape != classes.shape:
            raise UsageError(
                f"VOC {image_id}: SegmentationObject is {objects.shape} but SegmentationClass is "
                f"{classes.shape} (H, W); they must label the same image."
            )
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


def _labels(path: Path) -> np.ndarray:
    try:
        return pixels.load_labels(path, "VOC label file")
    except InvalidSampleError as err:
        raise UsageError(str(err)) from None


# BIG --------------------------------------------------------------------------------------------------------


def big_candidates(root: Path, subset: str = "test") -> dict[str, list[Candidate]]:
    """Candidates from BIG's ``<name>_im.(jpg|png)`` / ``<name>_gt.png`` pairs; the object is ``gt > 128``
    on the 8-bit grey scale, as CascadePSP's evaluation (128 is background).
    """
    folder = Path(root) / subset if (Path(root) / subset).is_dir() else _require(Path(root), "BIG folder")
    out: dict[str, list[Candidate]] = {}
    for gt_path in sorted(folder.glob("*_gt.png")):
        stem = gt_path.name[: -len("_gt.png")]
        images = [p for p in (folder / f"{stem}_im.jpg", folder / f"{stem}_im.png") if p.exists()]
        if not images:
            continue
        mask = big_object_mask(gt_path)
        out[stem] = [Candidate(stem, images[0], _big_object(stem), float(mask.mean()), lambda m=mask: m)]
    return out


def big_object_mask(gt_path: Path) -> np.ndarray:
    """BIG ground truth -> object: grey value above 128 of 255 (``> 128 * 257`` for a 16-bit file), stored
    frame (the builders orient it with the photo).
    """
    try:
        values = pixels.mask_values(gt_path, stored=True)
    except InvalidSampleError as err:
        raise UsageError(str(err)) from None
    if values.dtype.kind == "f":
        return values * 255 > 128
    return values.astype(np.int64) * 255 > 128 * {np.uint8: 255, np.uint16: 65535}[values.dtype.type]


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
