"""The :class:`MetricSuite` metric object: picks metrics, loads the models once, caches per-sample source work.

Scoring K edited versions of one sample costs K + 1 backbone passes for LPIPS and the CLIP source crops,
not 2K: source (and target) LPIPS features are kept in an LRU of ``source_cache_size`` samples keyed by the
sample id and a hash of its source, mask and target (score sample-major, or keep the size >= the number of
samples), source CLIP embeddings in a larger one (:data:`EMBEDDING_CACHE_SIZE`), and text embeddings per
(model, text). :meth:`MetricSuite.score_batch` scores many items with ``batch_size`` images per backbone call.

What to compute comes from the catalogue (:mod:`rses.metrics.catalog`: each metric's group, ``derives_from``
and ``formula``); this module holds the one class and its four measuring stages (pixel, LPIPS, CLIP, VLM),
which share the per-sample caches, hence its length (~480 lines). Options: :mod:`rses.metrics.suite_config`;
batching helpers: :mod:`rses.metrics.batching`; backend interfaces: :mod:`rses.metrics.protocols`.

Example:
    >>> import numpy as np
    >>> src = np.zeros((8, 8, 3), np.uint8); m = np.zeros((8, 8), bool); m[:4, :4] = True
    >>> MetricSuite(metrics="pixel").score("s0", src, src, m, "pixel-art")["pixel_consistency"]
    1.0
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from rses.errors import UsageError
from rses.metrics import fidelity, pixel
from rses.metrics.batching import Queue, arrays_key, chunks, digest, lru, to_host
from rses.metrics.catalog import GROUPS, METRICS, select_metrics, with_dependencies
from rses.metrics.inputs import LPIPS_MIN_SIDE, PreparedSample, prepare_sample
from rses.metrics.regions import background_region
from rses.metrics.suite_config import (  # noqa: F401 (METRIC_DTYPES: re-exported, its old home)
    BATCH_SIZES,
    CROP_POLICIES,
    METRIC_DTYPES,
    QUESTIONS,
    MetricSuiteConfig,
    check_option_types,
    metric_dtype,
    style_text,
)
from rses.weights import WeightSpec, check_all

if TYPE_CHECKING:
    import torch

    from rses.metrics.protocols import ClipBackend, LpipsBackend, VlmBackend

logger = logging.getLogger(__name__)

_VLM_METRICS = frozenset(m for m, info in METRICS.items() if info.group == "vlm" and info.formula is None)
_CLIP_KEYS = ("rsm", "rsm_strict", "rsm_source", "leak_edited", "leak_source")
EMBEDDING_CACHE_SIZE = 4096  # CLIP source embeddings kept (a few KB each), independent of source_cache_size


class MetricSuite:
    """Score edited images against their sources: per-sample ``score``, or ``update`` / ``compute`` / ``reset``.

    Args:
        metrics: names or groups (``pixel``, ``lpips``, ``clip``, ``all``), a list or comma-separated string.
        device, dtype: where and in which precision the learned models run (``dtype``: a torch dtype or a
            :data:`METRIC_DTYPES` name; pixel metrics are float64, on the device when it is CUDA).
        clip_weights, lpips_weights: weight references (hub id, file or directory); default: env var, then
            the pinned default (see :mod:`rses.metrics.backends`).
        smoke: use the tiny random models of :mod:`rses.metrics.tiny_models`; numbers are NOT meaningful
            (``config()["smoke"]``).
        clip_backend, lpips_backend: ready backends to inject (tests, custom models).
        vlm_weights: the VLM judge's model folder or hub id (default: ``RSES_VLM_WEIGHTS``, then the pinned
            Qwen2.5-VL-7B-Instruct revision); vlm_backend: a ready :class:`~rses.metrics.vlm.VlmJudge`.
        **options: fields of :class:`MetricSuiteConfig`.
    """

    def __init__(
        self,
        metrics: str | Sequence[str] = "all",
        device: str = "cpu",
        dtype: torch.dtype | str = "fp32",
        clip_weights: str | None = None,
        lpips_weights: str | None = None,
        smoke: bool = False,
        clip_backend: ClipBackend | None = None,
        lpips_backend: LpipsBackend | None = None,
        vlm_weights: str | None = None,
        vlm_backend: VlmBackend | None = None,
        **options: Any,
    ) -> None:
        fields = {f.name for f in dataclasses.fields(MetricSuiteConfig)}
        unknown = sorted(set(options) - fields)
        if unknown:
            raise UsageError(f"Unknown RSES option(s) {unknown}; valid options: {sorted(fields)}.")
        check_option_types(options)
        self.options = MetricSuiteConfig(**options)
        if self.options.pixel_range not in pixel.PIXEL_RANGES:
            raise UsageError(
                f"pixel_range must be one of {pixel.PIXEL_RANGES}, got {self.options.pixel_range!r}."
            )
        if self.options.crop_policy not in CROP_POLICIES:
            from rses.metrics.clip_views import check_crop_policy

            check_crop_policy(self.options.crop_policy)  # raises the error that names the policies
        self.metrics = select_metrics(metrics)
        if not (isinstance(dtype, str) and dtype in METRIC_DTYPES):
            metric_dtype(dtype)  # a torch dtype passes, an unknown name raises
        self.device, self._dtype, self.smoke = device, dtype, smoke
        device_type = str(device).split(":")[0]
        if self.options.batch_size is None:
            self.options.batch_size = BATCH_SIZES.get(device_type, BATCH_SIZES["cpu"])
        # pixel metrics run in float64: as torch tensors on a CUDA device next to the models, elsewhere (CPU,
        # MPS) as NumPy arrays on the CPU, without torch (rses.metrics.arrays)
        self._pixel_device = str(device) if device_type == "cuda" else None
        self.clip_weights, self.lpips_weights = clip_weights, lpips_weights
        order = with_dependencies(self.metrics)  # what the catalogue says to compute, dependencies first
        self._wanted = frozenset(order)
        self._needs = set().union(*(METRICS[m].needs for m in order))
        self._derived = [m for m in order if METRICS[m].formula is not None]
        measured = {METRICS[m].group for m in order if METRICS[m].formula is None}
        stages = {
            "pixel": None,
            "lpips": self._lpips_values,
            "clip": self._clip_values,
            "vlm": self._vlm_values,
        }
        if measured - set(stages):
            bad = sorted(m for m in order if METRICS[m].formula is None and METRICS[m].group not in stages)
            raise UsageError(
                f"Metric(s) {', '.join(bad)} have no formula and a group no suite stage measures "
                f"(stages: {', '.join(stages)}); give each a formula and derives_from in the catalogue."
            )
        self._stages = [stages[g] for g in GROUPS if g in measured and stages.get(g) is not None]
        self._clip, self._lpips = clip_backend, lpips_backend
        self.vlm_weights, self._vlm = vlm_weights, vlm_backend
        if set(self.options.vlm_questions) != set(QUESTIONS):
            raise UsageError(
                f"vlm_questions must have exactly the keys {sorted(QUESTIONS)}, got "
                f"{sorted(self.options.vlm_questions)}."
            )
        if "vlm" in self._needs or any(name.startswith("vlm_") for name in options):
            from rses.metrics.vlm import check_options as check_vlm_options

            o = self.options
            check_vlm_options(o.vlm_questions, o.vlm_opposites, o.vlm_max_pixels)
        self._features: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()  # LPIPS, per sample
        self._embeddings: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()  # CLIP, per sample
        self._rows: list[dict[str, Any]] = []
        self._warned_target = False

    @property
    def dtype(self) -> torch.dtype:
        """The torch dtype the learned models run in (importing torch: pixel-only suites never ask)."""
        return metric_dtype(self._dtype)

    # ------------------------------------------------------------------------------------------ weights
    def weights(self) -> list[WeightSpec]:
        """The weight specs the selected metrics need (none for pixel metrics or smoke mode)."""
        if self.smoke or not self._needs:
            return []
        from rses.metrics import backends

        specs = []
        if "clip" in self._needs and self._clip is None:
            specs.append(backends.clip_weight_spec(self.options.clip_model, self.options.clip_pretrained))
        if "lpips" in self._needs and self._lpips is None:
            specs.append(backends.lpips_weight_spec(self.options.lpips_net))
        if "vlm" in self._needs and self._vlm is None:
            from rses.weights import QWEN_VL_JUDGE

            specs.append(QWEN_VL_JUDGE)
        return specs

    def check_weights(self) -> None:
        """Resolve every needed weight file now; raises :class:`~rses.errors.WeightsNotFoundError` naming every
        missing one.
        """
        if self.smoke or not self._needs:
            return
        from rses.metrics import backends

        o, checks = self.options, []
        if "clip" in self._needs and self._clip is None:
            checks.append(
                lambda: backends.resolve_clip_checkpoint(
                    backends.clip_weight_spec(o.clip_model, o.clip_pretrained),
                    self.clip_weights,
                    o.allow_pickle,
                )
            )
        if "lpips" in self._needs and self._lpips is None:
            checks.append(
                lambda: backends.resolve_lpips_backbone(o.lpips_net, self.lpips_weights, o.allow_pickle)
            )
        if "vlm" in self._needs and self._vlm is None:
            from rses.metrics.vlm import resolve_judge

            checks.append(lambda: resolve_judge(ref=self.vlm_weights, allow_pickle=o.allow_pickle))
        check_all(checks)  # every missing weight in one message

    @property
    def clip(self) -> ClipBackend:
        """The CLIP backend, loaded on first use."""
        if self._clip is None:
            from rses.metrics import backends

            if self.smoke:
                from rses.metrics.tiny_models import tiny_clip_backend

                self._clip = tiny_clip_backend(device=self.device, dtype=self.dtype)
            else:
                self._clip = backends.load_clip(
                    self.options.clip_model,
                    self.options.clip_pretrained,
                    self.clip_weights,
                    self.device,
                    self.dtype,
                    self.options.allow_pickle,
                )
        return self._clip

    @property
    def lpips(self) -> LpipsBackend:
        """The LPIPS backend, loaded on first use."""
        if self._lpips is None:
            from rses.metrics import backends

            if self.smoke:
                from rses.metrics.tiny_models import tiny_lpips_backend

                self._lpips = tiny_lpips_backend(
                    net=self.options.lpips_net, device=self.device, dtype=self.dtype
                )
            else:
                self._lpips = backends.load_lpips(
                    self.options.lpips_net,
                    self.lpips_weights,
                    self.device,
                    self.dtype,
                    self.options.allow_pickle,
                )
        return self._lpips

    def check_styles(self, styles: Any) -> None:
        """Refuse, before any work, styles the selected VLM questions cannot ask about (no opposite style)."""
        if self._wanted & {"vlm_obj_opposite", "vlm_bg_opposite"}:
            from rses.metrics.vlm import opposite_style

            for style in sorted(set(styles)):
                opposite_style(style, self.options.vlm_opposites)

    @property
    def vlm(self) -> VlmBackend:
        """The VLM judge, loaded on first use (smoke: the tiny random Qwen2.5-VL folder)."""
        if self._vlm is None:
            from rses.metrics.vlm import AnswerCache, load_judge, resolve_judge

            if self.smoke:
                from rses.metrics.tiny_qwen_vl import tiny_qwen_vl_dir

                folder = tiny_qwen_vl_dir()
            else:
                folder = resolve_judge(ref=self.vlm_weights, allow_pickle=self.options.allow_pickle)
            self._vlm = load_judge(
                folder, self.device, None, self.options.batch_size, self.options.vlm_max_pixels, AnswerCache()
            )
        return self._vlm

    # ------------------------------------------------------------------------------------------ scoring
    def score(
        self, sample_id: str, source: Any, edited: Any, mask: Any, style: str, target: Any = None
    ) -> dict[str, float]:
        """All selected metrics for one sample; target-based metrics are NaN when ``target`` is None."""
        return self.score_batch(
            [
                {
                    "sample_id": sample_id,
                    "source": source,
                    "edited": edited,
                    "mask": mask,
                    "style": style,
                    "target": target,
                }
            ]
        )[0]

    def score_batch(self, items: Sequence[Mapping[str, Any]]) -> list[dict[str, float]]:
        """Score several samples, or several edits of one sample, sharing backbone calls.

        Each item holds :meth:`score`'s arguments (``sample_id``, ``source``, ``edited``, ``mask``, ``style``,
        optional ``target``). The results equal :meth:`score` on each item in turn (to float rounding, ~1e-7),
        but the images of all items go through LPIPS and CLIP ``batch_size`` at a time and each distinct
        source is encoded once. Every value stays on its device until the whole batch is scored, then all
        are read back at once (one host transfer per device). Inputs equal to the ones they are compared
        with (same bytes) are recognised, not encoded twice: an identity edit scores exactly 0 LPIPS,
        RSM gain and style leakage, on any CPU. Pixel metrics alone never import torch (off a CUDA device).
        """
        jobs = [self._job(i, item) for i, item in enumerate(items)]
        for job in jobs:
            job.values = self._pixel_values(job.sample, job.region)
        if self._stages:  # the groups of the measured learned metrics, in catalogue order
            import torch

            with torch.inference_mode():
                for stage in self._stages:
                    stage(jobs)
        to_host([job.values for job in jobs])
        return [self._derive(job.values) for job in jobs]

    def _job(self, index: int, item: Mapping[str, Any]) -> _Job:
        missing = sorted({"sample_id", "source", "edited", "mask", "style"} - set(item))
        unknown = sorted(set(item) - {"sample_id", "source", "edited", "mask", "style", "target"})
        if missing or unknown:
            raise UsageError(
                f"score_batch item {index} (sample {item.get('sample_id', '?')}): missing keys "
                f"{missing}, unknown keys {unknown}; each item holds score()'s arguments."
            )
        net = self.options.lpips_net
        min_side = (LPIPS_MIN_SIDE.get(net, 1), f"LPIPS ({net})") if "lpips" in self._needs else (1, "")
        s = prepare_sample(
            item["sample_id"],
            item["source"],
            item["edited"],
            item["mask"],
            item.get("target"),
            self.options.mask_threshold,
            min_side,
        )
        key = arrays_key(s.sample_id, (s.source_u8, s.mask, s.target_u8))
        needs = self._needs
        region = self._pixel_array(background_region(s.mask, self.options.boundary, s.sample_id))
        return _Job(
            s,
            item["style"],
            region,
            lru(self._features, key, self.options.source_cache_size) if "lpips" in needs else {},
            lru(self._embeddings, key, EMBEDDING_CACHE_SIZE) if "clip" in needs else {},
        )

    def _derive(self, values: dict[str, float]) -> dict[str, float]:
        """Add the derived metrics (catalogue formulas, dependencies first); keep the selected metrics."""
        for name in self._derived:
            missing = [d for d in METRICS[name].derives_from if d not in values]
            if missing:
                raise UsageError(
                    f"Metric {name} derives from {', '.join(missing)}, which no suite stage measured; "
                    "give it a formula and derives_from in the catalogue."
                )
            values[name] = METRICS[name].formula(values, self.options)
        missing = [name for name in self.metrics if name not in values]
        if missing:
            raise UsageError(
                f"Metric(s) {', '.join(missing)} are in the catalogue but no suite stage measures "
                f"them; give each a formula and derives_from in the catalogue."
            )
        return {name: values[name] for name in self.metrics}

    def _pixel_array(self, array: Any) -> Any:
        """A prepared NumPy array where the pixel metrics run: itself, or a tensor on the CUDA device."""
        if self._pixel_device is None:
            return array
        import torch

        return torch.as_tensor(array, device=self._pixel_device)

    def _pixel_values(self, s: PreparedSample, region: Any) -> dict[str, Any]:
        """The pixel metrics as float64 0-d values (NumPy, or tensors on the device; read back with the batch)."""
        wanted, out = self._wanted, {}
        source, edited = self._pixel_array(s.source), self._pixel_array(s.edited)
        if wanted & {"mse_bg", "psnr_bg"}:
            mse = pixel.mse_bg_t(source, edited, region)
            out["mse_bg"] = mse * 4.0 if self.options.pixel_range == "symmetric" else mse
            out["psnr_bg"] = pixel.psnr_from_mse_t(mse)
        if "ssim_bg" in wanted:
            out["ssim_bg"] = pixel.ssim_bg_t(source, edited, region)
        if "pixel_consistency" in wanted:
            out["pixel_consistency"] = pixel.pixel_consistency_t(
                source, edited, region, self.options.consistency_tol
            )
        target_metrics = {m for m in wanted if METRICS[m].needs_target and METRICS[m].formula is None}
        if s.target is None:
            if target_metrics and not self._warned_target:
                logger.warning("Sample %s has no target: %s are NaN.", s.sample_id, sorted(target_metrics))
                self._warned_target = True
            return out | dict.fromkeys(target_metrics, math.nan)
        target, mask = self._pixel_array(s.target), self._pixel_array(s.mask)
        if "mse_in" in wanted:
            out["mse_in"] = fidelity.mse_in_t(edited, target, mask)
        if "ref_gain" in wanted:
            out["ref_gain"] = fidelity.ref_gain_t(source, edited, target, mask)
        if "ssim_in" in wanted:
            out["ssim_in"] = fidelity.ssim_in_t(edited, target, mask)
        return out

    def _lpips_values(self, jobs: list[_Job]) -> None:
        """LPIPS_bg / LPIPS_in: one trunk pass per edited image, per uncached source and per uncached target.

        An edit equal to its reference (same pixels) is not passed through the trunk: its LPIPS is exactly 0.
        """
        import torch

        from rses.metrics.lpips_bg import to_lpips_range
        from rses.metrics.protocols import LpipsUnitFeatures

        want_bg, want_in = "lpips_bg" in self._wanted, "lpips_in" in self._wanted
        queue = Queue()
        for job in jobs:
            s = job.sample
            job.same["lpips_source"] = np.array_equal(s.edited, s.source)
            job.same["lpips_target"] = s.target is not None and np.array_equal(s.edited, s.target)
            refs = [
                k
                for k, on in (("lpips_source", want_bg), ("lpips_target", want_in and s.target is not None))
                if on
            ]
            if not all(job.same[k] for k in refs):
                queue.add(job.edits, "lpips_edited", torch.from_numpy(s.edited))
            for key in refs:
                image = s.source if key == "lpips_source" else s.target
                queue.add(job.features, key, torch.from_numpy(image))
        # edits and the cached references go in separate batches: a cached feature is a view of its batch
        # (no copy), which then holds only cached features
        for group in queue.groups(lambda key, image: (key == "lpips_edited", tuple(image.shape))):
            for chunk in chunks(group, self.options.batch_size):
                images = [image for _, _, image in chunk]
                feats = (
                    self.lpips.features_unit(images)
                    if isinstance(self.lpips, LpipsUnitFeatures)
                    else self.lpips.features(to_lpips_range(torch.stack(images)))
                )
                for i, (owner, key, _) in enumerate(chunk):
                    owner[key] = [f[i : i + 1] for f in feats]
        for job in jobs:
            if want_bg:
                job.values["lpips_bg"] = self._region_lpips(job, "lpips_source", job.region)
            if want_in:
                job.values["lpips_in"] = (
                    math.nan
                    if job.sample.target is None
                    else self._region_lpips(job, "lpips_target", job.sample.mask)
                )

    def _region_lpips(self, job: _Job, reference: str, region: Any) -> Any:
        """LPIPS of the edit vs a cached reference, averaged over ``region`` (upsampling weights cached too)."""
        import torch

        from rses.metrics.lpips_bg import region_mean_t
        from rses.metrics.protocols import LpipsLayerMaps
        from rses.metrics.regions import masked_mean_t

        if job.same[reference]:
            return 0.0
        region = torch.as_tensor(region)
        ref, edited = job.features[reference], job.edits["lpips_edited"]
        if not isinstance(self.lpips, LpipsLayerMaps):  # a custom backend with only a distance map
            return masked_mean_t(
                self.lpips.distance_map(ref, edited, tuple(region.shape))[0, 0], region.to(ref[0].device)
            )
        weights = job.features.setdefault(f"{reference}_weights", {})
        return region_mean_t(self.lpips.layer_maps(ref, edited), region, weights)

    def _clip_values(self, jobs: list[_Job]) -> None:
        """RSM, strict RSM, RSM gain and style leakage: one CLIP pass per view of each input, sources cached.

        Each input becomes square views by ``crop_policy`` (:mod:`rses.metrics.clip_views`). Inputs with the
        same bytes (an edited crop equal to its source crop, a background the edit left alone) share one
        embedding and one similarity, so their differences (gain, leakage) are exactly 0.
        """
        import torch

        from rses.metrics.clip_views import clip_views, combine_views
        from rses.metrics.leakage import background_image
        from rses.metrics.rsm import object_crop, rsm_from_embeddings

        clip, o, wanted = self.clip, self.options, self._wanted
        keys = [
            k
            for k, metric in (
                ("rsm_source", "rsm_gain"),
                ("leak_source", "style_leakage"),
                ("rsm", "rsm"),
                ("rsm_strict", "rsm_strict"),
                ("leak_edited", "style_leakage"),
            )
            if metric in wanted
        ]  # sources first: edits equal to them become aliases
        inputs = {
            "rsm": lambda s: object_crop(s.edited_u8, torch.from_numpy(s.mask), o.padding),
            "rsm_strict": lambda s: object_crop(s.edited_u8, torch.from_numpy(s.mask), o.padding, clip.fill),
            "rsm_source": lambda s: object_crop(s.source_u8, torch.from_numpy(s.mask), o.padding),
            "leak_edited": lambda s: background_image(s.edited_u8, torch.from_numpy(s.mask), clip.fill),
            "leak_source": lambda s: background_image(s.source_u8, torch.from_numpy(s.mask), clip.fill),
        }
        queue, first, aliases = Queue(), {}, []  # first: input digest -> (owner, key) that embeds it
        for job in jobs:
            for key in keys:
                owner = job.embeddings if key.endswith("_source") else job.edits
                if key in owner:  # a cached source embedding
                    first.setdefault(owner[f"{key}#digest"], (owner, key))
                    continue
                image = inputs[key](job.sample)
                image_digest = owner[f"{key}#digest"] = digest(image)
                prev_owner, prev_key = first.setdefault(image_digest, (owner, key))
                if prev_owner is not owner or prev_key != key:
                    aliases.append((owner, key, prev_owner, prev_key))
                else:
                    queue.add(owner, key, image)
        views = [clip_views(image, o.crop_policy, clip.fill) for _, _, image in queue.items]
        flat = [view for item_views in views for view in item_views]
        if flat:
            emb = torch.cat([clip.encode_images(chunk) for chunk in chunks(flat, o.batch_size)])
            bounds = np.cumsum([0] + [len(v) for v in views]).tolist()
            for (owner, key, _), a, b in zip(queue.items, bounds[:-1], bounds[1:], strict=True):
                owner[key] = combine_views(emb[a:b])
        for owner, key, first_owner, first_key in aliases:
            owner[key] = first_owner[first_key]
        texts = list(dict.fromkeys(style_text(job.style, o.style_template) for job in jobs))
        text_emb = dict(zip(texts, clip.encode_texts(texts), strict=True))
        for job in jobs:
            text = text_emb[style_text(job.style, o.style_template)]
            embs = {k: job.edits.get(k, job.embeddings.get(k)) for k in _CLIP_KEYS}
            sims: dict[
                int, torch.Tensor
            ] = {}  # one similarity per distinct embedding: equal inputs, equal values
            sim = {
                k: sims.setdefault(id(v), rsm_from_embeddings(v, text))
                for k, v in embs.items()
                if v is not None
            }
            job.values.update({k: sim[k] for k in ("rsm", "rsm_strict") if k in wanted})
            if "rsm_gain" in wanted:
                job.values["rsm_gain"] = sim["rsm"] - sim["rsm_source"]
            if "style_leakage" in wanted:
                job.values["style_leakage"] = sim["leak_edited"] - sim["leak_source"]

    def _vlm_values(self, jobs: list[_Job]) -> None:
        """The VLM judge's P(yes) for each wanted question of each job, all in one batched judge call."""
        import torch

        from rses.metrics.vlm import judge_questions, region_views

        o, asked = self.options, []
        for job in jobs:
            questions = judge_questions(
                job.style, sorted(self._wanted & _VLM_METRICS), o.vlm_questions, o.vlm_opposites
            )
            views = region_views(job.sample.edited_u8, torch.from_numpy(job.sample.mask), o.padding)
            asked.extend((job, metric, views[view], text) for metric, (view, text) in questions.items())
        answers = self.vlm.p_yes([a[2] for a in asked], [a[3] for a in asked])
        for (job, metric, _, _), p in zip(asked, answers, strict=True):
            job.values[metric] = p

    # ------------------------------------------------------------------------------------------ state
    def update(
        self, sample_id: str, source: Any, edited: Any, mask: Any, style: str, target: Any = None
    ) -> dict[str, float]:
        """Score one sample and keep its row for :meth:`compute`; returns the row's metric values."""
        values = self.score(sample_id, source, edited, mask, style, target)
        self._rows.append({"sample_id": sample_id, **values})
        return values

    def update_batch(self, items: Sequence[Mapping[str, Any]]) -> list[dict[str, float]]:
        """:meth:`score_batch`, keeping every item's row for :meth:`compute`."""
        values = self.score_batch(items)
        self._rows.extend(
            {"sample_id": item["sample_id"], **row} for item, row in zip(items, values, strict=True)
        )
        return values

    @property
    def rows(self) -> list[dict[str, Any]]:
        """Per-sample rows kept by :meth:`update` (``sample_id`` plus one value per metric)."""
        return list(self._rows)

    def compute(self) -> dict[str, float]:
        """Mean of each metric over the updated samples (NaNs skipped; NaN if none)."""
        if not self._rows:
            raise UsageError(
                "MetricSuite.compute() called before any update(); score at least one sample first."
            )
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
        o = self.options
        cfg: dict[str, Any] = {
            "metrics": list(self.metrics),
            "smoke": self.smoke,
            "device": str(self.device),
            "dtype": METRIC_DTYPES.get(self._dtype) or str(self._dtype).removeprefix("torch."),
            **dataclasses.asdict(self.options),
        }
        cfg["style_text_example"] = style_text("pixel-art", self.options.style_template)
        if "clip" in self._needs:
            cfg["clip"] = {
                "model": self.options.clip_model,
                "pretrained": self.options.clip_pretrained,
                "weights": self.clip_weights,
                "open_clip_version": _version("open_clip_torch"),
            }
            if self._clip is not None:
                cfg["clip"] |= {"key": self._clip.key, "resolved": getattr(self._clip, "weights", None)}
        if "lpips" in self._needs:
            cfg["lpips"] = {
                "net": self.options.lpips_net,
                "version": "0.1",
                "weights": self.lpips_weights,
                "lpips_version": _version("lpips"),
            }
            if self._lpips is not None:
                cfg["lpips"] |= {"key": self._lpips.key, "resolved": getattr(self._lpips, "weights", None)}
        if "vlm" in self._needs:
            from rses.metrics.vlm import judge_config

            judge = self.vlm  # loaded here: the run record needs its identity and rendered prompt
            cfg["vlm"] = judge_config(judge, o.vlm_questions, o.vlm_opposites, o.vlm_max_pixels) | {
                "weights": self.vlm_weights
            }
        return cfg


@dataclass
class _Job:
    """One item of a :meth:`MetricSuite.score_batch` call while it is being scored."""

    sample: PreparedSample
    style: str
    region: Any  # (H, W) bool: NumPy, or a tensor on the CUDA device of the pixel metrics
    features: dict[str, Any]  # cached LPIPS features of the source / target (shared by the sample's jobs)
    embeddings: dict[str, Any]  # cached CLIP embeddings of the source crops (shared likewise)
    edits: dict[str, Any] = field(default_factory=dict)  # this edit's own features and embeddings
    values: dict[str, Any] = field(default_factory=dict)  # floats, or 0-d arrays until to_host
    same: dict[str, bool] = field(default_factory=dict)  # reference key -> the edit equals that reference


# Old names, kept for one release (the suite class was renamed: "RSES" also names the package and one metric).
RSES = MetricSuite
RSESConfig = MetricSuiteConfig


def _version(distribution: str) -> str:
    """An installed package's version, read from its metadata (importing lpips / open_clip costs seconds)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"
