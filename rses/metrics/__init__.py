"""The RSES metric suite: regional style matching inside the object, preservation outside it, one score.

* :data:`METRICS` / :func:`select_metrics`: the catalogue (name, group, direction, bounds) and selection by
  name or group (``pixel``, ``lpips``, ``clip``, ``all``).
* :class:`RSES`: the metric object (``score``, ``update`` / ``compute`` / ``reset``, ``config``).
* Functional metrics, one module each: :mod:`~rses.metrics.pixel`, :mod:`~rses.metrics.lpips_bg`,
  :mod:`~rses.metrics.rsm`, :mod:`~rses.metrics.leakage`, :mod:`~rses.metrics.fidelity`,
  :mod:`~rses.metrics.rses_score`. Definitions and pinned defaults: ``docs/metrics.md``.

Example:
    >>> import numpy as np
    >>> src = np.zeros((8, 8, 3), np.uint8); m = np.zeros((8, 8), bool); m[:4, :4] = True
    >>> RSES(metrics=["mse_bg"]).score("s0", src, src, m, "pixel-art")
    {'mse_bg': 0.0}
"""

from rses.metrics.catalog import GROUPS, METRICS, MetricInfo, select_metrics
from rses.metrics.fidelity import lpips_in, mse_in, ref_gain, ssim_in
from rses.metrics.inputs import prepare_sample
from rses.metrics.leakage import style_leakage
from rses.metrics.lpips_bg import lpips_bg
from rses.metrics.pixel import mse_bg, pixel_consistency, psnr_bg, ssim_bg
from rses.metrics.rses_score import rses_ref_score, rses_score
from rses.metrics.rsm import rsm, rsm_gain
from rses.metrics.suite import RSES, RSESConfig

__all__ = [
    "GROUPS", "METRICS", "RSES", "MetricInfo", "RSESConfig", "lpips_bg", "lpips_in", "mse_bg", "mse_in",
    "pixel_consistency", "prepare_sample", "psnr_bg", "ref_gain", "rses_ref_score", "rses_score", "rsm", "rsm_gain",
    "select_metrics", "ssim_bg", "ssim_in", "style_leakage",
]
