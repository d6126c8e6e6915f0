"""The run directory: a crash-safe per-sample journal, the tables and summary built from it, reading runs.

Layout of a run directory (the contract every reader relies on)::

    run.json              what ran (:class:`rses.run_record.RunRecord`, every field in ``docs/runs.md``)
    journal*.jsonl        append-only per-sample rows, one JSON object a line, flushed per row
    samples.parquet/.csv  one row per sample (rebuilt from the journals), see ``BASE_COLUMNS``
    summary.json          {metric: {mean, std, ci_low, ci_high, n}} over the "ok" rows
    edits/                the edited PNGs that were scored (``output_path`` in the table, relative to the run)

The journals are the source of truth. A row is with the OS once :meth:`Journal.append` returns, so a process
killed at any moment (even SIGKILL) loses at most the sample in flight (nothing is fsynced: after a machine
crash the last rows are recomputed on resume). Readers ignore a torn last line and
keep one row per sample id (an ``ok`` row beats a ``failed`` one; otherwise the last one read wins). Every
other file is written atomically (temp file + rename).

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with Journal(d / "journal.jsonl") as j:
    ...     j.append({"sample_id": "a", "status": "ok", "psnr": 30.0})
    ...     j.append({"sample_id": "a", "status": "ok", "psnr": 31.0})
    >>> [r["psnr"] for r in read_journals(d).values()]
    [31.0]
"""

from __future__ import annotations

import csv
import functools
import io
import json
import logging
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rses.errors import RsesError
from rses.io import write_atomic
from rses.run_record import RunRecord, read_run_record

if TYPE_CHECKING:  # NumPy and pandas load on first use: `rses check` and `rses leaderboard` read JSON only
    import numpy as np
    import pandas as pd

log = logging.getLogger(__name__)

RUN_JSON = "run.json"
SUMMARY_JSON = "summary.json"
SAMPLES_PARQUET = "samples.parquet"
SAMPLES_CSV = "samples.csv"
JOURNAL_GLOB = "journal*.jsonl"

#: Columns of the per-sample table, before one column per metric.
BASE_COLUMNS = (
    "sample_id",  # the split's sample id
    "style",  # target style of the edit
    "object_name",  # the edited object's noun
    "mask_area",  # fraction of the image inside the object mask, in [0, 1]
    "status",  # "ok" or "failed"
    "error",  # why the sample failed ("" when ok)
    "seed",  # the seed the editor got for this sample
    "output_path",  # the scored edited PNG, relative to the run directory ("" when no edit exists)
    "source_height",  # size of the source image (the edit is scored at this size)
    "source_width",
    "edit_height",  # size the editor returned, before resizing to the source size (0 when no edit)
    "edit_width",
    "cached",  # True when the edit came from the edit cache instead of the editor
    "edit_seconds",  # editor time per sample (batch time / batch size; 0 when cached)
    "score_seconds",  # metric time for this sample
)


#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV Injection").
CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """A CSV cell that spreadsheets show as text: a string starting with ``= + - @``, tab or CR gets a ``'``
    prefix, as the OWASP CSV-injection guidance says (the ``csv`` module then quotes it as needed).

    Numbers are left alone (``-0.5`` stays a number). Only CSV files use this; Parquet keeps raw values.

    Example:
        >>> csv_safe("=HYPERLINK(1)"), csv_safe("cat"), csv_safe(-0.5)
        ("'=HYPERLINK(1)", 'cat', -0.5)
    """
    return f"'{value}" if isinstance(value, str) and value.startswith(CSV_FORMULA_START) else value


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """CSV text of a table: a header, then one line per row; NaN is an empty field and every cell (and column
    name) goes through :func:`csv_safe`.

    Example:
        >>> csv_text(["method", "psnr"], [["=cmd", 30.5], ["cat", float("nan")]])
        "method,psnr\\n'=cmd,30.5\\ncat,\\n"
    """
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow([csv_safe(name) for name in columns])
    for row in rows:
        writer.writerow(
            ["" if isinstance(value, float) and math.isnan(value) else csv_safe(value) for value in row]
        )
    return text.getvalue()


def csv_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with :func:`csv_safe` applied to every text cell and to the column names (a copy)."""
    import pandas as pd

    safe = frame.copy()
    for name in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[name]):
            safe[name] = safe[name].map(csv_safe)
    return safe.rename(columns={c: csv_safe(c) for c in safe.columns if isinstance(c, str)})


def write_json(path: Path, obj: Any, durable: bool = True) -> None:
    """Write ``obj`` as indented JSON, atomically (``durable``: as :func:`rses.io.write_atomic`)."""
    write_atomic(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n", durable=durable)


class Journal:
    """An append-only JSON Lines file of per-sample rows; each :meth:`append` survives the process's death.

    Opening truncates a torn last line left by a killed writer, so appends never glue onto half a row.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fh = None

    def __enter__(self) -> Journal:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Open for appending, dropping an unterminated last line."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            data = self.path.read_bytes()
            keep = data.rfind(b"\n") + 1
            if keep < len(data):
                log.warning(
                    "%s: dropping a torn last line (%d bytes) left by an interrupted run",
                    self.path,
                    len(data) - keep,
                )
                with open(self.path, "r+b") as fh:
                    fh.truncate(keep)
        self._fh = open(self.path, "ab")

    def append(self, row: dict[str, Any]) -> None:
        """Append one row and flush it to the OS: it survives the process being killed (even SIGKILL).

        There is no fsync: after a machine crash the last rows may be missing, and a resume recomputes them
        (a torn last line is ignored on load; an unreadable cached edit is made again).
        """
        self._fh.write((json.dumps(row, default=_json_default) + "\n").encode())
        self._fh.flush()

    def close(self) -> None:
        """Close the file, if open."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    return str(obj)


def read_journal(path: Path) -> Iterable[dict[str, Any]]:
    """Yield the rows of one journal, skipping lines that do not parse (a torn last line)."""
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            try:
                row = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                log.warning("%s:%d: skipping an unreadable line (interrupted write)", path, number)
                continue
            if isinstance(row, dict) and "sample_id" in row:
                yield row


def read_journals(run_dir: Path) -> dict[str, dict[str, Any]]:
    """All rows of every journal in ``run_dir``, one per sample id ("ok" beats "failed", then last wins)."""
    rows: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(run_dir).glob(JOURNAL_GLOB)):
        for row in read_journal(path):
            old = rows.get(row["sample_id"])
            if old is None or not (old.get("status") == "ok" and row.get("status") != "ok"):
                rows[row["sample_id"]] = row
    return rows


def table_columns(rows: Sequence[dict[str, Any]], metrics: Sequence[str]) -> dict[str, Sequence]:
    """The per-sample table as columns: ``BASE_COLUMNS`` then one float64 array per metric, in ``rows`` order.

    A metric missing from a row (a failed sample) or not a number is NaN.
    """
    import numpy as np

    columns: dict[str, Sequence] = {name: [row.get(name) for row in rows] for name in BASE_COLUMNS}
    for name in ("error", "output_path"):
        columns[name] = ["" if value is None else str(value) for value in columns[name]]
    for name in metrics:
        columns[name] = np.array([_as_float(row.get(name)) for row in rows], dtype=np.float64)
    return columns


def rows_to_table(rows: Sequence[dict[str, Any]], metrics: Sequence[str]) -> pd.DataFrame:
    """:func:`table_columns` as a DataFrame (what ``samples.parquet`` reads back as)."""
    import pandas as pd

    return pd.DataFrame(table_columns(rows, metrics))


def _as_float(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan


def bootstrap_ci(
    values: np.ndarray, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean.

    Example:
        >>> import numpy as np
        >>> bootstrap_ci(np.array([1.0, 1.0, 1.0]))
        (1.0, 1.0)
    """
    import numpy as np

    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return (math.nan, math.nan)
    means = values[_resampling(values.size, n_resamples, seed)].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return (float(low), float(high))


@functools.lru_cache(maxsize=2)
def _resampling(n: int, n_resamples: int, seed: int) -> np.ndarray:
    """The bootstrap's ``(n_resamples, n)`` draws: the metrics of one run share them (and the time)."""
    import numpy as np

    draws = np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))
    draws.flags.writeable = False
    return draws


def summarize(
    table: Mapping[str, Sequence], metrics: Sequence[str], n_resamples: int = 1000, seed: int = 0
) -> dict:
    """``{metric: {mean, std, ci_low, ci_high, n}}`` over the ``ok`` rows (std: ddof=1, 0 for one value).

    ``table``: :func:`table_columns` or a DataFrame of the same columns.
    """
    import numpy as np

    ok = np.asarray(table["status"], dtype=object) == "ok"
    summary = {}
    for name in metrics:
        column = np.asarray(table[name], dtype=np.float64)[ok]
        values = column[~np.isnan(column)]
        low, high = bootstrap_ci(values, n_resamples=n_resamples, seed=seed)
        summary[name] = {
            "mean": float(values.mean()) if values.size else math.nan,
            "std": float(values.std(ddof=1)) if values.size > 1 else (0.0 if values.size else math.nan),
            "ci_low": low,
            "ci_high": high,
            "n": int(values.size),
        }
    return summary


def write_tables(run_dir: Path, table: Mapping[str, Sequence], summary: dict) -> None:
    """Write ``samples.parquet``, ``samples.csv`` (NaN as an empty field, text cells through :func:`csv_safe`;
    the Parquet file keeps the raw values) and ``summary.json``, each atomically.

    ``table``: :func:`table_columns` or a DataFrame of the same columns. Written with pyarrow and the
    ``csv`` module directly: pandas' writers cost 2-3x more at the end of a run, when its code is cold.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    run_dir = Path(run_dir)
    names = list(table)
    tmp = run_dir / f".{SAMPLES_PARQUET}.{os.getpid()}.tmp"
    pq.write_table(pa.table({name: table[name] for name in names}), tmp)
    os.replace(tmp, run_dir / SAMPLES_PARQUET)
    rows = zip(*(table[name] for name in names), strict=True)
    write_atomic(run_dir / SAMPLES_CSV, csv_text(names, rows), durable=False)
    write_json(run_dir / SUMMARY_JSON, summary, durable=False)


@dataclass
class Run:
    """A finished (or partial) run read back from its directory.

    ``record`` is the typed ``run.json``; ``info`` the same as a plain dict (``record.to_dict()``). The per-sample
    table :attr:`samples` is read from ``samples.parquet`` on first use (or given as ``table``), so commands that
    need only ``summary.json`` (``rses check``, ``rses leaderboard``) never load pandas.
    """

    path: Path
    info: dict[str, Any]
    summary: dict[str, dict[str, float]]
    record: RunRecord | None = None
    table: pd.DataFrame | None = None  # the per-sample table when already in memory; else read on first use

    @property
    def samples(self) -> pd.DataFrame:
        """The per-sample table (``samples.parquet``: ``BASE_COLUMNS`` then one column per metric)."""
        if self.table is None:
            import pandas as pd

            self.table = pd.read_parquet(self.path / SAMPLES_PARQUET)
        return self.table

    @property
    def label(self) -> str:
        """A short name for tables: the directory name."""
        return self.path.name

    @property
    def metrics(self) -> list[str]:
        """The metric names, in the run's order."""
        return list(self.info.get("metrics") or self.summary)


def higher_is_better(metric: str, runs: Sequence[Run]) -> bool | None:
    """The metric's direction: :func:`rses.metrics.catalog.higher_is_better` over the runs' ``metric_info``."""
    from rses.metrics.catalog import higher_is_better as direction

    return direction(metric, [run.info.get("metric_info") or {} for run in runs])


def load_run(path: str | Path) -> Run:
    """Read a run directory (``run.json``, ``summary.json``; ``samples.parquet`` on first use of ``samples``).

    Raises:
        RsesError: the directory is missing or is not a finished run, with what to do.
    """
    path = Path(path)
    if not (path / RUN_JSON).is_file():
        raise RsesError(
            f"{path} is not a run directory (no {RUN_JSON}). Pass a directory written by `rses eval`."
        )
    if not (path / SAMPLES_PARQUET).is_file():
        raise RsesError(
            f"Run {path} has no {SAMPLES_PARQUET} yet (interrupted before the end?). "
            "Rerun the same `rses eval` command to resume and finish it."
        )
    record = read_run_record(path / RUN_JSON)
    summary = json.loads((path / SUMMARY_JSON).read_text()) if (path / SUMMARY_JSON).is_file() else {}
    return Run(path=path, info=record.to_dict(), summary=summary, record=record)
