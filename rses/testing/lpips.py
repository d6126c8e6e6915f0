"""Moved to :mod:`rses.metrics.tiny_models` (``--smoke`` is a product feature); re-exported here for one release.

Example:
    >>> import torch
    >>> float(tiny_lpips(seed=0)(torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 32)).sum())
    0.0
"""

from rses.metrics.tiny_models import tiny_lpips, tiny_lpips_backend

__all__ = ["tiny_lpips", "tiny_lpips_backend"]
