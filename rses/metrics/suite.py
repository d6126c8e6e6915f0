"""The :class:`RSES` metric object: picks metrics, loads the models once, caches per-sample source work.

Scoring K edited versions of one sample costs K + 1 backbone passes for LPIPS and the CLIP source crops,
not 2K: source (and target) LPIPS features and source CLIP embeddings are kept in a small LRU keyed by the
sample id and a hash of its source, mask and target; text embeddings are cached per (model, text). For the
cache to help, score sample-major (all methods for one sample, then the next) or keep
``source_cache_size`` >= the number of samples.

Example:
    >>> import numpy as np
    >>> src = np.zeros((8, 8, 3), np.uint8); m = np.zeros((8, 8), bool); m[:4, :4] = True
    >>> RSES(metrics="pixel").score("s0", src, src, m, "pixel-art")["pixel_consistency"]
    1.0
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rses.errors import UsageError
from rses.metrics import fidelity, pixel
from rses.metrics.catalog import METRICS, select_metrics
from rses.metrics.inputs import PreparedSample, prepare_sample
from rses.metrics.leakage import background_image
from rses.metrics.lpips_bg import to_lpips_range
from rses.metrics.regions import background_region, masked_mean
from rses.metrics.rses_score import (
    LPIPS_CEILING,
    PSNR_CEIL,
    PSNR_FLOOR,
    RSES_GAIN_SCALE,
    rses_ref_score,
    rses_score,
)
from rses.metrics.rsm import RSM_PADDING, STYLE_TEMPLATE, object_crop, rsm_from_embeddings, style_text
from rses.weights import WeightSpec

logger = logging.getLogger(__name__)

# metric -> metrics it is computed from (computed even when not selected)
_DEPENDS = {"rses": ("rsm_gain", "lpips_bg"), "rses_ref": ("ref_gain", "psnr_bg"), "rsm_gain": ("rsm",)}


@dataclass
class RSESConfig:
    """Every option that changes a number; all pinned defaults are documented in ``docs/metrics.md``."""

    clip_model: str = "ViT-B-32"
    clip_pretrained: str = "openai"
    lpips_net: str = "alex"
    padding: float = RSM_PADDING
    style_template: str = STYLE_TEMPLATE
    boundary: int = 0
    consistency_tol: float = pixel.CONSISTENCY_TOL
    pixel_range: str = "unit"
    gain_scale: float = RSES_GAIN_SCALE
    lpips_ceiling: float = LPIPS_CEILING
    psnr_floor: float = PSNR_FLOOR
    psnr_ceil: float = PSNR_CEIL
    mask_threshold: float | None = None
    allow_pickle: bool = False
    source_cache_size: int = 16


class RSES:
    """Score edited images against their sources: per-sample ``score``, or ``update`` / ``compute`` / ``reset``.

    Args:
        metrics: names or groups (``pixel``, ``lpips``, ``clip``, ``all``), a list or comma-separated string.
        device, dtype: where and in which precision the learned models run.
        clip_weights, lpips_weights: weight references (hub id, file or directory); default: env var, then
            the pinned default (see :mod:`rses.metrics.backends`).
        smoke: use the test kit's tiny random models; numbers are NOT meaningful (``config()["smoke"]``).
        clip_backend, lpips_backend: ready backends to inject (tests, custom models).
        **options: fields of :class:`RSESConfig`.
    """

    def __init__(self, metrics: str | Sequence[str] = "all", device: str = "cpu", dtype: torch.dtype = torch.float32,
                 clip_weights: str | None = None, lpips_weights: str | None = None, smoke: bool = False,
                 clip_backend: Any = None, lpips_backend: Any = None, **options: Any):
        fields = {f.name for f in dataclasses.fields(RSESConfig)}
        unknown = sorted(set(options) - fields)
        if unknown:
            raise UsageError(f"Unknown RSES option(s) {unknown}; valid options: {sorted(fields)}.")
        self.options = RSESConfig(**options)
        if self.options.pixel_range not in pixel.PIXEL_RANGES:
            raise UsageError(f"pixel_range must be one of {pixel.PIXEL_RANGES}, got {self.options.pixel_range!r}.")
        self.metrics = select_metrics(metrics)
        self.device, self.dtype, self.smoke = device, dtype, smoke
        self.clip_weights, self.lpips_weights = clip_weights, lpips_weights
        self._needs = set().union(*(METRICS[m].needs for m in self.metrics))
        self._clip, self._lpips = clip_backend, lpips_backend
        self._cache: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._rows: list[dict[str, Any]] = []
        self._warned_target = False

    # ------------------------------------------------------------------------------------------ weights
    def weights(self) -> list[WeightSpec]:
        """The weight specs the selected metrics need (none for pixel metrics or smoke mode)."""
        from rses.metrics import backends

        if self.smoke:
            return []
        specs = []
        if "clip" in self._needs and self._clip is None:
            specs.append(backends.clip_weight_spec(self.options.clip_model, self.options.clip_pretrained))
        if "lpips" in self._needs and self._lpips is None:
            specs.append(backends.lpips_weight_spec(self.options.lpips_net))
        return specs

    def check_weights(self) -> None:
        """Resolve every needed weight file now; raises :class:`~rses.errors.WeightsNotFoundError` if missing."""
        from rses.metrics import backends

        if self.smoke:
            return
        o = self.options
        if "clip" in self._needs and self._clip is None:
            backends.resolve_clip_checkpoint(backends.clip_weight_spec(o.clip_model, o.clip_pretrained),
                                             self.clip_weights, o.allow_pickle)
        if "lpips" in self._needs and self._lpips is None:
            backends.resolve_lpips_backbone(o.lpips_net, self.lpips_weights, o.allow_pickle)

    @property
    def clip(self):
        """The CLIP backend, loaded on first use."""
        if self._clip is None:
            from rses.metrics import backends

            if self.smoke:
                from rses.testing.clip import tiny_clip_backend

                self._clip = tiny_clip_backend(device=self.device)
            else:
                self._clip = backends.load_clip(self.options.clip_model, self.options.clip_pretrained,
                                                self.clip_weights, self.device, self.dtype, self.options.allow_pickle)
        return self._clip

    @property
    def lpips(self):
        """The LPIPS backend, loaded on first use."""
        if self._lpips is None:
            from rses.metrics import backends

            if self.smoke:
                from rses.testing.lpips import tiny_lpips_backend

                self._lpips = tiny_lpips_backend(net=self.options.lpips_net, device=self.device)
            else:
                self._lpips = backends.load_lpips(self.options.lpips_net, self.lpips_weights, self.device,
                                                  self.dtype, self.options.allow_pickle)
        return self._lpips

    # ------------------------------------------------------------------------------------------ scoring
    @torch.inference_mode()
    def score(self, sample_id: str, source, edited, mask, style: str, target=None) -> dict[str, float]:
        """All selected metrics for one sample; target-based metrics are NaN when ``target`` is None."""
        s = prepare_sample(sample_id, source, edited, mask, target, self.options.mask_threshold)
        wanted = set(self.metrics)
        for name in self.metrics:
            wanted |= set(_DEPENDS.get(name, ()))
        if "rsm_gain" in wanted:
            wanted.add("rsm")
        cache = self._sample_cache(s)
        region = background_region(s.mask, self.options.boundary, sample_id)
        values = self._pixel_values(s, region, wanted)
        if wanted & {"lpips_bg", "lpips_in"}:
            values.update(self._lpips_values(s, region, wanted, cache))
        if wanted & {"rsm", "rsm_strict", "rsm_gain", "style_leakage"}:
            values.update(self._clip_values(s, style, wanted, cache))
        if "rses" in wanted:
            values["rses"] = rses_score(values["rsm_gain"], values["lpips_bg"], self.options.gain_scale,
                                        self.options.lpips_ceiling)
        if "rses_ref" in wanted:
            values["rses_ref"] = (math.nan if math.isnan(values["ref_gain"]) else rses_ref_score(
                values["ref_gain"], values["psnr_bg"], self.options.psnr_floor, self.options.psnr_ceil))
        return {name: values[name] for name in self.metrics}

    def _pixel_values(self, s: PreparedSample, region: torch.Tensor, wanted: set[str]) -> dict[str, float]:
        out: dict[str, float] = {}
        if wanted & {"mse_bg", "psnr_bg"}:
            mse = pixel.mse_bg(s.source, s.edited, region)
            out["mse_bg"] = mse * (4.0 if self.options.pixel_range == "symmetric" else 1.0)
            out["psnr_bg"] = pixel.psnr_from_mse(mse)
        if "ssim_bg" in wanted:
            out["ssim_bg"] = pixel.ssim_bg(s.source, s.edited, region)
        if "pixel_consistency" in wanted:
            out["pixel_consistency"] = pixel.pixel_consistency(s.source, s.edited, region, self.options.consistency_tol)
        target_metrics = wanted & {"mse_in", "ssim_in", "ref_gain", "lpips_in"}
        if s.target is None:
            if target_metrics and not self._warned_target:
                logger.warning("Sample %s has no target: %s are NaN.", s.sample_id, sorted(target_metrics))
                self._warned_target = True
            return out | dict.fromkeys(target_metrics, math.nan)
        if wanted & {"mse_in", "ref_gain"}:
            out["mse_in"] = fidelity.mse_in(s.edited, s.target, s.mask)
            out["ref_gain"] = fidelity.ref_gain_from_mse(out["mse_in"], fidelity.mse_in(s.source, s.target, s.mask))
        if "ssim_in" in wanted:
            out["ssim_in"] = fidelity.ssim_in(s.edited, s.target, s.mask)
        return out

    def _lpips_values(self, s: PreparedSample, region: torch.Tensor, wanted: set[str],
                      cache: dict[str, Any]) -> dict[str, float]:
        want_in = "lpips_in" in wanted and s.target is not None
        todo = {"edited": s.edited}
        if "lpips_source" not in cache:
            todo["lpips_source"] = s.source
        if want_in and "lpips_target" not in cache:
            todo["lpips_target"] = s.target
        feats = self.lpips.features(to_lpips_range(torch.stack(list(todo.values()))))
        for i, key in enumerate(todo):
            if key != "edited":
                cache[key] = [f[i:i + 1] for f in feats]
        edited = [f[:1] for f in feats]
        hw = tuple(s.mask.shape)
        out = {}
        if "lpips_bg" in wanted:
            out["lpips_bg"] = masked_mean(self.lpips.distance_map(cache["lpips_source"], edited, hw)[0, 0].cpu(), region)
        if "lpips_in" in wanted:
            out["lpips_in"] = (masked_mean(self.lpips.distance_map(cache["lpips_target"], edited, hw)[0, 0].cpu(), s.mask)
                               if want_in else math.nan)
        return out

    def _clip_values(self, s: PreparedSample, style: str, wanted: set[str], cache: dict[str, Any]) -> dict[str, float]:
        clip, o = self.clip, self.options
        todo: dict[str, np.ndarray] = {}
        if "rsm" in wanted:
            todo["rsm"] = object_crop(s.edited_u8, s.mask, o.padding)
        if "rsm_strict" in wanted:
            todo["rsm_strict"] = object_crop(s.edited_u8, s.mask, o.padding, clip.fill)
        if "rsm_gain" in wanted and "clip_source" not in cache:
            todo["clip_source"] = object_crop(s.source_u8, s.mask, o.padding)
        if "style_leakage" in wanted:
            todo["leak_edited"] = background_image(s.edited_u8, s.mask, clip.fill)
            if "clip_source_bg" not in cache:
                todo["clip_source_bg"] = background_image(s.source_u8, s.mask, clip.fill)
        emb = dict(zip(todo, clip.encode_images(list(todo.values())).cpu(), strict=True))
        cache.update({k: v for k, v in emb.items() if k.startswith("clip_")})
        text = clip.encode_texts([style_text(style, o.style_template)])[0].cpu()
        sim = {k: float(rsm_from_embeddings(v, text)) for k, v in (emb | cache).items() if isinstance(v, torch.Tensor)}
        out = {k: sim[k] for k in ("rsm", "rsm_strict") if k in wanted}
        if "rsm_gain" in wanted:
            out["rsm_gain"] = sim["rsm"] - sim["clip_source"]
        if "style_leakage" in wanted:
            out["style_leakage"] = sim["leak_edited"] - sim["clip_source_bg"]
        return out

    def _sample_cache(self, s: PreparedSample) -> dict[str, Any]:
        h = hashlib.blake2b(s.source_u8.tobytes(), digest_size=12)
        h.update(s.mask.numpy().tobytes())
        if s.target_u8 is not None:
            h.update(s.target_u8.tobytes())
        key = (s.sample_id, h.hexdigest())
        if key in self._cache:
            self._cache.move_to_end(key)
        else:
            self._cache[key] = {}
            while len(self._cache) > max(1, self.options.source_cache_size):
                self._cache.popitem(last=False)
        return self._cache[key]

    # ------------------------------------------------------------------------------------------ state
    def update(self, sample_id: str, source, edited, mask, style: str, target=None) -> dict[str, float]:
        """Score one sample and keep its row for :meth:`compute`; returns the row's metric values."""
        values = self.score(sample_id, source, edited, mask, style, target)
        self._rows.append({"sample_id": sample_id, **values})
        return values

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Per-sample rows kept by :meth:`update` (``sample_id`` plus one value per metric)."""
        return list(self._rows)

    def compute(self) -> dict[str, float]:
        """Mean of each metric over the updated samples (NaNs skipped; NaN if none)."""
        if not self._rows:
            raise UsageError("RSES.compute() called before any update(); score at least one sample first.")
        out = {}
        for name in self.metrics:
            vals = np.array([r[name] for r in self._rows], dtype=np.float64)
            out[name] = float(np.nanmean(vals)) if np.isfinite(vals).any() else math.nan
        return out

    def reset(self) -> None:
        """Forget the updated rows (the model and feature caches stay)."""
        self._rows.clear()

    def config(self) -> dict[str, Any]:
        """Everything needed to reproduce the numbers: metrics, options, model ids and weight files, smoke flag."""
        import lpips
        import open_clip

        cfg: dict[str, Any] = {"metrics": list(self.metrics), "smoke": self.smoke, "device": str(self.device),
                               "dtype": str(self.dtype).removeprefix("torch."), **dataclasses.asdict(self.options)}
        cfg["style_text_example"] = style_text("pixel-art", self.options.style_template)
        if "clip" in self._needs:
            cfg["clip"] = {"model": self.options.clip_model, "pretrained": self.options.clip_pretrained,
                           "weights": self.clip_weights, "open_clip_version": open_clip.__version__}
            if self._clip is not None:
                cfg["clip"] |= {"key": self._clip.key, "resolved": getattr(self._clip, "weights", None)}
        if "lpips" in self._needs:
            cfg["lpips"] = {"net": self.options.lpips_net, "version": "0.1", "weights": self.lpips_weights,
                            "lpips_version": getattr(lpips, "__version__", "0.1.4")}
            if self._lpips is not None:
                cfg["lpips"] |= {"key": self._lpips.key, "resolved": getattr(self._lpips, "weights", None)}
        return cfg
