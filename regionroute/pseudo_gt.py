"""Pseudo ground truth for RegionRoute training: stylize the whole image, then blend the object region back.

``target = blend(stylize(source), source, mask)`` with ``stylizer`` ``"classical"`` (the weight-free
stylizers of :mod:`baselines.stylize`) or ``"kontext"`` (any callable ``(image, prompt) -> image``, e.g. a
Kontext pipeline wrapper), and ``blend`` ``"alpha"`` (hard paste inside the mask) or ``"seamless"`` (Poisson
cloning, :func:`baselines.reference.seamless_blend`). The paper does not name its stylizer or blend
(paper.md section 4).

Example:
    >>> import numpy as np
    >>> img = np.full((8, 8, 3), 200, np.uint8); m = np.zeros((8, 8), bool); m[2:6, 2:6] = True
    >>> out = pseudo_target(img, m, "pixel-art", blend="alpha")
    >>> bool((out[~m] == img[~m]).all())
    True
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rses.errors import UsageError

BLENDS = ("alpha", "seamless")


def blend(styled: np.ndarray, source: np.ndarray, mask: np.ndarray, how: str = "seamless") -> np.ndarray:
    """Put ``styled`` inside ``mask`` onto ``source``; outside the mask the result equals ``source``."""
    if how == "alpha":
        return np.where(mask[..., None], styled, source).astype(np.uint8)
    if how == "seamless":
        from baselines.reference import seamless_blend

        return seamless_blend(styled, source, mask)
    raise UsageError(f"blend={how!r}; use one of {BLENDS}.")


def pseudo_target(
    source: np.ndarray,
    mask: np.ndarray,
    style: str,
    blend: str = "seamless",
    stylizer: Callable[[np.ndarray, str], np.ndarray] | None = None,
) -> np.ndarray:
    """One pseudo-GT image; ``stylizer(image, style)`` defaults to :func:`baselines.stylize.stylize`."""
    if stylizer is None:
        from baselines.stylize import stylize as stylizer
    return globals()["blend"](stylizer(source, style), source, mask, blend)


def kontext_stylizer(device: str = "cpu", smoke: bool = False) -> Callable[[np.ndarray, str], np.ndarray]:
    """A global Kontext stylizer (``make the image in {style} style``) via the ``kontext`` editor."""
    from rses.editing import EditRequest, get_editor

    editor = get_editor("kontext", device=device, smoke=smoke)

    def run(image: np.ndarray, style: str) -> np.ndarray:
        req = EditRequest("pseudo-gt", image, None, f"make the image in {style} style", style, "image")
        return editor.edit([req])[0]

    return run


def build_pseudo_gt(
    split: str,
    out_dir: str | Path,
    stylizer: str = "classical",
    blend: str = "seamless",
    device: str = "cpu",
    smoke: bool = False,
) -> Path:
    """Write ``targets/*.png`` and a manifest ``pseudo_gt.jsonl`` (the :mod:`rses.data.manifest` format).

    Returns the manifest path; load it with ``rses.data.manifest.load_split(path)``.
    """
    from rses.data.manifest import load_split
    from rses.io import save_image, sha256_file
    from rses.pixels import load_image, load_mask

    if stylizer not in ("classical", "kontext"):
        raise UsageError(f"stylizer={stylizer!r}; use 'classical' or 'kontext'.")
    fn = kontext_stylizer(device, smoke) if stylizer == "kontext" else None
    out_dir = Path(out_dir)
    for sub in ("targets", "images", "masks"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    lines = []
    for s in load_split(split).samples:
        image, mask = load_image(s.source), load_mask(s.mask)
        target = out_dir / "targets" / f"{s.id}.png"
        save_image(target, pseudo_target(image, mask, s.style, blend, fn))
        src, msk = out_dir / "images" / s.source.name, out_dir / "masks" / s.mask.name
        shutil.copyfile(s.source, src)
        shutil.copyfile(s.mask, msk)
        rec = {
            "id": s.id,
            "source": f"images/{src.name}",
            "mask": f"masks/{msk.name}",
            "object": s.object_name,
            "style": s.style,
            "prompt": s.prompt,
            "target": f"targets/{s.id}.png",
            "sha256": {"source": sha256_file(src), "mask": sha256_file(msk), "target": sha256_file(target)},
        }
        lines.append(json.dumps(rec))
    manifest = out_dir / "pseudo_gt.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest
