"""The resumable runner behind ``rses eval``: edit, resize, score and record every sample of a split.

For each sample the runner

1. takes the edit from the on-disk edit cache (an unreadable entry is made again), or calls the editor (in
   batches) and caches the result; the cache key is the editor name, its config hash, the smoke flag, the
   sample id, the seed and a digest of the inputs, so a rerun or a re-score never regenerates an edit
   (cache: ``$RSES_CACHE_DIR/edits`` or ``~/.cache/rses/edits``);
2. brings the edit to the source size (PIL Lanczos resampling, ``RESIZE_METHOD``; the editor's size is kept in
   the row as ``edit_height``/``edit_width``);
3. scores it with :class:`rses.metrics.RSES` and appends the row to the run's journal (flushed per row).

A sample whose editor call raises, returns NaN or a wrong shape, or whose metrics fail, becomes a ``failed``
row with the error; the run goes on. Killed at any moment, the same command resumes: samples with a row are
skipped (``retry_failed`` reruns failed ones). A lock on the run directory stops a second concurrent run.
Rows and edits are flushed to the OS, not fsynced: after a machine crash the last rows are recomputed.

Scaling: ``shard=(i, n)`` takes every n-th sample from the i-th; under ``torchrun``/``accelerate launch`` the
ranks (``RANK``/``WORLD_SIZE``, or ``LOCAL_RANK``/``LOCAL_WORLD_SIZE``) split the shard again the same way.
Each (shard, rank) writes its own journal; rank 0 waits for the other ranks (a ``torch.distributed`` barrier
when a process group is initialized, otherwise done-marker files) and builds the tables.
"""

from __future__ import annotations

import dataclasses
import fcntl
import functools
import hashlib
import json
import logging
import math
import os
import platform
import re
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

import rses
from rses.editing import EDITORS, Editor, EditRequest
from rses.errors import InvalidSampleError, RsesError, UsageError
from rses.io import load_image, load_mask, save_image
from rses.results import (
    RUN_JSON,
    Journal,
    read_journals,
    summarize,
    table_columns,
    write_json,
    write_tables,
)

log = logging.getLogger(__name__)
#: Edits are written uncompressed: 2x faster than level 1 for ~1.5x the bytes, on the runner's hot path.
EDIT_PNG_COMPRESSION = 0

RESIZE_METHOD = "PIL.Image.resize(LANCZOS) to the source height x width"
SEED_DERIVATION = "int.from_bytes(sha256(f'{seed}:{sample_id}').digest()[:4], 'big')"
#: run.json fields that must match for a rerun to resume into an existing run directory.
RESUME_KEYS = ("method", "editor_config_hash", "smoke", "split_manifest_sha256", "seed", "metrics")
PACKAGES = (
    "torch",
    "torchvision",
    "numpy",
    "pillow",
    "scikit-image",
    "opencv-python-headless",
    "open_clip_torch",
    "lpips",
    "diffusers",
    "transformers",
    "peft",
    "pandas",
    "pyarrow",
)


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
        retry_failed: on resume, run the samples recorded as failed again.
        command: the command line, recorded in run.json.
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
    retry_failed: bool = False
    command: str = ""


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


def parse_shard(text: str) -> tuple[int, int]:
    """Parse ``"i/n"`` with ``0 <= i < n``.

    Example:
        >>> parse_shard("1/4")
        (1, 4)
    """
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not match or not int(match[1]) < int(match[2]):
        raise UsageError(f"--shard {text!r} is not 'i/n' with 0 <= i < n (e.g. --shard 0/4).")
    return int(match[1]), int(match[2])


def dist_rank() -> tuple[int, int]:
    """``(rank, world_size)`` from the launcher's environment (torchrun, accelerate); ``(0, 1)`` without."""
    env = os.environ
    rank = int(env.get("RANK", env.get("LOCAL_RANK", 0)))
    world = int(env.get("WORLD_SIZE", env.get("LOCAL_WORLD_SIZE", 1)))
    if not 0 <= rank < world:
        raise UsageError(f"Launcher environment has RANK={rank} outside WORLD_SIZE={world}.")
    return rank, world


def sample_seed(seed: int, sample_id: str) -> int:
    """The seed of one sample: stable across runs, machines, shards and batch sizes.

    Example:
        >>> sample_seed(0, "a") == sample_seed(0, "a") != sample_seed(1, "a")
        True
    """
    return int.from_bytes(hashlib.sha256(f"{seed}:{sample_id}".encode()).digest()[:4], "big")


def select_samples(
    samples: Sequence, limit: int | None, shard: tuple[int, int], rank: int = 0, world: int = 1
):
    """The samples one process runs: first ``limit``, then every n-th of the shard, then every world-th rank.

    Example:
        >>> select_samples(list(range(10)), limit=8, shard=(1, 2), rank=0, world=2)
        [1, 5]
    """
    chosen = list(samples[:limit] if limit is not None else samples)
    return chosen[shard[0] :: shard[1]][rank::world]


def safe_name(sample_id: str) -> str:
    """A file name for a sample id: readable characters, plus a short hash so distinct ids never collide."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", sample_id)[:80]
    return f"{readable}-{hashlib.sha256(sample_id.encode()).hexdigest()[:8]}"


def default_cache_dir() -> Path:
    """``$RSES_CACHE_DIR/edits`` or ``~/.cache/rses/edits``."""
    root = os.environ.get("RSES_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "rses")
    return Path(root) / "edits"


class EditCache:
    """Edited images on disk, keyed by editor name, config hash, smoke flag, sample id, seed, inputs."""

    def __init__(self, editor: Editor, root: Path | None = None):
        variant = editor.config_hash() + ("-smoke" if editor.smoke else "")
        self.dir = Path(root or default_cache_dir()) / re.sub(r"[^A-Za-z0-9._-]+", "_", editor.name) / variant

    def path(self, sample, seed: int, sees_mask: bool) -> Path:
        """Where the edit of ``sample`` with ``seed`` lives (the inputs' hashes are part of the name)."""
        inputs = {
            "source": sample.sha256.get("source", str(sample.source)),
            "mask": sample.sha256.get("mask", str(sample.mask)) if sees_mask else None,
            "prompt": sample.prompt,
            "style": sample.style,
            "object": sample.object_name,
        }
        digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:12]
        return self.dir / f"{safe_name(sample.id)}-seed{seed}-{digest}.png"


def check_edit(image: Any, sample_id: str) -> np.ndarray:
    """Validate one editor output: an ``(H, W, 3)`` uint8 array with no NaN.

    Raises:
        InvalidSampleError: naming the sample and what was wrong.
    """
    if not isinstance(image, np.ndarray):
        raise InvalidSampleError(
            f"Editor returned a {type(image).__name__} for sample {sample_id!r}, not an array."
        )
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        raise InvalidSampleError(f"Editor returned NaN/inf values for sample {sample_id!r}.")
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
        raise InvalidSampleError(
            f"Editor returned shape {image.shape} for sample {sample_id!r}; expected (H, W, 3) RGB."
        )
    if image.dtype != np.uint8:
        raise InvalidSampleError(
            f"Editor returned dtype {image.dtype} for sample {sample_id!r}; expected uint8."
        )
    return image


def to_source_size(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize ``image`` to ``size = (height, width)`` with ``RESIZE_METHOD`` (no-op when it already fits)."""
    if image.shape[:2] == tuple(size):
        return image
    resized = Image.fromarray(image).resize((size[1], size[0]), Image.Resampling.LANCZOS)
    return np.array(resized, dtype=np.uint8)


def build_editor(method: str, overrides: dict[str, Any], device: str = "cpu", smoke: bool = False) -> Editor:
    """Instantiate editor ``method`` with ``overrides`` of its ``Config`` fields.

    Raises:
        UsageError: unknown method or config field, naming the valid fields.
    """
    cls = EDITORS.get(method)
    config = None
    if overrides:
        if cls.Config is None:
            raise UsageError(f"Editor {method!r} has no config; --config gave {sorted(overrides)}.")
        fields = {f.name for f in dataclasses.fields(cls.Config)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise UsageError(
                f"Editor {method!r} has no config field(s) {unknown}; valid fields: {sorted(fields)}."
            )
        config = cls.Config(**overrides)
    return cls(config=config, device=device, smoke=smoke)


@contextmanager
def dir_lock(path: Path, what: str, wait: bool = False) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path``; without ``wait``, fail at once if another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise RsesError(
                f"Another `rses eval` is already running {what} in {path.parent} "
                f"(lock {path} held by {holder}). "
                "Wait for it to finish, or pass a different --out."
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def environment_info() -> dict[str, Any]:
    """Package versions, Python, OS and the rses git commit (when run from a checkout); no host name.

    Versions and the commit are looked up once per process (they cost ~7 ms, paid again by every run of a
    sweep otherwise).
    """
    return {
        "packages": dict(_package_versions()),
        "git_hash": _git_hash(),
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
    }


@functools.cache
def _package_versions() -> tuple[tuple[str, str], ...]:
    from importlib.metadata import PackageNotFoundError, version

    packages = [("rses", rses.__version__)]
    for name in PACKAGES:
        try:
            packages.append((name, version(name)))
        except PackageNotFoundError:
            continue
    return tuple(packages)


@functools.cache
def _git_hash() -> str | None:
    try:
        git = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(rses.__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return git.stdout.strip() if git.returncode == 0 else None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _part_name(shard: tuple[int, int], rank: int, world: int) -> str:
    return "" if shard == (0, 1) and world == 1 else f".s{shard[0]}of{shard[1]}.r{rank}of{world}"


class _Session:
    """One process's pass over its part of the split: edit, resize, score, journal."""

    def __init__(
        self,
        cfg: RunConfig,
        editor: Editor,
        scorer: Any,
        metric_info: dict[str, dict],
        run_dir: Path,
        journal: Journal,
    ):
        metric_names = list(metric_info)
        self.cfg, self.editor, self.scorer, self.metric_names = cfg, editor, scorer, metric_names
        self.run_dir, self.journal = run_dir, journal
        self.cache = EditCache(editor)
        self.needs_target = {name for name, info in metric_info.items() if info.get("needs_target")}
        self.n_ok = self.n_failed = 0

    def run(self, samples: Sequence, progress, description: str) -> None:
        task = progress.add_task(description, total=len(samples)) if progress else None
        for start in range(0, len(samples), self.cfg.batch_size):
            for row in self._batch(samples[start : start + self.cfg.batch_size]):
                self.journal.append(row)
                if row["status"] == "ok":
                    self.n_ok += 1
                else:
                    self.n_failed += 1
                    log.warning("sample %s failed: %s", row["sample_id"], row["error"])
                if progress:
                    progress.advance(task)

    def _batch(self, samples: Sequence) -> list[dict[str, Any]]:
        rows, inputs, todo = [], {}, []
        for sample in samples:
            row = self._base_row(sample)
            rows.append(row)
            try:
                inputs[sample.id] = self._load(sample, row)
            except InvalidSampleError as err:
                self._fail(row, err)
                continue
            cache_path = inputs[sample.id]["cache_path"] = self.cache.path(
                sample, row["seed"], self.editor.sees_mask
            )
            cached = self._cached_edit(cache_path)
            if cached is None:
                todo.append((sample, row, cache_path))
            else:
                inputs[sample.id]["edited"], row["cached"] = cached, True
        self._edit(todo, inputs)
        items = []
        for sample, row in zip(samples, rows, strict=True):
            if row["status"] == "pending":
                try:
                    items.append((sample, row, self._scoring_input(sample, row, inputs[sample.id])))
                except Exception as err:  # noqa: BLE001  (a failed resize or copy becomes a failed row)
                    self._fail(row, err)
        self._score(items)
        return rows

    @staticmethod
    def _cached_edit(cache_path: Path) -> np.ndarray | None:
        """The cached edit, or None when there is none or it cannot be read (it is then made again)."""
        if not cache_path.is_file():
            return None
        try:
            return load_image(cache_path)
        except InvalidSampleError as err:
            log.warning("Unreadable cached edit, making it again: %s", err)
            return None

    def _base_row(self, sample) -> dict[str, Any]:
        return {
            "sample_id": sample.id,
            "style": sample.style,
            "object_name": sample.object_name,
            "mask_area": math.nan,
            "status": "pending",
            "error": "",
            "seed": sample_seed(self.cfg.seed, sample.id),
            "output_path": "",
            "source_height": 0,
            "source_width": 0,
            "edit_height": 0,
            "edit_width": 0,
            "cached": False,
            "edit_seconds": 0.0,
            "score_seconds": 0.0,
        }

    def _load(self, sample, row: dict[str, Any]) -> dict[str, Any]:
        source = load_image(sample.source)
        mask = load_mask(sample.mask)
        if mask.shape != source.shape[:2]:
            raise InvalidSampleError(
                f"Sample {sample.id!r}: mask {sample.mask} is {mask.shape[1]}x{mask.shape[0]} "
                f"but the source is "
                f"{source.shape[1]}x{source.shape[0]}."
            )
        target = load_image(sample.target) if sample.target is not None else None
        mask_area = np.count_nonzero(mask) / mask.size  # 10x cheaper than mask.mean() on a bool mask
        row.update(source_height=source.shape[0], source_width=source.shape[1], mask_area=mask_area)
        return {"source": source, "mask": mask, "target": target}

    def _edit(self, todo: list, inputs: dict[str, dict[str, Any]]) -> None:
        """Edit the uncached samples in one call; if the batch call raises, retry one by one to isolate it."""
        if not todo:
            return
        requests = [
            EditRequest(
                sample.id,
                inputs[sample.id]["source"],
                inputs[sample.id]["mask"] if self.editor.sees_mask else None,
                sample.prompt,
                sample.style,
                sample.object_name,
                seed=row["seed"],
            )
            for sample, row, _ in todo
        ]
        start = time.perf_counter()
        try:
            outputs = self.editor.edit(requests)
            if len(outputs) != len(requests):
                raise InvalidSampleError(
                    f"Editor returned {len(outputs)} images for {len(requests)} requests."
                )
        except Exception as err:  # noqa: BLE001  (an editor failure becomes failed rows, the run goes on)
            if len(todo) == 1:
                self._fail(todo[0][1], err)
            else:
                for item in todo:
                    self._edit([item], inputs)
            return
        seconds = (time.perf_counter() - start) / len(todo)
        for (sample, row, cache_path), image in zip(todo, outputs, strict=True):
            row["edit_seconds"] = seconds
            try:
                inputs[sample.id]["edited"] = check_edit(image, sample.id)
                save_image(cache_path, image, compress_level=EDIT_PNG_COMPRESSION)
            except InvalidSampleError as err:
                self._fail(row, err)

    def _scoring_input(self, sample, row: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        """The edit at the source's size, linked into the run directory, as one ``RSES.score_batch`` item."""
        cache_path, edited = data["cache_path"], data["edited"]
        row.update(edit_height=edited.shape[0], edit_width=edited.shape[1])
        size = data["source"].shape[:2]
        output = Path("edits") / f"{safe_name(sample.id)}.png"
        if edited.shape[:2] == size:
            _link_or_copy(cache_path, self.run_dir / output)
        else:
            edited = to_source_size(edited, size)
            save_image(self.run_dir / output, edited, compress_level=EDIT_PNG_COMPRESSION)
        row["output_path"] = str(output)
        return {
            "sample_id": sample.id,
            "source": data["source"],
            "edited": edited,
            "mask": data["mask"],
            "style": sample.style,
            "target": data["target"],
        }

    def _score(self, items: list) -> None:
        """Score a batch in one ``score_batch`` call; if it raises, score one by one to isolate the sample."""
        if not items:
            return
        start = time.perf_counter()
        try:
            results = self.scorer.score_batch([item for _, _, item in items])
        except Exception as err:  # noqa: BLE001  (a scoring failure becomes a failed row, the run goes on)
            if len(items) == 1:
                self._fail(items[0][1], err)
            else:
                for item in items:
                    self._score([item])
            return
        seconds = (time.perf_counter() - start) / len(items)
        for (sample, row, item), scores in zip(items, results, strict=True):
            row["score_seconds"] = seconds
            values = {name: float(scores[name]) for name in self.metric_names}
            allowed = self.needs_target if item["target"] is None else set()
            bad = [name for name, value in values.items() if not math.isfinite(value) and name not in allowed]
            if bad:
                self._fail(
                    row, InvalidSampleError(f"Metric(s) {bad} returned NaN/inf for sample {sample.id!r}.")
                )
            else:
                row.update(values, status="ok")

    @staticmethod
    def _fail(row: dict[str, Any], err: BaseException) -> None:
        row.update(status="failed", error=f"{type(err).__name__}: {err}")


def _link_or_copy(src: Path, dst: Path) -> None:
    """Give ``dst`` the bytes of ``src``: a hard link where the file system allows, else a copy; atomic."""
    try:
        os.link(src, dst)  # the usual case: one system call
        return
    except FileNotFoundError:
        dst.parent.mkdir(parents=True, exist_ok=True)
    except OSError:  # dst exists (a rescored sample) or no hard links here: through a temporary file
        pass
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def _metric_setup(cfg: RunConfig, device: str):
    from rses.metrics import METRICS, RSES, select_metrics

    names = select_metrics(cfg.metrics)
    info = {name: _as_dict(METRICS[name]) for name in names}
    return (
        names,
        info,
        lambda: RSES(
            metrics=names,
            device=device,
            smoke=cfg.smoke,
            clip_weights=cfg.clip_weights,
            lpips_weights=cfg.lpips_weights,
        ),
    )


def _as_dict(obj: Any) -> dict[str, Any]:
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else dict(vars(obj))


def _prepare_run_json(run_dir: Path, fresh: dict[str, Any]) -> dict[str, Any]:
    """Create run.json, or check that an existing one describes the same run and mark a resumed session."""
    path = run_dir / RUN_JSON
    if not path.is_file():
        write_json(path, fresh, durable=False)
        return fresh
    old = json.loads(path.read_text())
    for key in RESUME_KEYS:
        if old.get(key) != fresh.get(key):
            raise RsesError(
                f"{run_dir} holds a different run: its {key} is {old.get(key)!r}, "
                f"this run's is {fresh.get(key)!r}. "
                "Pass a different --out, or delete that directory to start over."
            )
    merged = {
        **fresh,
        "started": old.get("started", fresh["started"]),
        "n_sessions": old.get("n_sessions", 1) + 1,
    }
    write_json(path, merged, durable=False)
    return merged


def _wait_for_ranks(
    run_dir: Path, part_names: list[str], key: str, all_ids: set[str], timeout: float
) -> None:
    """Rank 0: wait until every rank's done marker carries this launch's key, or every sample has a row."""
    try:
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            dist.barrier()
            return
    except ImportError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        markers = [run_dir / f".done{name}" for name in part_names]
        if all(m.is_file() and m.read_text() == key for m in markers) or all_ids <= set(
            read_journals(run_dir)
        ):
            return
        time.sleep(1.0)
    log.warning(
        "Timed out after %.0f s waiting for the other ranks; writing the tables with the rows so far.",
        timeout,
    )


def _launch_key() -> str:
    env = os.environ
    return ":".join(
        env.get(k, "") for k in ("TORCHELASTIC_RUN_ID", "MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE")
    )


def finalize(
    run_dir: Path, selected_ids: Sequence[str], metric_names: Sequence[str]
) -> tuple[int, int, bool]:
    """Rebuild ``samples.parquet``/``.csv`` and ``summary.json`` from the journals; update run.json.

    Only rows of ``selected_ids`` (the limited split, all shards) are tabled, in split order.
    Returns ``(n_ok, n_failed, complete)``.
    """
    with dir_lock(run_dir / ".finalize.lock", "a merge", wait=True):
        rows = read_journals(run_dir)
        ordered = [rows[i] for i in selected_ids if i in rows]
        table = table_columns(ordered, metric_names)
        write_tables(run_dir, table, summarize(table, metric_names))
        n_ok = table["status"].count("ok")
        n_failed = len(ordered) - n_ok
        complete = len(ordered) == len(selected_ids)
        info = json.loads((run_dir / RUN_JSON).read_text())
        info.update(
            finished=_now(), n_expected=len(selected_ids), n_ok=n_ok, n_failed=n_failed, complete=complete
        )
        write_json(run_dir / RUN_JSON, info, durable=False)
    return n_ok, n_failed, complete


def run_eval(cfg: RunConfig, *, progress: bool = True, editor: Editor | None = None) -> RunResult:
    """Run (or resume) an evaluation; see the module docstring.

    Weights of the editor and of every selected metric are checked before any work, so a missing checkpoint
    stops within seconds with the message that says where to put it.

    Raises:
        WeightsNotFoundError: a needed checkpoint is missing.
        RsesError: the run directory is locked by another run, or holds a different run.
    """
    if cfg.batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {cfg.batch_size}.")
    if cfg.limit is not None and cfg.limit < 1:
        raise UsageError(f"--limit must be >= 1, got {cfg.limit}.")
    rank, world = dist_rank()
    device = f"cuda:{os.environ.get('LOCAL_RANK', 0)}" if cfg.device == "cuda" and world > 1 else cfg.device

    editor = editor or build_editor(cfg.method, cfg.editor_config, device=device, smoke=cfg.smoke)
    editor.check_weights()
    metric_names, metric_info, make_scorer = _metric_setup(cfg, device)
    scorer = make_scorer()
    scorer.check_weights()

    from rses.data.manifest import load_split

    split = load_split(cfg.split)
    run_dir = Path(cfg.out or Path("runs") / f"{cfg.method}-{safe_split_name(split.name)}")
    selected = select_samples(split.samples, cfg.limit, (0, 1))
    mine = select_samples(split.samples, cfg.limit, cfg.shard, rank, world)
    part = _part_name(cfg.shard, rank, world)

    run_dir.mkdir(parents=True, exist_ok=True)
    with dir_lock(run_dir / f".lock{part}", f"part {part[1:] or 'all'}"):
        (run_dir / f".done{part}").unlink(missing_ok=True)
        fresh = {
            "schema_version": 1,
            "rses_version": rses.__version__,
            "method": cfg.method,
            "editor_class": f"{type(editor).__module__}:{type(editor).__qualname__}",
            "editor_config": editor.config_dict(),
            "editor_config_hash": editor.config_hash(),
            "editor_sees_mask": bool(editor.sees_mask),
            "smoke": bool(cfg.smoke),
            "split": split.name,
            "split_manifest": str(split.manifest_path),
            "split_manifest_sha256": split.manifest_sha256,
            "n_split_samples": len(split.samples),
            "limit": cfg.limit,
            "seed": cfg.seed,
            "seed_derivation": SEED_DERIVATION,
            "metrics": metric_names,
            "metric_info": metric_info,
            "metric_config": scorer.config(),
            "device": device,
            "batch_size": cfg.batch_size,
            "shard": list(cfg.shard),
            "world_size": world,
            "resize": RESIZE_METHOD,
            "edit_cache": str(EditCache(editor).dir),
            "command": cfg.command,
            **environment_info(),
            "started": _now(),
            "n_sessions": 1,
        }
        if rank == 0:
            _prepare_run_json(run_dir, fresh)
        recorded = read_journals(run_dir)
        done = {i for i, row in recorded.items() if row["status"] == "ok" or not cfg.retry_failed}
        todo = [s for s in mine if s.id not in done]
        journal = Journal(run_dir / f"journal{part}.jsonl")
        session = _Session(cfg, editor, scorer, metric_info, run_dir, journal)
        with journal, _progress(progress) as bar:
            session.run(todo, bar, f"{cfg.method} on {split.name}")
        if world > 1:
            (run_dir / f".done{part}").write_text(_launch_key())
    if rank != 0:
        return RunResult(
            run_dir, len(todo), len(mine) - len(todo), session.n_ok, session.n_failed, False, False
        )
    if world > 1:
        parts = [_part_name(cfg.shard, r, world) for r in range(world)]
        shard_ids = {s.id for s in select_samples(split.samples, cfg.limit, cfg.shard)}
        _wait_for_ranks(
            run_dir, parts, _launch_key(), shard_ids, float(os.environ.get("RSES_RANK_WAIT_S", 6 * 3600))
        )
    n_ok, n_failed, complete = finalize(run_dir, [s.id for s in selected], metric_names)
    if world > 1:
        for name in [_part_name(cfg.shard, r, world) for r in range(world)]:
            (run_dir / f".done{name}").unlink(missing_ok=True)
    return RunResult(run_dir, len(todo), len(mine) - len(todo), n_ok, n_failed, complete, True)


def safe_split_name(name: str) -> str:
    """A split name usable in a directory name (``coco/test`` -> ``coco-test``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "split"


@contextmanager
def _progress(enabled: bool):
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task) -> Text:
            return Text(f"{task.speed:.2f} samples/s" if task.speed else "-- samples/s", style="cyan")

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    # 2 redraws a second, not rich's 10: each redraw takes the GIL from the editor and metric calls, and an
    # eval's bar needs no smoother motion (a 0.8 s run of the cheapest editor took ~10 ms less).
    with Progress(*columns, console=Console(stderr=True), transient=False, refresh_per_second=2) as bar:
        yield bar


__all__ = [
    "RunConfig",
    "RunResult",
    "run_eval",
    "parse_shard",
    "dist_rank",
    "sample_seed",
    "select_samples",
    "EditCache",
    "check_edit",
    "to_source_size",
    "build_editor",
    "finalize",
    "default_cache_dir",
]
