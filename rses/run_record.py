"""``run.json``: the typed, versioned record of what a run was, written by one function and read by one.

:class:`RunRecord` lists every field (``docs/runs.md`` says what each guarantees). :func:`write_run_record`
is the only writer and :func:`read_run_record` the only reader: the runner, ``load_run`` (so the leaderboard,
the report, ``compare`` and ``check``) all go through them. Records of schema 1 (before the weight identities)
still read: the missing fields take their defaults, and ``metric_info.*.needs`` written as the repr of a
Python frozenset becomes the sorted list it is now written as.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.json"
    >>> write_run_record(path, RunRecord(method="identity", split="test", metrics=["psnr_bg"]))
    >>> read_run_record(path).ranking_issues()
    ['incomplete (0/0 samples)']
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rses.errors import RsesError

SCHEMA_VERSION = 2
READABLE_SCHEMAS = (1, 2)
#: Fields that must match for a rerun to resume into an existing run directory.
RESUME_KEYS = (
    "method",
    "editor_config_hash",
    "editor_weights_key",
    "smoke",
    "split_manifest_sha256",
    "seed",
    "metrics",
    "metric_options",
    "metric_crop_policy",
    "metric_dtype",
    "metric_weights_key",
)
#: Fields a resumed session keeps from the earlier sessions until its own finalize rewrites them.
KEPT_ON_RESUME = ("started", "finished", "n_expected", "n_ok", "n_failed", "complete")


@dataclass
class RunRecord:
    """Everything ``run.json`` holds; see ``docs/runs.md`` for each field's meaning and guarantee."""

    schema_version: int = SCHEMA_VERSION
    method: str = ""
    split: str = ""
    rses_version: str = ""
    editor_class: str = ""
    editor_config: dict[str, Any] = field(default_factory=dict)
    editor_config_hash: str = ""
    editor_sees_mask: bool = False
    editor_weights_key: str = "none"
    smoke: bool = False
    split_manifest: str = ""
    split_manifest_sha256: str = ""
    n_split_samples: int = 0
    limit: int | None = None
    seed: int = 0
    seed_derivation: str = ""
    metrics: list[str] = field(default_factory=list)
    metric_info: dict[str, dict[str, Any]] = field(default_factory=dict)
    metric_options: dict[str, Any] = field(default_factory=dict)
    metric_crop_policy: str | None = None  # how CLIP saw regions; None when no CLIP metric ran
    metric_dtype: str | None = None  # learned-metric precision; None when no learned metric ran
    metric_config: dict[str, Any] = field(default_factory=dict)
    metric_weights_key: str = "none"
    models: list[dict[str, Any]] = field(default_factory=list)
    weight_check: str = "not recorded"
    device: str = "cpu"
    batch_size: int = 1
    threads: int | None = None
    shard: list[int] = field(default_factory=lambda: [0, 1])
    world_size: int = 1
    resize: str = ""
    size_policy: str = ""
    edit_cache: str = ""
    command: str = ""
    packages: dict[str, str] = field(default_factory=dict)
    git_hash: str | None = None
    python: str = ""
    platform: str = ""
    started: str = ""
    n_sessions: int = 1
    finished: str | None = None
    n_expected: int = 0
    n_ok: int = 0
    n_failed: int = 0
    complete: bool = False

    def __post_init__(self) -> None:
        self.metric_info = {name: _plain_info(info) for name, info in (self.metric_info or {}).items()}

    def to_dict(self) -> dict[str, Any]:
        """The record as the JSON object ``run.json`` holds."""
        return dataclasses.asdict(self)

    def ranking_issues(self) -> list[str]:
        """Why this run must not be ranked with full runs (empty: it may be): smoke models, weights not
        checked, samples missing, a subset (``--limit``) or a shard of the split.
        """
        issues = []
        if self.smoke:
            issues.append("smoke (random-weight models)")
        if self.weight_check == "skipped":
            issues.append("weights unverified (--skip-weight-check)")
        if not self.complete:
            issues.append(f"incomplete ({self.n_ok + self.n_failed}/{self.n_expected} samples)")
        if self.limit is not None and self.limit < self.n_split_samples:
            issues.append(f"subset (--limit {self.limit} of {self.n_split_samples})")
        if list(self.shard) != [0, 1] and not self.complete:
            issues.append(f"shard {self.shard[0]}/{self.shard[1]}")
        return issues


def _plain_info(info: Any) -> dict[str, Any]:
    """A metric_info entry as JSON data: ``needs`` a sorted list (schema 1 wrote a frozenset's repr)."""
    info = dict(info) if isinstance(info, Mapping) else dict(vars(info))
    needs = info.get("needs", [])
    if isinstance(needs, str):
        needs = re.findall(r"'([^']*)'", needs) if needs.startswith("frozenset") else ast.literal_eval(needs)
    info["needs"] = sorted(needs)
    return info


def _has_type(value: Any, hint: Any) -> bool:
    """Whether the JSON ``value`` fits the field annotation ``hint`` (a bool is no int; list items checked)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        return any(_has_type(value, arg) for arg in args)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is list:
        return isinstance(value, list) and all(_has_type(item, args[0]) for item in value)
    return isinstance(value, origin or hint)


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def write_run_record(path: Path, record: RunRecord) -> None:
    """Write ``record`` to ``path`` atomically (the one writer of ``run.json``)."""
    from rses.results import write_json

    write_json(Path(path), record.to_dict(), durable=False)


def read_run_record(path: Path) -> RunRecord:
    """Read ``run.json`` (the one reader); schema 1 and 2 records read, unknown extra fields are ignored.

    Raises:
        RsesError: not JSON, not an object, an unknown ``schema_version``, or a field of the wrong type.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise RsesError(f"{path} is not a readable run.json ({err}).") from None
    if not isinstance(data, dict):
        raise RsesError(f"{path} holds a {type(data).__name__}, not a run.json object.")
    version = data.get("schema_version")
    if type(version) is not int or version not in READABLE_SCHEMAS:
        raise RsesError(
            f"{path} has schema_version {version!r}; this rses reads {list(READABLE_SCHEMAS)}. "
            "Read it with the rses version that wrote it (its rses_version field)."
        )
    known = {f.name for f in dataclasses.fields(RunRecord)}
    values = {k: v for k, v in data.items() if k in known}
    missing = [k for k in ("method", "split") if k not in values]
    if missing:
        raise RsesError(f"{path} lacks the field(s) {missing}; it was not written by `rses eval`.")
    hints = typing.get_type_hints(RunRecord)
    wrong = {k: v for k, v in values.items() if not _has_type(v, hints[k])}
    if wrong:
        name, value = next(iter(wrong.items()))
        raise RsesError(
            f"{path}: field {name!r} is {value!r}, not of type {_type_name(hints[name])} "
            f"(wrong-typed field(s): {sorted(wrong)}); it was edited or not written by `rses eval`."
        )
    try:
        record = RunRecord(**values)
    except (TypeError, ValueError, SyntaxError) as err:
        raise RsesError(f"{path}: a field has the wrong type ({err}).") from None
    record.schema_version = version
    return record
