"""Draw docs/figures/clip-inputs.png: the exact images CLIP receives, per metric and crop policy.

For one tall and one wide object of the built-in ``test`` split, each CLIP metric's input (``rsm``: the padded
box; ``rsm_strict``: the box with the background greyed; ``style_leakage``: the image with the object greyed)
goes through the crop policy (:mod:`rses.metrics.clip_views`) and then ViT-B-32's own eval transform (resize the
shorter side to 224 bicubic, centre crop 224, built by open_clip as for the real model); the figure shows those
224 x 224 tensors, de-normalised. ``tile`` shows each tile (their embeddings are averaged).

Run: ``python docs/figures/clip_inputs.py`` (no weights needed; writes the PNG next to this script).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import open_clip
import torch
from PIL import Image, ImageDraw

from rses.data.manifest import load_split
from rses.metrics.clip_views import clip_views
from rses.metrics.leakage import background_image
from rses.metrics.rsm import RSM_PADDING, object_crop

EXAMPLES = ("astronaut-flag-pixel-art", "stereo_motorcycle-seat-pixel-art")  # 256 x 48 tall, 32 x 71 wide
CELL, TILE, LABEL = 132, 64, 16  # px: one view, one tile thumbnail, a caption line
OUT = Path(__file__).with_name("clip-inputs.png")
POLICIES = ("center-crop", "letterbox", "tile")  # columns; tile last: it is the widest


def vit_b32_transform():
    """ViT-B-32's eval transform as open_clip builds it for the real model (no weights involved)."""
    return open_clip.image_transform(
        224,
        is_train=False,
        mean=open_clip.OPENAI_DATASET_MEAN,
        std=open_clip.OPENAI_DATASET_STD,
        interpolation="bicubic",
        resize_mode="shortest",
    )


def seen(transform, view: np.ndarray) -> Image.Image:
    """What CLIP receives for one view, as an RGB image (the normalisation undone)."""
    x = transform(Image.fromarray(view))
    mean, std = (
        torch.tensor(v)[:, None, None] for v in (open_clip.OPENAI_DATASET_MEAN, open_clip.OPENAI_DATASET_STD)
    )
    rgb = ((x * std + mean).clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    return Image.fromarray(rgb)


def metric_inputs(sample, fill) -> dict[str, np.ndarray]:
    image, mask = sample.load_source(), torch.from_numpy(sample.load_mask())
    return {
        "rsm": object_crop(image, mask, RSM_PADDING),
        "rsm_strict": object_crop(image, mask, RSM_PADDING, fill),
        "style_leakage": background_image(image, mask, fill),
    }


def main() -> None:
    transform = vit_b32_transform()
    fill = tuple(int(round(255 * m)) for m in open_clip.OPENAI_DATASET_MEAN)
    split = {s.id: s for s in load_split("test").samples}
    rows = []  # (caption, [images])
    for sid in EXAMPLES:
        for metric, region in metric_inputs(split[sid], fill).items():
            for policy in POLICIES:
                views = [seen(transform, v) for v in clip_views(region, policy, fill)]
                rows.append(
                    (
                        f"{sid.rsplit('-', 2)[0]} | {metric} | {policy}"
                        + (
                            " (default)"
                            if policy == "letterbox"
                            else " (paper)"
                            if policy == "center-crop"
                            else f" ({len(views)} views, averaged)"
                        ),
                        views,
                    )
                )
    columns = 3  # policies side by side; each row of the figure is one (example, metric)
    width = max(len(v) for _, v in rows[2::3]) * TILE + 2 * CELL + 4 * 8
    width = max(width, 480)
    canvas = Image.new("RGB", (width, len(rows) // columns * (CELL + LABEL + 8) + 8), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (caption, views) in enumerate(rows):
        r, c = divmod(i, columns)
        x, y = 8 + c * (CELL + 8), 8 + r * (CELL + LABEL + 8)
        if c == 0:
            draw.text(
                (8, y),
                caption.rsplit(" | ", 1)[0] + ":   center-crop (paper)  |  letterbox (default)  |  tile"
                f" ({len(rows[i + 2][1])} view(s), embeddings averaged)",
                fill="black",
            )
        y += LABEL
        if len(views) == 1:
            canvas.paste(views[0].resize((CELL, CELL), Image.BICUBIC), (x, y))
        else:
            for k, view in enumerate(views):
                canvas.paste(view.resize((TILE, TILE), Image.BICUBIC), (x + k * TILE, y))
    canvas.quantize(colors=192, method=Image.Quantize.MEDIANCUT).save(OUT, optimize=True)
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
