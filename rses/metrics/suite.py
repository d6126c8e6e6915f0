"""The :class:`RSES` metric object: picks metrics, loads the models once, caches per-sample source work.

Scoring K edited versions of one sample costs K + 1 backbone passes for LPIPS and the CLIP source crops,
not 2K: source (and target) LPIPS features are kept in an LRU of ``source_cache_size`` samples keyed by the
sample id and a hash of its source, mask and target (score sample-major, or keep the size >= the number of
samples), source CLIP embeddings in a larger one (:data:`EMBEDDING_CACHE_SIZE`), and text embeddings per
(model, text). :meth:`RSES.score_batch` scores many items with ``batch_size`` images per backbone call.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from rses.errors import UsageError
from rses.metrics import fidelity, pixel
from rses.metrics.catalog import METRICS, select_metrics
from rses.metrics.inputs import PreparedSample, prepare_sample
from rses.metrics.leakage import background_image
from rses.metrics.lpips_bg import region_mean, to_lpips_range
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
_LPIPS_METRICS = frozenset({"lpips_bg", "lpips_in"})
_CLIP_METRICS = frozenset({"rsm", "rsm_strict", "rsm_gain", "style_leakage"})
_CLIP_KEYS = ("rsm", "rsm_strict", "rsm_source", "leak_edited", "leak_source")
EMBEDDING_CACHE_SIZE = 4096  # CLIP source embeddings kept (a few KB each), independent of source_cache_size


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
    batch_size: int = 4


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
        self._wanted = _with_dependencies(self.metrics)
        self._clip, self._lpips = clip_backend, lpips_backend
        self._features: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()  # LPIPS, per sample
        self._embeddings: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()  # CLIP, per sample
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
    def score(self, sample_id: str, source, edited, mask, style: str, target=None) -> dict[str, float]:
        """All selected metrics for one sample; target-based metrics are NaN when ``target`` is None."""
        return self.score_batch([{"sample_id": sample_id, "source": source, "edited": edited, "mask": mask,
                                  "style": style, "target": target}])[0]

    @torch.inference_mode()
    def score_batch(self, items: Sequence[Mapping[str, Any]]) -> list[dict[str, float]]:
        """Score several samples, or several edits of one sample, sharing backbone calls.

        Each item holds :meth:`score`'s arguments (``sample_id``, ``source``, ``edited``, ``mask``, ``style``,
        optional ``target``). The results equal :meth:`score` on each item in turn (to float rounding, ~1e-7),
        but the images of all items go through LPIPS and CLIP ``batch_size`` at a time and each distinct
        source is encoded once.
        """
        jobs = [self._job(i, item) for i, item in enumerate(items)]
        for job in jobs:
            job.values = self._pixel_values(job.sample, job.region)
        if self._wanted & _LPIPS_METRICS:
            self._lpips_values(jobs)
        if self._wanted & _CLIP_METRICS:
            self._clip_values(jobs)
        return [self._combined(job.values) for job in jobs]

    def _job(self, index: int, item: Mapping[str, Any]) -> _Job:
        missing = sorted({"sample_id", "source", "edited", "mask", "style"} - set(item))
        unknown = sorted(set(item) - {"sample_id", "source", "edited", "mask", "style", "target"})
        if missing or unknown:
            raise UsageError(f"score_batch item {index} (sample {item.get('sample_id', '?')}): missing keys "
                             f"{missing}, unknown keys {unknown}; each item holds score()'s arguments.")
        s = prepare_sample(item["sample_id"], item["source"], item["edited"], item["mask"], item.get("target"),
                           self.options.mask_threshold)
        key = _sample_key(s)
        needs = self._needs
        return _Job(s, item["style"], background_region(s.mask, self.options.boundary, s.sample_id),
                    _lru(self._features, key, self.options.source_cache_size) if "lpips" in needs else {},
                    _lru(self._embeddings, key, EMBEDDING_CACHE_SIZE) if "clip" in needs else {})

    def _combined(self, values: dict[str, float]) -> dict[str, float]:
        o = self.options
        if "rses" in self._wanted:
            values["rses"] = rses_score(values["rsm_gain"], values["lpips_bg"], o.gain_scale, o.lpips_ceiling)
        if "rses_ref" in self._wanted:
            values["rses_ref"] = (math.nan if math.isnan(values["ref_gain"]) else rses_ref_score(
                values["ref_gain"], values["psnr_bg"], o.psnr_floor, o.psnr_ceil))
        return {name: values[name] for name in self.metrics}

    def _pixel_values(self, s: PreparedSample, region: torch.Tensor) -> dict[str, float]:
        wanted, out = self._wanted, {}
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
        if "mse_in" in wanted:
            out["mse_in"] = fidelity.mse_in(s.edited, s.target, s.mask)
        if "ref_gain" in wanted:
            out["ref_gain"] = fidelity.ref_gain(s.source, s.edited, s.target, s.mask)
        if "ssim_in" in wanted:
            out["ssim_in"] = fidelity.ssim_in(s.edited, s.target, s.mask)
        return out

    def _lpips_values(self, jobs: list[_Job]) -> None:
        """LPIPS_bg / LPIPS_in: one trunk pass per edited image, per uncached source and per uncached target."""
        want_in = "lpips_in" in self._wanted
        queue = _Queue()
        for job in jobs:
            queue.add(job.edits, "lpips_edited", job.sample.edited)
            if "lpips_bg" in self._wanted:
                queue.add(job.features, "lpips_source", job.sample.source)
            if want_in and job.sample.target is not None:
                queue.add(job.features, "lpips_target", job.sample.target)
        for group in queue.groups(lambda image: tuple(image.shape)):
            for chunk in _chunks(group, self.options.batch_size):
                images = [image for _, _, image in chunk]
                feats = (self.lpips.features_unit(images) if hasattr(self.lpips, "features_unit")
                         else self.lpips.features(to_lpips_range(torch.stack(images))))
                for i, (owner, key, _) in enumerate(chunk):
                    mine = [f[i:i + 1] for f in feats]  # cached ones are copied: a view would keep the batch
                    owner[key] = mine if key == "lpips_edited" else [f.clone() for f in mine]
        for job in jobs:
            if "lpips_bg" in self._wanted:
                job.values["lpips_bg"] = self._region_lpips(job, "lpips_source", job.region)
            if want_in:
                job.values["lpips_in"] = (math.nan if job.sample.target is None
                                          else self._region_lpips(job, "lpips_target", job.sample.mask))

    def _region_lpips(self, job: _Job, reference: str, region: torch.Tensor) -> float:
        """LPIPS of the edit vs a cached reference, averaged over ``region`` (upsampling weights cached too)."""
        ref, edited = job.features[reference], job.edits["lpips_edited"]
        if not hasattr(self.lpips, "layer_maps"):  # a custom backend with only a distance map
            return masked_mean(self.lpips.distance_map(ref, edited, tuple(region.shape))[0, 0].cpu(), region)
        weights = job.features.setdefault(f"{reference}_weights", {})
        return region_mean(self.lpips.layer_maps(ref, edited), region, weights)

    def _clip_values(self, jobs: list[_Job]) -> None:
        """RSM, strict RSM, RSM gain and style leakage: one CLIP pass per crop, sources cached."""
        clip, o, wanted = self.clip, self.options, self._wanted
        queue = _Queue()
        for job in jobs:
            s = job.sample
            if "rsm" in wanted:
                queue.add(job.edits, "rsm", lambda s=s: object_crop(s.edited_u8, s.mask, o.padding))
            if "rsm_strict" in wanted:
                queue.add(job.edits, "rsm_strict", lambda s=s: object_crop(s.edited_u8, s.mask, o.padding, clip.fill))
            if "rsm_gain" in wanted:
                queue.add(job.embeddings, "rsm_source", lambda s=s: object_crop(s.source_u8, s.mask, o.padding))
            if "style_leakage" in wanted:
                queue.add(job.edits, "leak_edited", lambda s=s: background_image(s.edited_u8, s.mask, clip.fill))
                queue.add(job.embeddings, "leak_source", lambda s=s: background_image(s.source_u8, s.mask, clip.fill))
        for chunk in _chunks(queue.items, o.batch_size):
            emb = clip.encode_images([crop() for _, _, crop in chunk]).cpu()
            for (owner, key, _), row in zip(chunk, emb, strict=True):
                owner[key] = row
        texts = list(dict.fromkeys(style_text(job.style, o.style_template) for job in jobs))
        text_emb = dict(zip(texts, clip.encode_texts(texts).cpu(), strict=True))
        for job in jobs:
            text = text_emb[style_text(job.style, o.style_template)]
            embs = {k: job.edits.get(k, job.embeddings.get(k)) for k in _CLIP_KEYS}
            sim = {k: float(rsm_from_embeddings(v, text)) for k, v in embs.items() if v is not None}
            job.values.update({k: sim[k] for k in ("rsm", "rsm_strict") if k in wanted})
            if "rsm_gain" in wanted:
                job.values["rsm_gain"] = sim["rsm"] - sim["rsm_source"]
            if "style_leakage" in wanted:
                job.values["style_leakage"] = sim["leak_edited"] - sim["leak_source"]

    # ------------------------------------------------------------------------------------------ state
    def update(self, sample_id: str, source, edited, mask, style: str, target=None) -> dict[str, float]:
        """Score one sample and keep its row for :meth:`compute`; returns the row's metric values."""
        values = self.score(sample_id, source, edited, mask, style, target)
        self._rows.append({"sample_id": sample_id, **values})
        return values

    def update_batch(self, items: Sequence[Mapping[str, Any]]) -> list[dict[str, float]]:
        """:meth:`score_batch`, keeping every item's row for :meth:`compute`."""
        values = self.score_batch(items)
        self._rows.extend({"sample_id": item["sample_id"], **row} for item, row in zip(items, values, strict=True))
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
        cfg: dict[str, Any] = {"metrics": list(self.metrics), "smoke": self.smoke, "device": str(self.device),
                               "dtype": str(self.dtype).removeprefix("torch."), **dataclasses.asdict(self.options)}
        cfg["style_text_example"] = style_text("pixel-art", self.options.style_template)
        if "clip" in self._needs:
            cfg["clip"] = {"model": self.options.clip_model, "pretrained": self.options.clip_pretrained,
                           "weights": self.clip_weights, "open_clip_version": _version("open_clip_torch")}
            if self._clip is not None:
                cfg["clip"] |= {"key": self._clip.key, "resolved": getattr(self._clip, "weights", None)}
        if "lpips" in self._needs:
            cfg["lpips"] = {"net": self.options.lpips_net, "version": "0.1", "weights": self.lpips_weights,
                            "lpips_version": _version("lpips")}
            if self._lpips is not None:
                cfg["lpips"] |= {"key": self._lpips.key, "resolved": getattr(self._lpips, "weights", None)}
        return cfg


@dataclass
class _Job:
    """One item of a :meth:`RSES.score_batch` call while it is being scored."""

    sample: PreparedSample
    style: str
    region: torch.Tensor
    features: dict[str, Any]  # cached LPIPS features of the source / target (shared by the sample's jobs)
    embeddings: dict[str, Any]  # cached CLIP embeddings of the source crops (shared likewise)
    edits: dict[str, Any] = field(default_factory=dict)  # this edit's own features and embeddings
    values: dict[str, float] = field(default_factory=dict)


class _Queue:
    """Images to encode, each with the dict and key its result goes to; a key already there or queued is skipped."""

    def __init__(self):
        self.items: list[tuple[dict[str, Any], str, Any]] = []
        self._seen: set[tuple[int, str]] = set()

    def add(self, owner: dict[str, Any], key: str, image: Any) -> None:
        if key not in owner and (id(owner), key) not in self._seen:
            self._seen.add((id(owner), key))
            self.items.append((owner, key, image))

    def groups(self, by: Callable[[Any], Any]) -> list[list[tuple[dict[str, Any], str, Any]]]:
        """The queued items grouped by ``by(image)`` (e.g. the shape, for stacking), in queue order."""
        out: dict[Any, list] = {}
        for item in self.items:
            out.setdefault(by(item[2]), []).append(item)
        return list(out.values())


def _chunks(items: list, size: int) -> list[list]:
    size = max(1, size)
    return [items[i:i + size] for i in range(0, len(items), size)]


def _lru(store: OrderedDict, key: tuple[str, str], size: int) -> dict[str, Any]:
    """The entry for ``key`` in an LRU ``store`` of at most ``size`` entries (created empty if missing)."""
    if key in store:
        store.move_to_end(key)
    else:
        store[key] = {}
        while len(store) > max(1, size):
            store.popitem(last=False)
    return store[key]


def _sample_key(s: PreparedSample) -> tuple[str, str]:
    """The cache key of a sample: its id and a hash of its source, mask and target."""
    h = hashlib.sha1(usedforsecurity=False)  # sha1: the fastest hashlib has here
    for array in (s.source_u8, s.mask.numpy(), s.target_u8):
        if array is not None:
            h.update(np.ascontiguousarray(array).data)
    return s.sample_id, h.hexdigest()


def _with_dependencies(metrics: Sequence[str]) -> frozenset[str]:
    """The metrics to compute: the selected ones plus, transitively, those they are computed from."""
    wanted, todo = set(), list(metrics)
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo.extend(_DEPENDS.get(name, ()))
    return frozenset(wanted)


def _version(distribution: str) -> str:
    """An installed package's version, read from its metadata (importing lpips / open_clip costs seconds)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"
