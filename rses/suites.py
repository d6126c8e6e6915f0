"""Benchmark suites as data: a TOML file names the split, the methods and their configs, the metrics and the table.

``rses suite run FILE|NAME`` runs every method through the normal resumable runner (one run directory each
under ``--out``: a rerun skips what is done and edits come from the edit cache), then writes
``leaderboard.md`` / ``.csv``, ``table.md`` (the suite's table, with published numbers beside the run's where
the suite gives them) and ``report.html``. Every key is validated before anything runs, and every missing weight
(editors and metrics) is named in one message up front. Shipped suites live in ``rses/suite_files/``.

A suite file::

    name = "builtin"                      # optional; default: the file's stem
    description = "..."
    split = "test"                        # a split name, registered name or manifest path
    metrics = ["pixel"]                   # names or groups, as --metrics takes them
    metric_options = { }                  # optional: MetricSuiteConfig fields, e.g. vlm_opposites = {watercolor="..."}
    seed = 0                              # optional
    batch_size = 1                        # optional: samples per editor call

    [[methods]]
    method = "paste-style"                # an editor name (`rses ls editors`)
    label = "paste-style"                 # optional: the row and run directory name; default: method
    config = { }                          # optional: editor config fields, as `rses eval --config`

    [table]                               # optional
    title = "..."
    metrics = ["rses_ref", "psnr_bg"]     # the columns; default: every metric of the suite

    [paper]                               # optional: published numbers, {label: {metric: value}}
    source = "RegionRoute paper, Table 1"
    numbers.paste-style = { psnr_bg = 30.0 }

Yes/no metrics (the VLM judge's) are shown in ``table.md`` as the share of "yes" (P(yes) > 0.5), the number
the paper reports.

Example:
    >>> suite = load_suite("builtin")
    >>> [m.label for m in suite.methods]
    ['identity', 'global-style', 'paste-style', 'clone-style']
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rses.errors import UsageError, WeightsNotFoundError

if TYPE_CHECKING:
    from rses.results import Run

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover  (Python 3.10)
    import tomli as tomllib

SUITE_DIR = Path(__file__).parent / "suite_files"
_KEYS = {
    "name",
    "description",
    "split",
    "metrics",
    "metric_options",
    "seed",
    "batch_size",
    "methods",
    "table",
    "paper",
}
_METHOD_KEYS = {"method", "label", "config"}
_TABLE_KEYS = {"title", "metrics"}
_PAPER_KEYS = {"source", "numbers"}


@dataclass(frozen=True)
class MethodEntry:
    """One method of a suite: the editor, the label of its row and run directory, its config overrides."""

    label: str
    method: str
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Suite:
    """A validated suite file."""

    name: str
    path: Path
    split: str
    metrics: list[str]
    methods: list[MethodEntry]
    table_metrics: list[str]
    description: str = ""
    title: str = ""
    seed: int = 0
    batch_size: int = 1
    paper_source: str = ""
    paper: dict[str, dict[str, float]] = field(default_factory=dict)
    metric_options: dict[str, Any] = field(default_factory=dict)


def builtin_suites() -> dict[str, Path]:
    """The shipped suites: ``{name: path}``."""
    return {p.stem: p for p in sorted(SUITE_DIR.glob("*.toml"))}


def suite_path(spec: str) -> Path:
    """A suite file from a path or a shipped suite's name.

    Raises:
        UsageError: neither a file nor a shipped name.
    """
    path = Path(spec).expanduser()
    if path.is_file():
        return path
    shipped = builtin_suites()
    if spec in shipped:
        return shipped[spec]
    raise UsageError(
        f"No suite file {spec!r} and no shipped suite of that name; shipped: {', '.join(shipped)}."
    )


def load_suite(spec: str) -> Suite:
    """Read and validate a suite (see the module docstring); every error is one line naming the file and key."""
    from rses.metrics.catalog import select_metrics

    path = suite_path(spec)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise UsageError(f"Suite {path}: cannot read it as TOML ({err}).") from None
    where = f"Suite {path}"
    _known(data, _KEYS, where)
    split = _typed(data, "split", str, where, required=True)
    metrics = _metrics(
        _typed(data, "metrics", list, where, required=True), f"{where}: metrics", select_metrics
    )
    methods = _methods(_typed(data, "methods", list, where, required=True), where)
    metric_options = _metric_options(_typed(data, "metric_options", dict, where) or {}, where)
    table = _typed(data, "table", dict, where) or {}
    _known(table, _TABLE_KEYS, f"{where}: [table]")
    table_metrics = (
        _metrics(
            _typed(table, "metrics", list, f"{where}: [table]"), f"{where}: [table] metrics", select_metrics
        )
        if "metrics" in table
        else list(metrics)
    )
    outside = [m for m in table_metrics if m not in metrics]
    if outside:
        raise UsageError(f"{where}: [table] metrics {outside} are not among the suite's metrics {metrics}.")
    paper = _typed(data, "paper", dict, where) or {}
    _known(paper, _PAPER_KEYS, f"{where}: [paper]")
    numbers = _paper_numbers(
        _typed(paper, "numbers", dict, f"{where}: [paper]") or {}, methods, metrics, where
    )
    for key, kind in (("seed", int), ("batch_size", int)):
        value = _typed(data, key, kind, where)
        if value is not None and (value < 0 or (key == "batch_size" and value < 1)):
            raise UsageError(
                f"{where}: {key} must be {'>= 1' if key == 'batch_size' else '>= 0'}, got {value}."
            )
    _plain(_typed(data, "name", str, where), f"{where}: name")
    return Suite(
        name=_typed(data, "name", str, where) or path.stem,
        path=path,
        split=split,
        metrics=metrics,
        methods=methods,
        table_metrics=table_metrics,
        description=_typed(data, "description", str, where) or "",
        title=_typed(table, "title", str, f"{where}: [table]") or "",
        seed=data.get("seed", 0),
        batch_size=data.get("batch_size", 1),
        paper_source=_typed(paper, "source", str, f"{where}: [paper]") or "",
        paper=numbers,
        metric_options=metric_options,
    )


def _known(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}.")


def _plain(value: str | None, where: str) -> None:
    """A label or name becomes a directory under ``--out``: it must be one plain path component."""
    if value is not None and (value in ("", ".", "..") or any(c in value for c in "/\\:")):
        raise UsageError(
            f"{where} {value!r} must be a plain name (no /, \\ or :, not . or ..): it names a "
            "directory under --out."
        )


def _typed(data: Mapping[str, Any], key: str, kind: type, where: str, required: bool = False) -> Any:
    if key not in data:
        if required:
            raise UsageError(f"{where}: the key {key!r} is missing.")
        return None
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise UsageError(f"{where}: {key} must be a {kind.__name__}, got {type(value).__name__} {value!r}.")
    return value


def _metrics(items: list, where: str, select: Any) -> list[str]:
    """The metric names of ``items`` (names or groups) in the file's order, each once."""
    if not all(isinstance(m, str) for m in items):
        raise UsageError(f"{where} must be a list of metric names or groups, got {items!r}.")
    try:
        return list(dict.fromkeys(name for item in items for name in select([item])))
    except UsageError as err:
        raise UsageError(f"{where}: {err}") from None


def _metric_options(options: dict, where: str) -> dict[str, Any]:
    import dataclasses

    from rses.metrics.suite import MetricSuite, MetricSuiteConfig

    fields = {f.name for f in dataclasses.fields(MetricSuiteConfig)}
    unknown = sorted(set(options) - fields)
    if unknown:
        raise UsageError(f"{where}: metric_options {unknown} are not RSES options; valid: {sorted(fields)}.")
    try:
        MetricSuite(metrics="pixel", **options)
    except UsageError as err:
        raise UsageError(f"{where}: metric_options: {err}") from None
    return dict(options)


def _methods(items: list, where: str) -> list[MethodEntry]:
    from rses.editing import EDITORS

    if not items:
        raise UsageError(f"{where}: [[methods]] is empty; name at least one method.")
    entries = []
    for i, item in enumerate(items):
        at = f"{where}: methods[{i}]"
        if not isinstance(item, dict):
            raise UsageError(f"{at} must be a table ([[methods]]), got {item!r}.")
        _known(item, _METHOD_KEYS, at)
        method = _typed(item, "method", str, at, required=True)
        if method not in EDITORS:
            raise UsageError(f"{at}: {EDITORS._unknown_message(method)}")
        _plain(_typed(item, "label", str, at), f"{at}: label")
        entries.append(
            MethodEntry(
                _typed(item, "label", str, at) or method, method, dict(_typed(item, "config", dict, at) or {})
            )
        )
    labels = [e.label for e in entries]
    doubled = sorted({label for label in labels if labels.count(label) > 1})
    if doubled:
        raise UsageError(
            f"{where}: label(s) {doubled} used by several methods; give each method its own label."
        )
    return entries


def _paper_numbers(numbers: dict, methods: list[MethodEntry], metrics: list[str], where: str) -> dict:
    labels = {m.label for m in methods}
    out = {}
    for label, values in numbers.items():
        at = f"{where}: [paper.numbers.{label}]"
        if label not in labels:
            raise UsageError(f"{at}: no method has the label {label!r}; labels: {sorted(labels)}.")
        if not isinstance(values, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values.values()
        ):
            raise UsageError(f"{at} must map metric names to numbers, got {values!r}.")
        unknown = sorted(set(values) - set(metrics))
        if unknown:
            raise UsageError(f"{at}: metric(s) {unknown} are not among the suite's metrics {metrics}.")
        out[label] = {k: float(v) for k, v in values.items()}
    return out


def build_editors(suite: Suite, device: str = "cpu", smoke: bool = False) -> dict[str, Any]:
    """Every method's editor, and every missing weight (editors and metrics) named in one error up front.

    Raises:
        UsageError: a config field an editor does not have.
        WeightsNotFoundError: one or more weights missing: each one's message, labelled by method or "metrics".
    """
    from rses.editing import build_editor
    from rses.metrics import METRICS, MetricSuite

    editors, missing = {}, []
    for entry in suite.methods:
        try:
            editors[entry.label] = build_editor(entry.method, entry.config, device=device, smoke=smoke)
        except UsageError as err:
            raise UsageError(f"Suite {suite.path}: method {entry.label!r}: {err}") from None
        try:
            editors[entry.label].check_weights()
        except WeightsNotFoundError as err:
            missing.append(f"[{entry.label}] {err}")
    needs = set().union(*(METRICS[m].needs for m in suite.metrics))
    for backend in sorted(needs):  # one model at a time, so every missing one is named
        alone = next(m.name for m in METRICS.values() if m.needs == {backend})
        try:
            MetricSuite(metrics=[alone], device=device, smoke=smoke, **suite.metric_options).check_weights()
        except WeightsNotFoundError as err:
            missing.append(f"[metrics: {backend}] {err}")
    if missing:
        raise WeightsNotFoundError(
            f"Suite {suite.name}: {len(missing)} weight set(s) missing: " + " ".join(missing)
        )
    return editors


@dataclass
class SuiteResult:
    """What :func:`run_suite` did: the run directories, the files written, samples that failed."""

    runs: dict[str, Path]
    files: dict[str, Path]
    n_failed: int


def run_suite(
    suite: Suite,
    out: Path,
    *,
    device: str = "cpu",
    smoke: bool = False,
    limit: int | None = None,
    split: str | None = None,
    progress: bool = True,
    report: bool = True,
    command: str = "",
    metric_options: Mapping[str, Any] | None = None,
    crop_policy: str = "letterbox",
    metric_dtype: str = "fp32",
) -> SuiteResult:
    """Run (or resume) every method of ``suite`` into ``out/<label>``, then write the tables and the report.

    ``metric_options`` (the command line's shared metric options) override the suite's own; ``crop_policy`` and
    ``metric_dtype`` are :class:`rses.runner.RunConfig`'s.
    """
    from rses.runner import RunConfig, run_eval

    check_split_styles(suite, split)
    editors = build_editors(suite, device, smoke)
    runs, n_failed = {}, 0
    for entry in suite.methods:
        cfg = RunConfig(
            method=entry.method,
            split=split or suite.split,
            out=Path(out) / entry.label,
            device=device,
            batch_size=suite.batch_size,
            limit=limit,
            seed=suite.seed,
            metrics=suite.metrics,
            smoke=smoke,
            editor_config=entry.config,
            metric_options={**suite.metric_options, **(metric_options or {})},
            command=command,
            crop_policy=crop_policy,
            metric_dtype=metric_dtype,
        )
        result = run_eval(cfg, progress=progress, editor=editors[entry.label])
        runs[entry.label], n_failed = result.run_dir, n_failed + result.n_failed
    return SuiteResult(runs, write_outputs(suite, runs, Path(out), report), n_failed)


def write_outputs(suite: Suite, runs: Mapping[str, Path], out: Path, report: bool = True) -> dict[str, Path]:
    """``leaderboard.md`` / ``.csv``, ``table.md`` and (with ``report``) ``report.html`` in ``out``."""
    from rses.io import write_atomic
    from rses.leaderboard import render
    from rses.results import load_run

    loaded = {label: load_run(path) for label, path in runs.items()}
    files = {name: out / name for name in ("leaderboard.md", "leaderboard.csv", "table.md")}
    for fmt in ("md", "csv"):
        write_atomic(files[f"leaderboard.{fmt}"], render(list(loaded.values()), fmt, suite.metrics))
    write_atomic(files["table.md"], suite_table(suite, loaded))
    if report:
        from rses.report.html import write_report

        files["report.html"] = write_report(
            list(runs.values()), out / "report.html", title=f"rses suite {suite.name}"
        )
    return files


def table_value(run: Run, metric: str) -> float:
    """A run's number for ``metric``: the share of "yes" for yes/no metrics, else the mean over ok samples."""
    from rses.metrics.catalog import YES_NO_METRICS, YES_THRESHOLD

    if metric in YES_NO_METRICS:
        ok = run.samples[run.samples["status"] == "ok"][metric].dropna()
        return float((ok > YES_THRESHOLD).mean()) if len(ok) else math.nan
    return float(run.summary.get(metric, {}).get("mean", math.nan))


def suite_table(suite: Suite, runs: Mapping[str, Any]) -> str:
    """The suite's markdown table: one row per method, the run's number and the paper's beside it."""
    from rses.results import higher_is_better

    with_paper = bool(suite.paper)
    header, rule = ["method", "n"], ["---", "---:"]
    for metric in suite.table_metrics:
        arrow = {True: " ↑", False: " ↓", None: ""}[higher_is_better(metric, list(runs.values()))]
        header.append(f"{metric}{arrow}")
        rule.append("---:")
        if with_paper:
            header.append("paper")
            rule.append("---:")
    lines = [f"## {suite.title or suite.name}", ""]
    if suite.paper_source:
        lines += [f"Published numbers: {suite.paper_source}.", ""]
    if any(run.info.get("smoke") for run in runs.values()):
        lines += ["Smoke run: tiny random-weight models, these numbers are not meaningful.", ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "|".join(rule) + "|"]
    for label, run in runs.items():
        n = int((run.samples["status"] == "ok").sum())
        cells = [label, str(n)]
        for metric in suite.table_metrics:
            cells.append(_number(table_value(run, metric)))
            if with_paper:
                cells.append(_number(suite.paper.get(label, {}).get(metric, math.nan)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.4g}"


def check_split_styles(suite: Suite, split: str | None = None) -> None:
    """Refuse, before any work, a split whose styles have no opposite when the opposite-style questions run."""
    if not {"vlm_obj_opposite", "vlm_bg_opposite"} & set(suite.metrics):
        return
    from rses.data.manifest import load_split
    from rses.metrics import MetricSuite

    styles = {s.style for s in load_split(split or suite.split).samples}
    MetricSuite(metrics=suite.metrics, **suite.metric_options).check_styles(styles)
