"""RSES, one number in [0, 1]: the geometric mean of style success inside the object and preservation outside.

Two variants, named by what they need:

* ``rses`` (CLIP + LPIPS)::

      S = clamp(RSM_gain / gain_scale, 0, 1)          gain_scale = 0.025
      P = clamp(1 - LPIPS_bg / lpips_ceiling, 0, 1)   lpips_ceiling = 0.3
      RSES = sqrt(S * P)

* ``rses_ref`` (weight-free; needs the pseudo-GT target)::

      S = ref_gain = clamp(1 - E(edited, target) / E(source, target), 0, 1), E: Laplacian MSE inside the mask
      P = clamp((PSNR_bg - 22 dB) / (45 dB - 22 dB), 0, 1)
      RSES_ref = sqrt(S * P)

* ``rses_ref_lpips`` (the target's style success, LPIPS' preservation; for the built-in board)::

      RSES_ref_lpips = sqrt(ref_gain * clamp(1 - LPIPS_bg / lpips_ceiling, 0, 1))

The geometric mean is 0 when either term is 0 (an untouched object, or a destroyed background) and 1 only
when both are perfect. The preservation constants were calibrated with real AlexNet LPIPS on the built-in split
(``docs/calibrate_preservation.py``); ``docs/metrics.md`` gives the evidence and the reasoning.

Example:
    >>> rses_score(rsm_gain=0.025, lpips_bg=0.0)
    1.0
    >>> rses_score(rsm_gain=0.0, lpips_bg=0.0)
    0.0
    >>> round(rses_ref_score(ref_gain=1.0, psnr_bg=33.5), 4)
    0.7071
    >>> rses_ref_lpips_score(ref_gain=1.0, lpips_bg=0.0)
    1.0
"""

from __future__ import annotations

import math

RSES_GAIN_SCALE = 0.025
LPIPS_CEILING = 0.3
PSNR_FLOOR, PSNR_CEIL = 22.0, 45.0


def _clamp01(x: float) -> float:
    return min(1.0, max(0.0, x))


def combine(style_success: float, preservation: float) -> float:
    """``sqrt(S * P)`` of two terms clamped to [0, 1]."""
    return math.sqrt(_clamp01(style_success) * _clamp01(preservation))


def rses_score(
    rsm_gain: float,
    lpips_bg: float,
    gain_scale: float = RSES_GAIN_SCALE,
    lpips_ceiling: float = LPIPS_CEILING,
) -> float:
    """The CLIP variant: style success from the RSM gain, preservation from LPIPS_bg."""
    return combine(rsm_gain / gain_scale, 1.0 - lpips_bg / lpips_ceiling)


def psnr_preservation(psnr_bg: float, floor: float = PSNR_FLOOR, ceil: float = PSNR_CEIL) -> float:
    """PSNR_bg mapped linearly from [floor, ceil] dB to [0, 1]."""
    return _clamp01((psnr_bg - floor) / (ceil - floor))


def rses_ref_score(
    ref_gain: float, psnr_bg: float, floor: float = PSNR_FLOOR, ceil: float = PSNR_CEIL
) -> float:
    """The weight-free variant: style success from the target (``ref_gain``), preservation from PSNR_bg."""
    return combine(ref_gain, psnr_preservation(psnr_bg, floor, ceil))


def rses_ref_lpips_score(ref_gain: float, lpips_bg: float, lpips_ceiling: float = LPIPS_CEILING) -> float:
    """Style success from the target (``ref_gain``), preservation from LPIPS_bg as in :func:`rses_score`."""
    return combine(ref_gain, 1.0 - lpips_bg / lpips_ceiling)
