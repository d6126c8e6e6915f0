"""What ``rses eval`` runs (:class:`RunConfig`), what it did (:class:`RunResult`), and the seed of each sample.

Example:
    >>> RunConfig(method="identity", split="builtin").shard
    (0, 1)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Metric options that change no number (recorded in ``metric_config`` only, so a resume may change them).
NUMBER_NEUTRAL_OPTIONS = ("allow_pickle", "batch_size")
SEED_DERIVATION = "int.from_bytes(sha256(f'{seed}:{sample_id}').digest()[:4], 'big')"


@dataclass
class RunConfig:
    """What ``rses eval`` runs.

    Args:
        method: editor name in the ``EDITORS`` registry.
        split: split name or manifest path (see ``rses.data.manifest.load_split``).
        out: run directory; default ``runs/<method>-<split name>``.
        device: torch device for the editor and the learned metrics.
        batch_size: samples per ``Editor.edit`` call.
        limit: only the first ``limit`` samples of the split.
        shard: ``(i, n)``: this process runs samples ``i, i+n, i+2n, ...`` of the (limited) split.
        seed: base seed; sample seeds derive from it and the sample id (``SEED_DERIVATION``).
        metrics: metric names or groups, as ``rses.metrics.select_metrics`` takes them.
        smoke: tiny random-weight models of the test kit (numbers are not meaningful).
        editor_config: overrides of the editor's ``Config`` fields.
        clip_weights: CLIP checkpoint reference for the learned metrics (default: ``RSES_CLIP_WEIGHTS`` or the hub).
        lpips_weights: LPIPS backbone reference (default: ``RSES_LPIPS_WEIGHTS`` or the torchvision cache).
        vlm_weights: VLM judge folder or hub id for the vlm metrics (default: ``RSES_VLM_WEIGHTS`` or the hub).
        metric_options: :class:`rses.metrics.RSESConfig` fields (``mask_threshold``, ``boundary``,
            ``vlm_opposites``, ...); ``mask_threshold`` also binarizes the split's masks when they are loaded.
            Those that change numbers are recorded in run.json, and a run cannot be resumed with other ones.
        skip_weight_check: do not check weights against their known digests; the run is recorded as
            ``weight_check: "skipped"`` and never ranked.
        retry_failed: on resume, run the samples recorded as failed again.
        threads: CPU intra-op threads (``None``: by workload, see :mod:`rses.threads`); recorded in run.json.
        command: the command line, recorded in run.json.
        sample_timeout: seconds an editor call may take per sample (a batch gets ``batch size`` times as
            long); a call that takes longer is abandoned and its samples become failed rows
            (see :mod:`rses.isolation`). ``None``: no limit.
        crop_policy: how CLIP metrics see a region (``rses.metrics.clip_views``); recorded when a CLIP metric runs.
        metric_dtype: precision of the learned metrics (``fp32``, ``bf16``, ``fp16``); recorded when one runs.
    """

    method: str
    split: str
    out: Path | None = None
    device: str = "cpu"
    batch_size: int = 1
    limit: int | None = None
    shard: tuple[int, int] = (0, 1)
    seed: int = 0
    metrics: str | Sequence[str] = "all"
    smoke: bool = False
    editor_config: dict[str, Any] = field(default_factory=dict)
    clip_weights: str | None = None
    lpips_weights: str | None = None
    vlm_weights: str | None = None
    metric_options: dict[str, Any] = field(default_factory=dict)
    skip_weight_check: bool = False
    retry_failed: bool = False
    threads: int | None = None
    command: str = ""
    sample_timeout: float | None = None
    crop_policy: str = "letterbox"
    metric_dtype: str = "fp32"


@dataclass
class RunResult:
    """What a call of :func:`run_eval` did."""

    run_dir: Path
    n_new: int  # rows this process added
    n_skipped: int  # samples already recorded by an earlier (interrupted) run
    n_ok: int  # ok rows in the final table (rank 0) or this process's part (other ranks)
    n_failed: int
    complete: bool  # every selected sample has a row (always False on ranks other than 0)
    merged: bool  # this process wrote the tables


def sample_seed(seed: int, sample_id: str) -> int:
    """The seed of one sample: stable across runs, machines, shards and batch sizes.

    Example:
        >>> sample_seed(0, "a") == sample_seed(0, "a") != sample_seed(1, "a")
        True
    """
    return int.from_bytes(hashlib.sha256(f"{seed}:{sample_id}".encode()).digest()[:4], "big")
