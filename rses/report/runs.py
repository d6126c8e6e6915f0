"""Run directories as the report sees them: one pooled per-sample table plus one :class:`RunInfo` per run.

The report reads what the runner writes (``run.json``, ``samples.parquet``/``samples.csv``) and never
re-scores. Every sample row gets a ``method`` column (the run's label), an absolute ``output_path``, and
the report keeps the runs' metadata (metric backend, whether the editor saw the mask) for the tables.

Example:
    >>> from rses.report.runs import metric_backend
    >>> metric_backend({"smoke": False, "metric_info": {"mse_bg": {"group": "pixel"}}})
    'weight-free'
    >>> metric_backend({"metric_info": {"rsm": {"group": "clip"}},
    ...                 "metric_config": {"clip": {"model": "ViT-B-32", "pretrained": "openai"}}})
    'CLIP ViT-B-32/openai'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rses.errors import UsageError
from rses.results import Run, load_run

if TYPE_CHECKING:  # pandas loads in load_runs: `rses leaderboard` only needs metric_backend
    import pandas as pd


@dataclass(frozen=True)
class RunInfo:
    """What the report needs to know about one run directory.

    Attributes:
        label: the name shown in tables and legends (the method, made unique across runs).
        path: the run directory.
        method: the editor name from ``run.json``.
        sees_mask: whether the editor was given the ground-truth mask.
        backend: which metric backend produced the numbers: ``weight-free``, ``CLIP <id>`` or ``smoke``.
        split: the split name from ``run.json``.
        metrics: the metric names the run scored, in its order.
        run: the run as :func:`rses.results.load_run` read it (``info`` is ``run.json``, plus ``summary``).
    """

    label: str
    path: Path
    method: str
    sees_mask: bool
    backend: str
    split: str
    metrics: tuple[str, ...]
    run: Run = field(repr=False)

    @property
    def meta(self) -> Mapping[str, Any]:
        """The run's ``run.json``."""
        return self.run.info


def metric_backend(meta: Mapping[str, Any]) -> str:
    """Name the metric backend a run was scored with, for table columns.

    ``smoke`` when the run used the test kit's random-weight models (numbers not meaningful); otherwise the
    learned models its metrics needed (``CLIP <model>/<pretrained>``, ``LPIPS <net>``, joined by ``+``), or
    ``weight-free`` when no metric needed one. Groups come from ``run.json``'s ``metric_info``, model ids
    from its ``metric_config`` (what :meth:`rses.metrics.MetricSuite.config` returned).
    """
    config = meta.get("metric_config") or {}
    if meta.get("smoke") or config.get("smoke"):
        return "smoke"
    info = meta.get("metric_info") or {}
    entries = [v for v in info.values() if isinstance(v, Mapping)]

    def needed(model: str) -> bool:  # "needs" may be a list or a stringified frozenset
        return any(v.get("group") == model or model in str(v.get("needs", "")) for v in entries)

    parts = []
    if needed("clip"):
        clip = config.get("clip") or {}
        model = clip.get("model") or config.get("clip_model")
        pretrained = clip.get("pretrained") or config.get("clip_pretrained")
        parts.append("CLIP " + "/".join(str(p) for p in (model, pretrained) if p) if model else "CLIP")
    if needed("lpips"):
        net = (config.get("lpips") or {}).get("net") or config.get("lpips_net")
        parts.append(f"LPIPS {net}" if net else "LPIPS")
    if needed("vlm"):
        vlm = config.get("vlm") or {}
        parts.append(
            f"VLM {vlm.get('model', '?')}@{str(vlm.get('snapshot') or vlm.get('revision') or '?')[:7]}"
        )
    return " + ".join(parts) or "weight-free"


def load_runs(paths: Sequence[str | Path]) -> tuple[pd.DataFrame, list[RunInfo]]:
    """Pool the per-sample tables of several runs (read with :func:`rses.results.load_run`).

    Returns:
        ``(samples, runs)``: every sample row of every run with ``method`` set to the run's label and
        ``output_path`` made absolute, and the runs in the given order.
    """
    import pandas as pd

    if not paths:
        raise UsageError("give at least one run directory")
    frames, runs = [], []
    for path in paths:
        run = load_run(path)
        meta = run.info
        method = str(meta.get("method", run.path.name))
        label = _unique_label(method, run.path, {r.label for r in runs})
        runs.append(
            RunInfo(
                label=label,
                path=run.path,
                method=method,
                sees_mask=bool(meta.get("editor_sees_mask", False)),
                backend=metric_backend(meta),
                split=_split_name(meta),
                metrics=tuple(run.metrics),
                run=run,
            )
        )
        frames.append(
            run.samples.assign(method=label, output_path=run.samples["output_path"].map(_absolute(run.path)))
        )
    return pd.concat(frames, ignore_index=True), runs


def _unique_label(method: str, path: Path, taken: set[str]) -> str:
    label = method if method not in taken else f"{method} ({path.name})"
    suffix = 2
    while label in taken:
        label, suffix = f"{method} ({path.name} #{suffix})", suffix + 1
    return label


def _split_name(meta: Mapping[str, Any]) -> str:
    split = meta.get("split", "")
    return str(split.get("name", "")) if isinstance(split, Mapping) else str(split)


def _absolute(run_dir: Path):
    def resolve(value: Any) -> str | None:
        if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
            return None
        p = Path(str(value))
        return str(p if p.is_absolute() else run_dir / p)

    return resolve


def metric_directions(runs: Sequence[RunInfo]) -> dict[str, bool]:
    """``{metric: higher_is_better}`` for every metric the runs scored, in first-seen order.

    Answered by :func:`rses.metrics.catalog.higher_is_better` (the catalogue, else the ``metric_info`` the
    runs recorded). Raises :class:`UsageError` for a metric with no known direction.
    """
    from rses.metrics.catalog import higher_is_better

    recorded = [run.meta.get("metric_info") or {} for run in runs]
    directions: dict[str, bool] = {}
    for run in runs:
        for name in run.metrics:
            if name in directions:
                continue
            direction = higher_is_better(name, recorded)
            if direction is None:
                raise UsageError(
                    f"run {run.path} scored metric {name!r}, which is neither described in its run.json "
                    "nor registered in rses.metrics.METRICS; install the package that registers it."
                )
            directions[name] = direction
    return directions


def source_lookup(runs: Sequence[RunInfo]) -> dict[str, tuple[Path, Path]]:
    """``{sample_id: (source path, mask path)}`` from the split manifests the runs used.

    Uses ``run.json``'s ``split_manifest`` path when it still exists, else loads the split by name.
    """
    from rses.data.manifest import load_split, read_manifest

    lookup: dict[str, tuple[Path, Path]] = {}
    for manifest, name in dict.fromkeys((r.meta.get("split_manifest") or "", r.split) for r in runs):
        if manifest and Path(manifest).is_file():
            split = read_manifest(manifest, name=name, verify=False)
        else:
            split = load_split(name, verify=False)
        lookup.update({s.id: (s.source, s.mask) for s in split.samples})
    return lookup
