"""RegionRoute training samples: where they come from, how one is loaded, and the once-encoded cache.

:class:`TrainSample` is one (source, target, mask, prompt) example; :func:`samples_from_split` reads them from
a split with pseudo-GT targets and :func:`synthetic_samples` makes tiny ones for tests and ``--smoke``.
:func:`load_sample` decodes one through :mod:`rses.pixels` (the one decoding path) and crops it
(:func:`regionroute.data.square_crop`); :func:`encode_samples` encodes them all once into a
:class:`CachedSet`, keyed by sample index.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from regionroute.data import square_crop
from regionroute.losses import mask_to_grid
from regionroute.tokens import pad_token_indices, style_token_indices
from rses.errors import UsageError
from rses.io import load_image, load_mask

logger = logging.getLogger(__name__)


@dataclass
class TrainSample:
    """One (context/source, target/pseudo-GT, mask, prompt) training example."""

    source: Path
    target: Path
    mask: Path
    prompt: str
    style: str


@dataclass
class CachedSet:
    """All model inputs of a training set, stacked along dim 0 and indexed by sample index."""

    target_latents: torch.Tensor
    context_latents: torch.Tensor
    prompt_embeds: torch.Tensor
    pooled: torch.Tensor
    text_ids: torch.Tensor
    token_index: torch.Tensor
    token_valid: torch.Tensor
    mask: torch.Tensor

    def __len__(self) -> int:
        return self.target_latents.shape[0]

    def batch(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """The batch of samples ``index`` (every field taken at the same indices)."""
        fields = (
            "target_latents",
            "context_latents",
            "prompt_embeds",
            "pooled",
            "token_index",
            "token_valid",
            "mask",
        )
        return {k: getattr(self, k)[index] for k in fields} | {"text_ids": self.text_ids}


def load_sample(sample: TrainSample, resolution: int, mask_threshold: float | None = None) -> Any:
    """``(target, source)`` as ``(2, 3, S, S)`` floats in [-1, 1] and the mask ``(S, S)`` in [0, 1], cut alike.

    Raises:
        UsageError: the source, target and mask differ in size (naming the files).
    """
    source, target = load_image(sample.source), load_image(sample.target)
    mask = load_mask(sample.mask, mask_threshold)
    if not source.shape[:2] == target.shape[:2] == mask.shape:
        raise UsageError(
            f"Sample {sample.source}: source {source.shape[:2]}, target {target.shape[:2]} ({sample.target}) "
            f"and mask {mask.shape} ({sample.mask}) differ in size; they must be pixel-aligned."
        )
    source, mask, (target,) = square_crop(source, mask, resolution, (target,))
    pair = torch.from_numpy(np.stack([target, source])).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    return pair, torch.from_numpy(mask)


@torch.no_grad()
def encode_samples(
    pipe: Any,
    samples: Sequence[TrainSample],
    resolution: int,
    max_sequence_length: int,
    mask_threshold: float | None = None,
) -> CachedSet:
    """Encode every sample once (VAE latents as the distribution mode, T5/CLIP embeddings, token positions).

    A sample whose mask covers nothing on the latent grid is skipped with a warning (it would train toward
    a uniform map).

    Raises:
        UsageError: bad resolution, or no sample left.
    """
    if resolution % 16:
        raise UsageError(f"resolution must be a multiple of 16, got {resolution}.")
    vae, device = pipe.vae, pipe.transformer.device
    sf, shift = vae.config.scaling_factor, vae.config.shift_factor or 0.0
    targets, contexts, embeds, pooled, tokens, masks = [], [], [], [], [], []
    grid = (resolution // (pipe.vae_scale_factor * 2),) * 2
    text_ids = None
    for s in samples:
        pair, mask = load_sample(s, resolution, mask_threshold)
        on_grid = mask_to_grid(mask[None], grid)[0]
        if not on_grid.any():
            logger.warning("skipping %s: its mask %s covers nothing at %d px", s.source, s.mask, resolution)
            continue
        lat = (vae.encode(pair.to(vae.device, vae.dtype)).latent_dist.mode() - shift) * sf
        targets.append(lat[0])
        contexts.append(lat[1])
        pe, pp, text_ids = pipe.encode_prompt(
            prompt=s.prompt, prompt_2=None, device=device, max_sequence_length=max_sequence_length
        )
        embeds.append(pe[0])
        pooled.append(pp[0])
        tokens.append(style_token_indices(pipe.tokenizer_2, s.prompt, s.style, max_sequence_length))
        masks.append(on_grid)
    if not targets:
        raise UsageError(f"No training sample left: all {len(samples)} masks are empty at {resolution} px.")
    index, valid = pad_token_indices(tokens)
    return CachedSet(
        torch.stack(targets).to(device),
        torch.stack(contexts).to(device),
        torch.stack(embeds),
        torch.stack(pooled),
        text_ids,
        index.to(device),
        valid.to(device),
        torch.stack(masks).to(device),
    )


def synthetic_samples(
    root: str | Path, n: int = 4, style: str = "pixel-art", size: int = 64
) -> list[TrainSample]:
    """``n`` tiny (source, target, mask) triples from scikit-image photos, for tests and ``--smoke`` runs.

    The target is the source with the masked object's colours quantised (a crude "pixel-art" stand-in).
    """
    from PIL import Image
    from skimage import data

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    photos = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket()]
    out = []
    for i in range(n):
        img = np.asarray(Image.fromarray(photos[i % len(photos)]).resize((size, size)))
        mask = np.zeros((size, size), np.uint8)
        q = size // 4
        r0, c0 = (i % 2) * q, ((i // 2) % 2) * q
        mask[r0 : r0 + 2 * q, c0 : c0 + 2 * q] = 255
        target = np.where(mask[..., None] > 0, (img // 64) * 64, img).astype(np.uint8)
        paths = [root / f"{i}_{k}.png" for k in ("source", "target", "mask")]
        for p, a in zip(paths, (img, target, mask), strict=False):
            Image.fromarray(a).save(p)
        out.append(
            TrainSample(
                paths[0],
                paths[1],
                paths[2],
                f"make the cat in {style} style, keep other area unchanged",
                style,
            )
        )
    return out


def samples_from_split(spec: str, style: str) -> list[TrainSample]:
    """The samples of split ``spec`` with ``style`` that have a target (pseudo-GT) image.

    Raises:
        UsageError: no sample of that style has a target.
    """
    from rses.data.manifest import load_split

    split = load_split(spec)
    out = [
        TrainSample(s.source, s.target, s.mask, s.prompt, s.style)
        for s in split.samples
        if s.style == style and s.target is not None
    ]
    if not out:
        raise UsageError(
            f"Split {spec!r} has no sample of style {style!r} with a target image; build pseudo-GT "
            "with `rses data pseudo-gt` first."
        )
    return out
