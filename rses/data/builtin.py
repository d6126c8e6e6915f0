"""The generator of the built-in split shipped under ``rses/data/builtin/`` (``rses data make-builtin``).

Real photos bundled with scikit-image, resized to :data:`LONG_SIDE` pixels on the long side; one mask per
object from OpenCV GrabCut initialised with a hand-chosen box (plus a few hand-chosen sure-foreground /
sure-background rectangles where the box alone failed), each checked by eye on an overlay; times the four
styles. Targets are the pseudo-GT recipe of :func:`baselines.reference.clone_style` (classical stylizer, then
seamless cloning into the mask). ``test`` and ``train`` are disjoint by photo.

Everything is deterministic (GrabCut's RNG is seeded), so :func:`make_builtin` reproduces the shipped
files; ``--overlays DIR`` renders the mask overlays to check by eye after changing a box.

Example:
    >>> [p.photo for p in PHOTOS if p.split == "train"]
    ['chelsea', 'rocket']
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from skimage import measure, morphology

from rses.data.manifest import BUILTIN_DIR, STYLES, sample_record, write_manifest
from rses.io import save_image, save_mask

logger = logging.getLogger(__name__)

LONG_SIDE = 256
GRABCUT_ITERS = 8
Rect = tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive) in the resized photo


@dataclass(frozen=True)
class ObjectSpec:
    """One object to mask: its noun, GrabCut box, hint rectangles, and masks of other objects to subtract."""

    name: str
    box: Rect
    fg: tuple[Rect, ...] = ()
    bg: tuple[Rect, ...] = ()
    minus: tuple[str, ...] = ()

    @property
    def slug(self) -> str:
        return self.name.replace(" ", "-")


@dataclass(frozen=True)
class PhotoSpec:
    """One ``skimage.data`` photo: its split, its credit as scikit-image documents it, its objects."""

    photo: str
    split: str
    credit: str
    objects: tuple[ObjectSpec, ...] = field(default_factory=tuple)


PHOTOS: tuple[PhotoSpec, ...] = (
    PhotoSpec(
        "astronaut",
        "test",
        "Eileen Collins, NASA Great Images database (https://flic.kr/p/r9qvLn). "
        "No known copyright restrictions, released into the public domain.",
        (
            ObjectSpec("astronaut", (8, 6, 184, 256), fg=((95, 85, 125, 125), (60, 150, 120, 200))),
            ObjectSpec("helmet", (137, 170, 256, 256)),
            ObjectSpec("flag", (0, 0, 50, 256)),
            ObjectSpec(
                "space shuttle",
                (176, 0, 237, 146),
                fg=((193, 50, 203, 110), (202, 5, 210, 40), (219, 25, 223, 100)),
                bg=((176, 0, 190, 20), (225, 0, 237, 15)),
            ),
        ),
    ),
    PhotoSpec(
        "coffee",
        "test",
        "Rachel Michetti. No copyright restrictions. CC0 by the photographer (Rachel Michetti).",
        (
            ObjectSpec("cup", (72, 6, 176, 128), fg=((95, 85, 150, 105), (88, 100, 100, 118))),
            ObjectSpec(
                "spoon",
                (138, 27, 182, 140),
                fg=((150, 110, 165, 125), (172, 33, 176, 55), (166, 70, 170, 90)),
            ),
            ObjectSpec("saucer", (31, 29, 206, 167), minus=("cup", "spoon")),
        ),
    ),
    PhotoSpec(
        "stereo_motorcycle",
        "test",
        "Left view of the Middlebury 2014 'Motorcycle' stereo pair (Scharstein, Hirschmueller, Kitajima, "
        "Krathwohl, Nesic, Wang, Westling, GCPR 2014; http://vision.middlebury.edu/stereo/data/scenes2014/), "
        "down-sampled by scikit-image; scikit-image's docstring states no licence, cite the paper.",
        (
            ObjectSpec(
                "motorcycle",
                (30, 24, 239, 156),
                fg=(
                    (60, 140, 78, 146),
                    (198, 148, 215, 153),
                    (42, 105, 48, 125),
                    (232, 115, 236, 135),
                    (120, 70, 150, 80),
                    (70, 62, 105, 72),
                ),
                bg=(
                    (205, 24, 239, 58),
                    (120, 24, 160, 40),
                    (185, 64, 208, 92),
                    (100, 146, 185, 156),
                    (215, 60, 239, 100),
                ),
            ),
            ObjectSpec("seat", (50, 53, 125, 90), fg=((70, 62, 105, 72),)),
            ObjectSpec("storage box", (179, 60, 213, 98)),
            ObjectSpec("cardboard box", (180, 8, 206, 36), fg=((186, 15, 200, 30),)),
        ),
    ),
    PhotoSpec(
        "chelsea",
        "train",
        "Stefan van der Walt's cat Chelsea. No copyright restrictions. CC0 by the photographer "
        "(Stefan van der Walt).",
        (ObjectSpec("cat", (0, 0, 218, 170), fg=((60, 40, 170, 150),), bg=((0, 0, 20, 20),)),),
    ),
    PhotoSpec(
        "rocket",
        "train",
        "SpaceX Falcon 9 launch, SpaceX Photos (https://www.flickr.com/photos/spacexphotos/16511594820/), "
        "captured by SpaceX and released in the public domain.",
        (ObjectSpec("rocket", (119, 49, 139, 165)),),
    ),
)


def load_photo(photo: str) -> np.ndarray:
    """The ``skimage.data`` photo resized (area interpolation) to :data:`LONG_SIDE` on its long side."""
    import skimage.data

    image = getattr(skimage.data, photo)()
    image = image[0] if isinstance(image, tuple) else image  # stereo_motorcycle: (left, right, disparity)
    h, w = image.shape[:2]
    scale = LONG_SIDE / max(h, w)
    return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


def grabcut_mask(image: np.ndarray, obj: ObjectSpec) -> np.ndarray:
    """GrabCut from ``obj.box`` and hint rectangles; keeps components >= 10% of the largest, fills holes."""
    init = np.full(image.shape[:2], cv2.GC_BGD, np.uint8)
    x0, y0, x1, y1 = obj.box
    init[y0:y1, x0:x1] = cv2.GC_PR_FGD
    for (a, b, c, d), label in [(r, cv2.GC_FGD) for r in obj.fg] + [(r, cv2.GC_BGD) for r in obj.bg]:
        init[b:d, a:c] = label
    cv2.setRNGSeed(0)
    models = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(
        cv2.cvtColor(image, cv2.COLOR_RGB2BGR), init, None, *models, GRABCUT_ITERS, cv2.GC_INIT_WITH_MASK
    )
    mask = (init == cv2.GC_FGD) | (init == cv2.GC_PR_FGD)
    labels = measure.label(mask)
    if labels.max() > 0:
        areas = np.bincount(labels.ravel())[1:]
        mask = np.isin(labels, np.flatnonzero(areas >= 0.1 * areas.max()) + 1)
    return morphology.remove_small_holes(mask, max_size=40)


def photo_masks(spec: PhotoSpec, image: np.ndarray) -> dict[str, np.ndarray]:
    """Every object's mask of one photo, in spec order (``minus`` subtracts earlier objects' masks)."""
    masks: dict[str, np.ndarray] = {}
    for obj in spec.objects:
        mask = grabcut_mask(image, obj)
        for other in obj.minus:
            mask &= ~masks[other]
        masks[obj.name] = mask
    return masks


def photo_targets(image: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """The pseudo-GT target of one object for each style (the clone-style recipe)."""
    from baselines.reference import clone_style

    return {style: clone_style(image, mask, style) for style in STYLES}


def make_builtin(out_dir: Path = BUILTIN_DIR, overlays: Path | None = None) -> dict[str, Path]:
    """Regenerate the built-in split into ``out_dir``; returns ``{split: manifest path}``.

    Writes ``images/<photo>.png``, ``masks/<photo>-<object>.png``, ``targets/<photo>-<object>-<style>.png``,
    ``test.jsonl``, ``train.jsonl`` and ``PROVENANCE.md``; with ``overlays``, also a mask overlay per object.
    """
    out_dir = Path(out_dir)
    records: dict[str, list[dict]] = {"test": [], "train": []}
    for spec in PHOTOS:
        image = load_photo(spec.photo)
        source = out_dir / "images" / f"{spec.photo}.png"
        save_image(source, image)
        for obj, mask in zip(spec.objects, photo_masks(spec, image).values(), strict=True):
            mask_path = out_dir / "masks" / f"{spec.photo}-{obj.slug}.png"
            save_mask(mask_path, mask)
            if overlays is not None:
                save_image(Path(overlays) / f"{spec.photo}-{obj.slug}.png", overlay(image, mask, obj.box))
            for style, target in photo_targets(image, mask).items():
                sample_id = f"{spec.photo}-{obj.slug}-{style}"
                target_path = out_dir / "targets" / f"{sample_id}.png"
                save_image(target_path, target)
                records[spec.split].append(
                    sample_record(
                        out_dir,
                        sample_id,
                        source,
                        mask_path,
                        obj.name,
                        style,
                        target_path,
                        image_id=spec.photo,
                    )
                )
            logger.info("built %s / %s (mask area %.3f)", spec.photo, obj.name, mask.mean())
    (out_dir / "PROVENANCE.md").write_text(provenance(), encoding="utf-8")
    return {split: write_manifest(out_dir / f"{split}.jsonl", rows) for split, rows in records.items()}


def overlay(image: np.ndarray, mask: np.ndarray, box: Rect) -> np.ndarray:
    """The mask tinted green with its outline in yellow and the GrabCut box in red, for checking by eye."""
    out = image.copy()
    out[mask] = (0.45 * out[mask] + 0.55 * np.array([0, 255, 0])).astype(np.uint8)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, (255, 255, 0), 1)
    cv2.rectangle(out, box[:2], (box[2] - 1, box[3] - 1), (255, 0, 0), 1)
    return out


def provenance() -> str:
    """``PROVENANCE.md``: every photo's origin and credit, every mask's box, hints and method."""
    lines = [
        "# Provenance of the built-in split",
        "",
        "Generated by `rses data make-builtin` (`rses/data/builtin.py`); do not edit by hand.",
        "",
        f"- Photos: `skimage.data.<name>()` (scikit-image), resized with OpenCV INTER_AREA to "
        f"{LONG_SIDE} px on the long side, saved as `images/<name>.png`.",
        f"- Masks: OpenCV GrabCut ({GRABCUT_ITERS} iterations, RNG seed 0) initialised with the box below "
        "(x0, y0, x1, y1 in the resized photo, x1/y1 exclusive) as probable foreground, "
        "the hint rectangles as "
        "sure foreground (fg) / sure background (bg); connected components under 10% of the largest dropped, "
        "holes under 40 px filled, listed other objects subtracted; each checked by eye on an overlay.",
        "- Targets (pseudo-GT): `baselines.reference.clone_style`: the classical stylizer of "
        "`baselines/stylize.py` on the whole photo, then OpenCV seamlessClone (NORMAL_CLONE) into the mask; "
        "outside the mask the target equals the source exactly.",
        "- Styles: " + ", ".join(STYLES) + ". Sample id: `<photo>-<object>-<style>`.",
        "",
    ]
    for split in ("test", "train"):
        lines += [f"## {split}", ""]
        for spec in (p for p in PHOTOS if p.split == split):
            lines += [f"### `skimage.data.{spec.photo}()`", "", spec.credit, ""]
            for obj in spec.objects:
                hints = "".join(
                    f"; {kind} {list(rects)}" for kind, rects in (("fg", obj.fg), ("bg", obj.bg)) if rects
                )
                minus = f"; minus {', '.join(obj.minus)}" if obj.minus else ""
                lines.append(f"- `{obj.name}`: GrabCut box {list(obj.box)}{hints}{minus}")
            lines.append("")
    return "\n".join(lines)
