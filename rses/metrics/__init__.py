"""The RSES metric suite: regional style matching inside the object, preservation outside it, combined scores.

* :data:`METRICS` / :func:`select_metrics`: the catalogue (name, group, direction, bounds, needs, derivation)
  and selection by name or group (``pixel``, ``lpips``, ``clip``, ``vlm``, ``all``).
* :class:`MetricSuite` (old name ``RSES``): the metric object (``score``, ``update`` / ``compute`` /
  ``reset``, ``config``), driven by the catalogue.
* Functional metrics, one module each: :mod:`~rses.metrics.pixel`, :mod:`~rses.metrics.lpips_bg`,
  :mod:`~rses.metrics.rsm`, :mod:`~rses.metrics.leakage`, :mod:`~rses.metrics.fidelity`,
  :mod:`~rses.metrics.vlm`, :mod:`~rses.metrics.rses_score`. Definitions and pinned defaults:
  ``docs/metrics.md``; adding a metric: ``docs/extending.md``.

Every name is imported on first use (PEP 562), so ``import rses.metrics.catalog`` does not import torch.

Example:
    >>> import numpy as np
    >>> from rses.metrics import MetricSuite
    >>> src = np.zeros((8, 8, 3), np.uint8); m = np.zeros((8, 8), bool); m[:4, :4] = True
    >>> MetricSuite(metrics=["mse_bg"]).score("s0", src, src, m, "pixel-art")
    {'mse_bg': 0.0}
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

_EXPORTS = {
    "GROUPS": "catalog",
    "METRICS": "catalog",
    "MetricInfo": "catalog",
    "select_metrics": "catalog",
    "lpips_in": "fidelity",
    "mse_in": "fidelity",
    "ref_gain": "fidelity",
    "ssim_in": "fidelity",
    "prepare_sample": "inputs",
    "style_leakage": "leakage",
    "lpips_bg": "lpips_bg",
    "mse_bg": "pixel",
    "pixel_consistency": "pixel",
    "psnr_bg": "pixel",
    "ssim_bg": "pixel",
    "rses_ref_score": "rses_score",
    "rses_score": "rses_score",
    "rsm": "rsm",
    "rsm_gain": "rsm",
    "MetricSuite": "suite",
    "MetricSuiteConfig": "suite",
    "RSES": "suite",
    "RSESConfig": "suite",  # old names of MetricSuite / MetricSuiteConfig, for one release
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'rses.metrics' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"rses.metrics.{_EXPORTS[name]}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """Keeps ``rses.metrics.rsm`` / ``rses.metrics.lpips_bg`` the functions (as when this package imported them
    eagerly), although importing the submodules of the same names sets the package attribute to the module.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("rsm", "lpips_bg") and isinstance(value, types.ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
