"""The Pareto front of methods on two metrics, each with its own direction.

Example:
    >>> pareto_front([0.6, 0.7, 0.5], [0.2, 0.3, 0.4]).tolist()
    [True, True, False]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pareto_front(
    x: Sequence[float], y: Sequence[float], x_higher_is_better: bool = True, y_higher_is_better: bool = False
) -> np.ndarray:
    """Mark the points no other point dominates.

    A point is dominated when another point is at least as good on both metrics and strictly better on
    one. Equal points do not dominate each other, so both stay on the front. NaN points are never on it.

    Args:
        x: first metric, one value per method.
        y: second metric, one value per method.
        x_higher_is_better: direction of ``x``.
        y_higher_is_better: direction of ``y`` (the default suits a background-distortion metric).

    Returns:
        A bool array, ``True`` for points on the front.
    """
    xs = np.asarray(x, dtype=float) * (1 if x_higher_is_better else -1)
    ys = np.asarray(y, dtype=float) * (1 if y_higher_is_better else -1)
    if xs.shape != ys.shape or xs.ndim != 1:
        raise ValueError(f"x and y must be 1-D and of equal length, got shapes {xs.shape} and {ys.shape}")
    # after the sign flips, larger is better on both axes; row i is dominated by column j
    at_least = (xs[None, :] >= xs[:, None]) & (ys[None, :] >= ys[:, None])
    strictly = (xs[None, :] > xs[:, None]) | (ys[None, :] > ys[:, None])
    dominated = (at_least & strictly).any(axis=1)
    return ~dominated & np.isfinite(xs) & np.isfinite(ys)
