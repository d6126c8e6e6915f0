"""A random-backbone ``lpips.LPIPS`` (shipped linear heads, random AlexNet/VGG trunk), for tests only.

It is built by :func:`rses.metrics.backends.build_lpips`, the function that loads real backbone weights,
with no backbone state dict; the seed fixes the trunk.

Example:
    >>> import torch
    >>> model = tiny_lpips(seed=0)
    >>> float(model(torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 32)).sum())
    0.0
"""

from __future__ import annotations

import torch


def tiny_lpips(seed: int = 0, net: str = "alex", device: str = "cpu"):
    """Build ``lpips.LPIPS(net)`` with the package's linear heads and a trunk drawn from ``seed``."""
    from rses.metrics.backends import build_lpips

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_lpips(net, backbone_state_dict=None, device=device)


def tiny_lpips_backend(seed: int = 0, net: str = "alex", device: str = "cpu"):
    """The tiny model wrapped as the :class:`~rses.metrics.backends.LpipsBackend` the metrics use."""
    from rses.metrics.backends import LpipsBackend

    return LpipsBackend(tiny_lpips(seed, net, device), key=f"lpips-{net}-random/seed{seed}")
