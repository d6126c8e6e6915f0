"""Drift checks: a run's metric means against a committed baseline file with provenance and a tolerance.

A baseline is JSON::

    {"schema_version": 1, "rses_version": "0.1.0", "method": "paste-style", "split": "test",
     "split_manifest_sha256": "...",
     "smoke": false, "date": "2025-01-01T00:00:00+00:00",
     "command": "rses check runs/x --baseline b.json --update",
     "tolerance": 0.001,                       # absolute, on each metric mean
     "tolerances": {"clip_dir": 0.01},         # optional per-metric overrides
     "metrics": {"psnr_bg": 31.2, "clip_dir": 0.18}}

A metric drifts when ``|current - baseline| > tolerance``; NaN in both is no drift (reported as NaN), NaN in
one only is drift. A metric of the baseline missing from the run, or a run on another split manifest, method
or smoke setting, also fails the check. :func:`read_baseline` refuses, with one line each, a baseline with no
metrics, an unknown ``schema_version``, a tolerance that is negative or not a finite number, or a metric
value that is not a number.

Example:
    >>> rows = check_drift({"psnr": 30.0}, {"metrics": {"psnr": 30.5}, "tolerance": 0.1})
    >>> [(r.metric, r.status) for r in rows]
    [('psnr', 'drift')]
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import rses
from rses.errors import RsesError
from rses.results import Run, write_json

DEFAULT_TOLERANCE = 1e-3
BASELINE_SCHEMAS = (1,)  # a baseline without schema_version (written before it existed) reads as 1
#: run.json fields a baseline records and a check compares.
PROVENANCE_KEYS = ("method", "split", "split_manifest_sha256", "smoke")


@dataclass(frozen=True)
class DriftRow:
    """One line of a drift report."""

    metric: str
    baseline: float | str | None
    current: float | str | None
    tolerance: float | None
    status: str  # "ok", "drift", "missing" (in the baseline, not in the run), "new" (in the run only)

    @property
    def delta(self) -> float:
        """``current - baseline`` when both are numbers, else NaN."""
        if isinstance(self.baseline, float) and isinstance(self.current, float):
            return self.current - self.baseline
        return math.nan

    @property
    def failed(self) -> bool:
        """Whether this metric drifted or went missing."""
        return self.status in {"drift", "missing"}


def failure_message(rows: list[DriftRow]) -> str:
    """One line naming the failed rows of a check: the drifted values, then the baseline metrics the run lacks.

    Example:
        >>> rows = [DriftRow("psnr", 30.0, 31.0, 0.1, "drift"), DriftRow("lpips_bg", 0.1, None, 0.1, "missing")]
        >>> print(failure_message(rows).replace(". ", ".\\n"))
        1 value(s) drifted beyond tolerance: psnr.
        1 metric(s) of the baseline missing from the run: lpips_bg (score the run with them).
        If the change is intended, rerun with --update.
    """
    drifted = [r.metric for r in rows if r.status == "drift"]
    missing = [r.metric for r in rows if r.status == "missing"]
    parts = [f"{len(drifted)} value(s) drifted beyond tolerance: {', '.join(drifted)}."] if drifted else []
    if missing:
        parts.append(
            f"{len(missing)} metric(s) of the baseline missing from the run: {', '.join(missing)} "
            "(score the run with them)."
        )
    return " ".join([*parts, "If the change is intended, rerun with --update."])


def run_means(run: Run) -> dict[str, float]:
    """The metric means of a run's summary."""
    return {name: float(stats["mean"]) for name, stats in run.summary.items()}


def check_drift(
    current: dict[str, float], baseline: dict[str, Any], tolerance: float | None = None
) -> list[DriftRow]:
    """Compare metric means with a baseline; ``tolerance`` overrides the baseline's own tolerances."""
    if tolerance is not None:
        check_tolerance(tolerance)
    default = baseline.get("tolerance", DEFAULT_TOLERANCE)
    per_metric = baseline.get("tolerances", {})
    rows = []
    for metric, expected in baseline.get("metrics", {}).items():
        tol = tolerance if tolerance is not None else float(per_metric.get(metric, default))
        if metric not in current:
            rows.append(DriftRow(metric, float(expected), None, tol, "missing"))
            continue
        value = float(current[metric])
        both_nan = math.isnan(value) and math.isnan(expected)
        moved = not both_nan and not math.isclose(value, expected, abs_tol=tol, rel_tol=0.0)
        rows.append(DriftRow(metric, float(expected), value, tol, "drift" if moved else "ok"))
    rows += [
        DriftRow(m, None, float(v), None, "new")
        for m, v in current.items()
        if m not in baseline.get("metrics", {})
    ]
    return rows


def check_provenance(run: Run, baseline: dict[str, Any]) -> list[DriftRow]:
    """Rows for each provenance field (split manifest, method, smoke) where run and baseline differ."""
    return [
        DriftRow(key, str(baseline[key]), str(run.info.get(key)), None, "drift")
        for key in PROVENANCE_KEYS
        if key in baseline and baseline[key] != run.info.get(key)
    ]


def make_baseline(
    run: Run, tolerance: float | None, command: str, previous: dict[str, Any] | None = None
) -> dict:
    """A baseline from a run: provenance, metric means, tolerance (kept from ``previous`` if not given)."""
    previous = previous or {}
    if tolerance is not None:
        check_tolerance(tolerance)
    baseline = {
        "schema_version": BASELINE_SCHEMAS[-1],
        "rses_version": rses.__version__,
        **{key: run.info.get(key) for key in PROVENANCE_KEYS},
        "n_ok": run.info.get("n_ok"),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "tolerance": tolerance if tolerance is not None else previous.get("tolerance", DEFAULT_TOLERANCE),
    }
    if previous.get("tolerances") and tolerance is None:
        baseline["tolerances"] = previous["tolerances"]
    baseline["metrics"] = run_means(run)
    return baseline


def read_baseline(path: Path) -> dict[str, Any]:
    """Load a baseline file; :class:`RsesError` saying how to create it when missing or unreadable."""
    if not path.is_file():
        raise RsesError(
            f"No baseline at {path}. Create it from a run with `rses check RUN --baseline {path} --update`."
        )
    try:
        baseline = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise RsesError(f"Baseline {path} is not valid JSON ({err}). Recreate it with --update.") from None
    metrics = baseline.get("metrics") if isinstance(baseline, dict) else None
    if not isinstance(metrics, dict) or not metrics:
        raise RsesError(
            f"Baseline {path} has no 'metrics' object of metric means. Recreate it with --update."
        )
    version = baseline.get("schema_version", 1)
    if type(version) is not int or version not in BASELINE_SCHEMAS:
        raise RsesError(
            f"Baseline {path} has schema_version {version!r}; this rses reads {list(BASELINE_SCHEMAS)}. "
            "Recreate it with --update, or check with the rses version that wrote it."
        )
    bad = {m: v for m, v in baseline["metrics"].items() if not _is_number(v)}
    if bad:
        raise RsesError(f"Baseline {path}: metric value(s) {bad} are not numbers. Recreate it with --update.")
    check_tolerance(baseline.get("tolerance", DEFAULT_TOLERANCE), f"Baseline {path}: 'tolerance'")
    tolerances = baseline.get("tolerances", {})
    if not isinstance(tolerances, dict):
        raise RsesError(f"Baseline {path}: 'tolerances' must be an object of metric: tolerance.")
    for metric, tol in tolerances.items():
        check_tolerance(tol, f"Baseline {path}: tolerance of {metric!r}")
    return baseline


def _is_number(value: Any) -> bool:
    """A JSON number a float holds (an integer past float's range is none: comparing it would overflow)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        float(value)
    except OverflowError:
        return False
    return True


def check_tolerance(value: Any, what: str = "--tolerance") -> float:
    """``value`` as a tolerance: a finite number >= 0.

    Raises:
        RsesError: naming ``what`` and the value seen.
    """
    if not _is_number(value) or not math.isfinite(value) or value < 0:
        raise RsesError(f"{what} is {value!r}; a tolerance must be a finite number >= 0.")
    return float(value)


def write_baseline(path: Path, baseline: dict[str, Any]) -> None:
    """Write a baseline file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, baseline)
