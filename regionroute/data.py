"""RegionRoute training data: aspect-keeping crops, and a data order and noise that are pure functions.

* :func:`square_crop` resizes an image so its shorter side is the training resolution (aspect kept, nothing
  squashed) and cuts the square window centred on the object's box (clamped to the image); the mask is cut
  by the same window, so image and mask stay aligned.
* :func:`global_batch` gives the sample indices of global micro-batch ``m``: an endless stream of per-epoch
  permutations seeded by ``(seed, epoch)``, cut into batches of ``batch_size x world_size``; rank ``r``
  takes slots ``[r * batch_size, (r + 1) * batch_size)``. So ranks see different samples, a resumed run
  continues the stream where it stopped (it depends on ``m`` only), and two processes with batch ``b``
  see what one process with batch ``2b`` sees.
* :func:`slot_noise` draws the noise and timestep of one slot of one micro-batch from a generator seeded by
  ``(seed, m, slot)``: every rank has its own noise and timesteps, and resume restores the stream exactly.

Example:
    >>> global_batch(seed=0, n_samples=5, batch_size=2, world_size=2, micro_step=0).tolist()
    [2, 1, 0, 3]
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def _seed(*parts: int) -> int:
    """A 63-bit seed mixed from ``parts`` (numpy's SeedSequence: nearby inputs give unrelated seeds)."""
    return int(
        np.random.SeedSequence([int(p) for p in parts]).generate_state(2, np.uint64)[0] >> np.uint64(1)
    )


def square_crop(
    image: np.ndarray, mask: np.ndarray, size: int, others: tuple[np.ndarray, ...] = ()
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """Resize (shorter side ``size``, aspect kept) and crop ``size x size`` around the mask's box.

    Args:
        image: ``(H, W, 3)`` uint8.
        mask: ``(H, W)`` bool or float in [0, 1].
        size: output side in pixels.
        others: more ``(H, W, 3)`` uint8 images cut like ``image`` (the target of a pair).

    Returns:
        ``(image (size, size, 3) uint8, mask (size, size) float32 in [0, 1], others)``. The mask is resized
        by area (``BOX``), so its values are the share of each output pixel the object covers.

    Example:
        >>> img = np.zeros((30, 60, 3), np.uint8); m = np.zeros((30, 60), bool); m[:, 50:] = True
        >>> out, cut, _ = square_crop(img, m, 10)
        >>> out.shape, float(cut[:, -3:].min()), float(cut[:, :5].max())  # window slid right, to the object
        ((10, 10, 3), 1.0, 0.0)
    """
    h, w = mask.shape
    scale = size / min(h, w)
    new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
    rows, cols = np.nonzero(mask)
    cy = (rows.min() + rows.max() + 1) / 2 * new_h / h if len(rows) else new_h / 2
    cx = (cols.min() + cols.max() + 1) / 2 * new_w / w if len(cols) else new_w / 2
    top = int(np.clip(round(cy - size / 2), 0, new_h - size))
    left = int(np.clip(round(cx - size / 2), 0, new_w - size))
    box = (left, top, left + size, top + size)

    def rgb(a: np.ndarray) -> np.ndarray:
        return np.asarray(Image.fromarray(a).resize((new_w, new_h), Image.Resampling.BICUBIC).crop(box))

    soft = Image.fromarray(mask.astype(np.float32)).resize((new_w, new_h), Image.Resampling.BOX).crop(box)
    return rgb(image), np.clip(np.asarray(soft, np.float32), 0.0, 1.0), tuple(rgb(o) for o in others)


def global_batch(
    seed: int, n_samples: int, batch_size: int, world_size: int, micro_step: int
) -> torch.Tensor:
    """Sample indices of all ranks' slots of global micro-batch ``micro_step`` (see the module docstring)."""
    size = batch_size * world_size
    positions = range(micro_step * size, (micro_step + 1) * size)
    perms: dict[int, torch.Tensor] = {}
    out = []
    for pos in positions:
        epoch = pos // n_samples
        if epoch not in perms:
            perms[epoch] = torch.randperm(
                n_samples, generator=torch.Generator().manual_seed(_seed(seed, epoch))
            )
        out.append(int(perms[epoch][pos % n_samples]))
    return torch.tensor(out, dtype=torch.long)


def rank_slots(batch_size: int, rank: int) -> range:
    """The global slots rank ``rank`` trains on in every micro-batch."""
    return range(rank * batch_size, (rank + 1) * batch_size)


def slot_noise(
    seed: int, micro_step: int, slots: range, shape: tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise ``(len(slots), *shape)`` and sigmas ``(len(slots),)`` of ``slots`` in micro-batch ``micro_step``.

    Sigmas are uniform on the 1000-step grid (``weighting_scheme=none``), in (0, 1], as the public code.
    """
    noise, sigmas = [], []
    for slot in slots:
        gen = torch.Generator().manual_seed(_seed(seed, 1, micro_step, slot))
        noise.append(torch.randn(shape, generator=gen))
        sigmas.append((1000 - torch.randint(0, 1000, (1,), generator=gen)).float() / 1000.0)
    return torch.stack(noise), torch.cat(sigmas)
