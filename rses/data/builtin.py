"""The generator of the built-in split shipped under ``rses/data/builtin/`` (``rses data make-builtin``).

Real photos bundled with scikit-image (and one with matplotlib), resized to :data:`LONG_SIDE` pixels on the
long side; one mask per object from OpenCV GrabCut initialised with a hand-chosen box (plus a few hand-chosen
sure-foreground / sure-background rectangles where the box alone failed), each checked by eye on an overlay;
times the four styles. Targets are the pseudo-GT recipe of :func:`baselines.reference.clone_style`
(classical stylizer, then seamless cloning into the mask). ``test`` and ``train`` are disjoint by photo.

Everything is deterministic (GrabCut's RNG is seeded, PNGs are written at a pinned zlib level), so
:func:`make_builtin` reproduces the shipped files byte for byte with the same OpenCV build; ``--overlays DIR``
renders the mask overlays, one per object plus the sheet ``builtin-masks.png`` (``docs/builtin-masks.png``),
to check by eye after changing a box.

Example:
    >>> [p.photo for p in PHOTOS if p.split == "train"]
    ['rocket', 'chelsea']
    >>> sum(len(p.objects) for p in PHOTOS if p.split == "test") * 4  # four styles per object
    152
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import measure, morphology

from rses.data.manifest import BUILTIN_DIR, STYLES, sample_record, write_manifest
from rses.io import save_image
from rses.pixels import load_image

logger = logging.getLogger(__name__)

LONG_SIDE = 512
GRABCUT_ITERS = 8
#: zlib level of every PNG written (OpenCV's encoder, default filters): fixed, so regeneration is byte-identical.
PNG_LEVEL = 9
#: Photos from matplotlib's sample data (``matplotlib.cbook.get_sample_data``); the others are ``skimage.data``.
MATPLOTLIB_PHOTOS = {"grace_hopper": "grace_hopper.jpg"}
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
        """The name in lower case, runs of other characters replaced by ``-``."""
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")


@dataclass(frozen=True)
class PhotoSpec:
    """One bundled photo: its split, its credit as its package documents it, its objects, and the crop of the
    resized photo that ships (``None``: all of it; boxes and hints are in the uncropped resized photo).
    """

    photo: str
    split: str
    credit: str
    objects: tuple[ObjectSpec, ...] = field(default_factory=tuple)
    crop: Rect | None = None

    @property
    def origin(self) -> str:
        """How to get the original: ``skimage.data.<photo>()`` or matplotlib's ``get_sample_data``."""
        if self.photo in MATPLOTLIB_PHOTOS:
            return f"matplotlib.cbook.get_sample_data({MATPLOTLIB_PHOTOS[self.photo]!r})"
        return f"skimage.data.{self.photo}()"


PHOTOS: tuple[PhotoSpec, ...] = (
    PhotoSpec(
        "astronaut",
        "test",
        "Eileen Collins, NASA Great Images database (https://flic.kr/p/r9qvLn). "
        "No known copyright restrictions, released into the public domain.",
        (
            ObjectSpec("astronaut", (16, 12, 368, 512), fg=((190, 170, 250, 250), (120, 300, 240, 400))),
            ObjectSpec("flag", (0, 0, 100, 512)),
            ObjectSpec(
                "space shuttle",
                (352, 0, 474, 292),
                fg=((386, 100, 406, 220), (404, 10, 420, 80), (438, 50, 446, 200)),
                bg=((352, 0, 380, 40), (450, 0, 474, 30)),
            ),
        ),
        crop=(0, 0, 512, 384),
    ),
    PhotoSpec(
        "coffee",
        "test",
        "Rachel Michetti. No copyright restrictions. CC0 by the photographer (Rachel Michetti).",
        (
            ObjectSpec(
                "cup",
                (144, 12, 352, 256),
                fg=((180, 100, 310, 150), (200, 170, 320, 215), (176, 200, 200, 236)),
                bg=((285, 215, 345, 270),),
            ),
            ObjectSpec(
                "spoon",
                (276, 54, 364, 280),
                fg=((300, 220, 330, 250), (344, 66, 352, 110), (332, 140, 340, 180)),
            ),
            ObjectSpec("coffee", (168, 78, 322, 166), fg=((200, 100, 290, 140),)),
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
                (60, 48, 478, 312),
                fg=(
                    (120, 280, 156, 292),
                    (396, 296, 430, 306),
                    (84, 210, 96, 250),
                    (464, 230, 472, 270),
                    (240, 140, 300, 160),
                    (140, 124, 210, 144),
                ),
                bg=(
                    (410, 48, 478, 116),
                    (240, 48, 320, 80),
                    (370, 128, 416, 184),
                    (200, 292, 370, 312),
                    (430, 120, 478, 200),
                ),
            ),
            ObjectSpec("seat", (100, 106, 250, 180), fg=((140, 124, 210, 144),)),
            ObjectSpec("storage box", (358, 120, 426, 196)),
        ),
    ),
    PhotoSpec(
        "camera",
        "test",
        "A photographer with a camera on a tripod (Lav Varshney). No copyright restrictions. "
        "CC0 by the photographer (Lav Varshney).",
        (
            ObjectSpec(
                "man",
                (0, 60, 340, 512),
                fg=((60, 200, 140, 400), (170, 80, 250, 120)),
                bg=((250, 310, 340, 512),),
            ),
            ObjectSpec("camera", (250, 134, 334, 192), fg=((270, 150, 315, 175),)),
            ObjectSpec("tower", (408, 112, 442, 194), fg=((416, 135, 432, 185),)),
            ObjectSpec("coat", (0, 100, 300, 512), fg=((40, 250, 130, 420),), bg=((150, 60, 250, 180),)),
            ObjectSpec(
                "sky",
                (0, 0, 512, 200),
                fg=((0, 0, 150, 60), (330, 0, 512, 100)),
                minus=("man", "camera", "tower"),
            ),
            ObjectSpec(
                "lawn",
                (0, 220, 512, 512),
                fg=((340, 260, 512, 300), (400, 420, 512, 512)),
                minus=("man", "coat"),
            ),
        ),
        crop=(0, 40, 512, 424),
    ),
    PhotoSpec(
        "coins",
        "test",
        "Greek coins, Brooklyn Museum Collection "
        "(https://www.brooklynmuseum.org/opencollection/archives/image/51611). No known copyright restrictions.",
        (
            ObjectSpec("coin at row 1, column 1", (22, 32, 102, 112), fg=((52, 62, 72, 82),)),
            ObjectSpec("coin at row 1, column 2", (102, 34, 178, 110), fg=((130, 62, 150, 82),)),
            ObjectSpec("coin at row 1, column 3", (169, 28, 257, 116), fg=((201, 60, 225, 84),)),
            ObjectSpec("coin at row 1, column 4", (249, 31, 331, 113), fg=((279, 61, 301, 83),)),
            ObjectSpec("coin at row 1, column 6", (396, 20, 500, 124), fg=((434, 58, 462, 86),)),
            ObjectSpec("coin at row 2, column 1", (25, 125, 105, 205), fg=((55, 155, 75, 175),)),
            ObjectSpec("coin at row 2, column 2", (102, 127, 178, 203), fg=((130, 155, 150, 175),)),
            ObjectSpec("coin at row 2, column 4", (244, 127, 320, 203), fg=((272, 155, 292, 175),)),
            ObjectSpec("coin at row 2, column 5", (316, 119, 408, 211), fg=((350, 153, 374, 177),)),
            ObjectSpec("coin at row 3, column 1", (22, 222, 94, 294), fg=((49, 249, 67, 267),)),
            ObjectSpec("coin at row 3, column 2", (100, 218, 180, 298), fg=((130, 248, 150, 268),)),
            ObjectSpec("coin at row 3, column 3", (174, 220, 250, 296), fg=((202, 248, 222, 268),)),
            ObjectSpec("coin at row 3, column 4", (246, 214, 334, 302), fg=((278, 246, 302, 270),)),
            ObjectSpec("coin at row 3, column 6", (405, 205, 511, 311), fg=((443, 243, 473, 273),)),
            ObjectSpec("coin at row 4, column 1", (13, 306, 101, 394), fg=((45, 338, 69, 362),)),
            ObjectSpec("coin at row 4, column 2", (112, 310, 192, 390), fg=((142, 340, 162, 360),)),
            ObjectSpec("coin at row 4, column 3", (184, 302, 280, 398), fg=((219, 337, 245, 363),)),
            ObjectSpec("coin at row 4, column 5", (355, 307, 441, 393), fg=((387, 339, 409, 361),)),
        ),
    ),
    PhotoSpec(
        "clock",
        "test",
        "A wall clock photographed while moving the camera (motion blur). Released into the public domain by "
        "the photographer (Stefan van der Walt).",
        (ObjectSpec("clock", (176, 116, 364, 280)),),
    ),
    PhotoSpec(
        "grace_hopper",
        "test",
        "Commodore Grace M. Hopper, official U.S. Navy photograph (1984; Naval History and Heritage Command). "
        "A work of the U.S. federal government, in the public domain. Shipped with matplotlib as "
        "`sample_data/grace_hopper.jpg`.",
        (
            ObjectSpec("cap", (124, 16, 306, 132), fg=((160, 40, 270, 90),)),
            ObjectSpec("glasses", (146, 138, 306, 198), fg=((160, 150, 200, 160), (250, 150, 290, 160))),
            ObjectSpec("ribbons", (284, 412, 390, 450)),
        ),
        crop=(26, 0, 410, 512),
    ),
    PhotoSpec(
        "retina",
        "test",
        "Fundus photograph of a normal left eye (Mikael Haggstrom, "
        "https://commons.wikimedia.org/wiki/File:Fundus_photograph_of_normal_left_eye.jpg). CC0 1.0.",
        (ObjectSpec("optic disc", (36, 186, 124, 280), fg=((66, 216, 94, 250),)),),
        crop=(0, 64, 512, 448),
    ),
    PhotoSpec(
        "rocket",
        "train",
        "SpaceX Falcon 9 launch, SpaceX Photos (https://www.flickr.com/photos/spacexphotos/16511594820/), "
        "captured by SpaceX and released in the public domain.",
        (ObjectSpec("rocket", (238, 98, 278, 330)),),
    ),
    PhotoSpec(
        "chelsea",
        "train",
        "Stefan van der Walt's cat Chelsea. No copyright restrictions. CC0 by the photographer "
        "(Stefan van der Walt).",
        (
            ObjectSpec(
                "cat", (0, 0, 436, 341), fg=((120, 80, 340, 300),), bg=((0, 0, 40, 40), (470, 0, 512, 341))
            ),
        ),
    ),
)


def read_photo(photo: str) -> np.ndarray:
    """The photo as its package ships it, ``(H, W, 3)`` uint8 RGB (gray photos repeated to three channels)."""
    if photo in MATPLOTLIB_PHOTOS:
        import matplotlib.cbook

        image = load_image(matplotlib.cbook.get_sample_data(MATPLOTLIB_PHOTOS[photo], asfileobj=False))
    else:
        import skimage.data

        image = getattr(skimage.data, photo)()
        image = image[0] if isinstance(image, tuple) else image  # stereo_motorcycle: (left, right, disparity)
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image


def load_photo(photo: str) -> np.ndarray:
    """The photo resized to :data:`LONG_SIDE` on its long side (OpenCV area interpolation down, cubic up)."""
    image = read_photo(photo)
    h, w = image.shape[:2]
    scale = LONG_SIDE / max(h, w)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=interpolation)


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

    Writes every photo's files (:func:`make_builtin_photo`), ``test.jsonl``, ``train.jsonl`` and
    ``PROVENANCE.md``; with ``overlays``, also a mask overlay per object and their sheet ``builtin-masks.png``.
    """
    out_dir = Path(out_dir)
    records: dict[str, list[dict]] = {"test": [], "train": []}
    tiles: list[np.ndarray] | None = None if overlays is None else []
    for spec in PHOTOS:
        records[spec.split] += make_builtin_photo(spec, out_dir, overlays, tiles)
    (out_dir / "PROVENANCE.md").write_text(provenance(), encoding="utf-8")
    if overlays is not None and tiles:
        save_sheet(Path(overlays) / "builtin-masks.png", tiles)
    return {split: write_manifest(out_dir / f"{split}.jsonl", rows) for split, rows in records.items()}


def make_builtin_photo(
    spec: PhotoSpec, out_dir: Path, overlays: Path | None = None, tiles: list[np.ndarray] | None = None
) -> list[dict]:
    """Write one photo's ``images/<photo>.png``, ``masks/<photo>-<object>.png`` and
    ``targets/<photo>-<object>-<style>.png`` (PNGs at zlib level :data:`PNG_LEVEL`); returns its manifest
    records. With ``overlays``, also writes an overlay per object there and appends its tile to ``tiles``.
    """
    out_dir = Path(out_dir)
    records = []
    full = load_photo(spec.photo)
    x0, y0, x1, y1 = spec.crop or (0, 0, full.shape[1], full.shape[0])
    image = full[y0:y1, x0:x1]
    source = out_dir / "images" / f"{spec.photo}.png"
    save_image(source, image, PNG_LEVEL)
    for obj, full_mask in zip(spec.objects, photo_masks(spec, full).values(), strict=True):
        mask, box = (
            full_mask[y0:y1, x0:x1],
            (obj.box[0] - x0, obj.box[1] - y0, obj.box[2] - x0, obj.box[3] - y0),
        )
        mask_path = out_dir / "masks" / f"{spec.photo}-{obj.slug}.png"
        save_image(mask_path, np.where(mask, 255, 0).astype(np.uint8), PNG_LEVEL)
        if overlays is not None:
            save_image(Path(overlays) / f"{spec.photo}-{obj.slug}.png", overlay(image, mask, box))
        if tiles is not None:
            tiles.append(overlay_tile(image, mask, box, f"{spec.photo}: {obj.name}"))
        for style, target in photo_targets(image, mask).items():
            sample_id = f"{spec.photo}-{obj.slug}-{style}"
            target_path = out_dir / "targets" / f"{sample_id}.png"
            save_image(target_path, target, PNG_LEVEL)
            records.append(
                sample_record(
                    out_dir, sample_id, source, mask_path, obj.name, style, target_path, image_id=spec.photo
                )
            )
        logger.info("built %s / %s (mask area %.3f)", spec.photo, obj.name, mask.mean())
    return records


def overlay(image: np.ndarray, mask: np.ndarray, box: Rect) -> np.ndarray:
    """The mask tinted green with its outline in yellow and the GrabCut box in red, for checking by eye."""
    out = image.copy()
    out[mask] = (0.45 * out[mask] + 0.55 * np.array([0, 255, 0])).astype(np.uint8)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, (255, 255, 0), 1)
    cv2.rectangle(out, box[:2], (box[2] - 1, box[3] - 1), (255, 0, 0), 1)
    return out


TILE = 160  # px, the long side of one overlay on the sheet


def overlay_tile(image: np.ndarray, mask: np.ndarray, box: Rect, label: str) -> np.ndarray:
    """The overlay cropped to the box (plus a margin), resized to fit ``TILE`` x ``TILE``, labelled below."""
    h, w = mask.shape
    x0, y0, x1, y1 = max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3])
    margin = max(x1 - x0, y1 - y0) // 8
    crop = overlay(image, mask, box)[
        max(0, y0 - margin) : min(h, y1 + margin), max(0, x0 - margin) : min(w, x1 + margin)
    ]
    scale = TILE / max(crop.shape[:2])
    crop = cv2.resize(
        crop, (round(crop.shape[1] * scale), round(crop.shape[0] * scale)), interpolation=cv2.INTER_AREA
    )
    tile = np.full((TILE + 14, TILE, 3), 255, np.uint8)
    tile[: crop.shape[0], : crop.shape[1]] = crop
    cv2.putText(tile, label[:30], (1, TILE + 10), cv2.FONT_HERSHEY_PLAIN, 0.7, (0, 0, 0), 1, cv2.LINE_AA)
    return tile


def save_sheet(path: Path, tiles: list[np.ndarray], columns: int = 8) -> None:
    """The tiles in a grid, quantized to 64 colours (Pillow, no dither) so the sheet stays small."""
    rows = -(-len(tiles) // columns)
    sheet = np.full((rows * tiles[0].shape[0], columns * TILE, 3), 255, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        sheet[r * tile.shape[0] : (r + 1) * tile.shape[0], c * TILE : (c + 1) * TILE] = tile
    path.parent.mkdir(parents=True, exist_ok=True)
    quantized = Image.fromarray(sheet).quantize(64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    quantized.save(path, optimize=True)


def provenance() -> str:
    """``PROVENANCE.md``: every photo's origin and credit, every mask's box, hints and method."""
    lines = [
        "# Provenance of the built-in split",
        "",
        "Generated by `rses data make-builtin` (`rses/data/builtin.py`); do not edit by hand.",
        "",
        "- Photos: as scikit-image (`skimage.data`) and matplotlib (sample data) ship them, gray ones repeated "
        f"to RGB, resized with OpenCV (INTER_AREA down, INTER_CUBIC up) to {LONG_SIDE} px on the long side, "
        f"saved as `images/<name>.png`. Every PNG is written by OpenCV at zlib level {PNG_LEVEL}.",
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
            crop = f" Shipped cropped to {list(spec.crop)} of the resized photo." if spec.crop else ""
            lines += [f"### `{spec.origin}`", "", spec.credit + crop, ""]
            for obj in spec.objects:
                hints = "".join(
                    f"; {kind} {list(rects)}" for kind, rects in (("fg", obj.fg), ("bg", obj.bg)) if rects
                )
                minus = f"; minus {', '.join(obj.minus)}" if obj.minus else ""
                lines.append(f"- `{obj.name}`: GrabCut box {list(obj.box)}{hints}{minus}")
            lines.append("")
    return "\n".join(lines)
