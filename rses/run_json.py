"""The run.json of a session: built from the run's config, editor and metrics, checked against an earlier one.

:func:`build_run_record` makes a fresh session's record (:class:`rses.run_record.RunRecord`, the schema);
:func:`prepare_run_json` writes it, or, for a resumed run, checks that the run directory holds the same run
(``RESUME_KEYS``) and keeps the earlier counts; :func:`identify_models` says what every weight resolved to.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import rses
from rses.edit_checks import RESIZE_METHOD, SIZE_POLICY
from rses.editing import Editor
from rses.errors import RsesError
from rses.provenance import environment_info, now_utc
from rses.results import RUN_JSON
from rses.run_config import NUMBER_NEUTRAL_OPTIONS, SEED_DERIVATION, RunConfig
from rses.run_record import (
    KEPT_ON_RESUME,
    RESUME_KEYS,
    SCHEMA_VERSION,
    RunRecord,
    read_run_record,
    write_run_record,
)
from rses.weight_identity import WeightIdentity, metric_identities, weights_key

log = logging.getLogger(__name__)


def build_run_record(
    cfg: RunConfig,
    editor: Editor,
    scorer: Any,
    split: Any,
    metric_info: dict[str, dict],
    models: tuple[list[WeightIdentity], list[WeightIdentity]],
) -> RunRecord:
    """The run.json of a fresh session (counts zero, ``complete`` False until :func:`finalize`)."""
    editor_models, metric_models = models
    return RunRecord(
        schema_version=SCHEMA_VERSION,
        rses_version=rses.__version__,
        method=cfg.method,
        editor_class=f"{type(editor).__module__}:{type(editor).__qualname__}",
        editor_config=editor.config_dict(),
        editor_config_hash=editor.config_hash(),
        editor_sees_mask=bool(editor.sees_mask),
        editor_weights_key=weights_key(editor_models),
        smoke=bool(cfg.smoke),
        split=split.name,
        split_manifest=str(split.manifest_path),
        split_manifest_sha256=split.manifest_sha256,
        n_split_samples=len(split.samples),
        limit=cfg.limit,
        seed=cfg.seed,
        seed_derivation=SEED_DERIVATION,
        metrics=list(metric_info),
        metric_info=metric_info,
        metric_options={k: v for k, v in cfg.metric_options.items() if k not in NUMBER_NEUTRAL_OPTIONS},
        **metric_resume_fields(cfg, metric_info),
        metric_config=scorer.config(),
        metric_weights_key=weights_key(metric_models),
        models=[m.to_dict() for m in [*editor_models, *metric_models]],
        weight_check="skipped" if cfg.skip_weight_check else "checked",
        device=cfg.device,
        batch_size=cfg.batch_size,
        shard=list(cfg.shard),
        resize=RESIZE_METHOD,
        size_policy=SIZE_POLICY,
        command=cfg.command,
        **environment_info(),
        started=now_utc(),
        n_sessions=1,
    )


def identify_models(
    cfg: RunConfig, editor: Editor, scorer: Any
) -> tuple[list[WeightIdentity], list[WeightIdentity]]:
    """The resolved identity of the editor's and the metrics' weights, checked against known digests unless
    ``cfg.skip_weight_check`` (then a warning; the record says ``weight_check: "skipped"``).
    """
    verify = not cfg.skip_weight_check
    if not verify:
        log.warning("--skip-weight-check: weights are not checked; this run will not be ranked.")
    editor_models = editor.weight_identities(verify=verify)
    return editor_models, metric_identities(scorer, cfg.clip_weights, cfg.lpips_weights, verify=verify)


def metric_resume_fields(cfg: RunConfig, info: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The metric settings a resumed run must share: crop policy with a CLIP metric, dtype with a learned one."""
    needs = set().union(*(set(i["needs"]) for i in info.values()))
    return {
        "metric_crop_policy": cfg.crop_policy if "clip" in needs else None,
        "metric_dtype": cfg.metric_dtype if needs else None,
    }


def prepare_run_json(run_dir: Path, fresh: RunRecord) -> RunRecord:
    """Create run.json, or check that an existing one describes the same run and mark a resumed session.

    A resumed session keeps the earlier counts (``KEPT_ON_RESUME``): they describe the tables on disk until
    this session's :func:`finalize` rebuilds both, so an interrupted resume never leaves n_ok = 0 beside
    real means. A run once made with ``--skip-weight-check`` stays marked so.
    """
    path = run_dir / RUN_JSON
    if not path.is_file():
        write_run_record(path, fresh)
        return fresh
    old = read_run_record(path)
    for key in RESUME_KEYS:
        if getattr(old, key) != getattr(fresh, key):
            raise RsesError(
                f"{run_dir} holds a different run: its {key} is {getattr(old, key)!r}, "
                f"this run's is {getattr(fresh, key)!r}{weights_hint(key, old, fresh)}. "
                "Pass a different --out, or delete that directory to start over."
            )
    merged = dataclasses.replace(
        fresh,
        **{key: getattr(old, key) for key in KEPT_ON_RESUME},
        n_sessions=old.n_sessions + 1,
        weight_check="skipped" if "skipped" in (old.weight_check, fresh.weight_check) else fresh.weight_check,
    )
    write_run_record(path, merged)
    return merged


def weights_hint(key: str, old: RunRecord, fresh: RunRecord) -> str:
    """For a weights key that differs: which models' files differ (reference and sha256 of each)."""
    if not key.endswith("weights_key"):
        return ""

    def files(record: RunRecord) -> str:
        return "; ".join(
            f"{m.get('role')} {m.get('reference')} -> "
            + ", ".join(f"{f['name']} {f['sha256'][:12]}" for f in m.get("files", []))
            for m in record.models
        )

    return f" (weights then: {files(old) or 'none'}; now: {files(fresh) or 'none'})"
