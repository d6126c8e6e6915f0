"""The interfaces of the learned-metric backends: what :class:`~rses.metrics.suite.MetricSuite` calls on them.

A backend is any object with these methods (structural typing, no base class): the shipped ones are
:class:`~rses.metrics.backends.OpenClipBackend`, :class:`~rses.metrics.backends.LpipsBackend` and
:class:`~rses.metrics.vlm.VlmJudge`; tests and custom models pass their own through ``clip_backend=``,
``lpips_backend=``, ``vlm_backend=``. An LPIPS backend needs only :class:`LpipsBackend`'s methods; one that
also has :class:`LpipsUnitFeatures`' or :class:`LpipsLayerMaps`' method is used through it instead (features
of unit-range images; per-layer maps averaged over the region without upsampling the distance map).

Example:
    >>> from rses.metrics.tiny_models import tiny_clip_backend, tiny_lpips_backend
    >>> isinstance(tiny_clip_backend(), ClipBackend), isinstance(tiny_lpips_backend(), LpipsLayerMaps)
    (True, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import torch


@runtime_checkable
class ClipBackend(Protocol):
    """Embeds images and texts into one space; outputs are L2-normalised ``(N, D)`` float tensors."""

    key: str  # identifies the model and weights (recorded in the run, keys the text cache)
    fill: tuple[int, int, int]  # the RGB colour that is zero after the model's normalisation

    def encode_images(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """``(N, D)`` embeddings of ``N`` ``(H, W, 3)`` uint8 images."""
        ...

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """``(N, D)`` embeddings of ``N`` texts."""
        ...


@runtime_checkable
class LpipsBackend(Protocol):
    """LPIPS features and the spatial distance between two feature sets."""

    key: str

    def features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Per-layer features of a ``(N, 3, H, W)`` batch in LPIPS's [-1, 1] range."""
        ...

    def distance_map(
        self, feats0: list[torch.Tensor], feats1: list[torch.Tensor], hw: tuple[int, int]
    ) -> torch.Tensor:
        """The ``(N, 1, H, W)`` LPIPS distance map of two feature sets, upsampled to ``hw``."""
        ...


@runtime_checkable
class LpipsUnitFeatures(Protocol):
    """A fast path an LPIPS backend may add: features straight from unit-range images."""

    def features_unit(self, images: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Per-layer features of ``(3, H, W)`` images in [0, 1] (equal shapes)."""
        ...


@runtime_checkable
class LpipsLayerMaps(Protocol):
    """A fast path an LPIPS backend may add: per-layer distance maps (averaged over the region per layer)."""

    def layer_maps(self, feats0: list[torch.Tensor], feats1: list[torch.Tensor]) -> list[torch.Tensor]:
        """Per-layer ``(N, 1, h, w)`` distance maps at each layer's own resolution."""
        ...


@runtime_checkable
class VlmBackend(Protocol):
    """A yes/no judge: the probability of "yes" for each (image, question) pair."""

    def p_yes(self, images: Sequence[np.ndarray], questions: Sequence[str]) -> list[float]:
        """P(yes) in [0, 1] for each pair, in order."""
        ...
