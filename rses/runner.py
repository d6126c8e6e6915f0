"""The resumable runner behind ``rses eval``: edit, resize, score and record every sample of a split.

For each sample the runner

1. takes the edit from the on-disk edit cache (an unreadable entry is made again), or calls the editor (in
   batches) and caches the result; the cache key is the editor name, its config hash, the digest of the
   weights it resolved to (:meth:`rses.weight_identity.WeightIdentity.key`, however they were named), the
   smoke flag, the sample id, the seed and a digest of the inputs, so a rerun or a re-score never
   regenerates an edit and other weights never reuse one (cache: ``$RSES_CACHE_DIR/edits`` or
   ``~/.cache/rses/edits``);
2. checks the edit (``check_edit``: an ``(H, W, 3)`` uint8 array, no NaN, a size within ``SIZE_POLICY``;
   images of one batch that share memory are made again one by one) and brings it to the source size (PIL
   Lanczos resampling, ``RESIZE_METHOD``; the editor's size is kept in the row as ``edit_height``/
   ``edit_width``);
3. scores it with :class:`rses.metrics.MetricSuite` and appends the row to the run's journal (flushed per row).

A sample whose editor call raises (``SystemExit`` and any other ``BaseException`` included), hangs past
``sample_timeout``, returns NaN or a wrong shape, or whose metrics fail, becomes a ``failed`` row with the
error; the run goes on. Ctrl-C, SIGTERM and storage trouble (a full disk, an I/O error) stop the run instead
(:mod:`rses.isolation`, :mod:`rses.storage`). Killed at any moment, the same command resumes: samples with a
row are skipped (``retry_failed`` reruns failed ones); temporary files a killed run left are removed. A lock
on the run directory stops a second concurrent run.
Rows and edits are flushed to the OS, not fsynced: after a machine crash the last rows are recomputed.

Scaling: ``shard=(i, n)`` takes every n-th sample from the i-th; under ``torchrun``/``accelerate launch`` the
ranks (``RANK``/``WORLD_SIZE``, or ``LOCAL_RANK``/``LOCAL_WORLD_SIZE``) split the shard again the same way.
Each (shard, rank) writes its own journal; rank 0 waits for the other ranks (a ``torch.distributed`` barrier
when a process group is initialized, otherwise done-marker files) and builds the tables.

This module keeps the loop (:func:`run_eval` and the per-sample pass); each other concern has its module:
:mod:`rses.run_config` (the config, the seeds), :mod:`rses.launch` (shards, ranks, the merge),
:mod:`rses.edit_cache`, :mod:`rses.edit_checks` (output checks, resizing), :mod:`rses.run_json` (run.json and
resuming), :mod:`rses.provenance`, :func:`rses.editing.build_editor`, :mod:`rses.io` (locks, links) and
:mod:`rses.progress`. It is a little over 450 lines because the per-sample pass (``_Session``: batching,
isolating a failing sample, the edit-then-score hand-off) reads best in one place.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rses.edit_cache import EDIT_PNG_COMPRESSION, EditCache, default_cache_dir, safe_name
from rses.edit_checks import (
    ASPECT_TOLERANCE,
    MAX_SIZE_FACTOR,
    RESIZE_METHOD,
    SIZE_POLICY,
    check_edit,
    check_size,
    shared_outputs,
    to_source_size,
)
from rses.editing import Editor, EditRequest, build_editor
from rses.errors import InvalidSampleError, UsageError
from rses.io import dir_lock, link_or_copy, save_image
from rses.isolation import CallTimeout, call_with_timeout, error_text, is_stop, raise_if_stopped, stop_signals
from rses.launch import (
    dist_rank,
    finalize,
    launch_key,
    parse_shard,
    part_name,
    select_samples,
    wait_for_ranks,
)
from rses.pixels import load_image, load_mask
from rses.prefetch import prefetch
from rses.progress import progress_bar
from rses.provenance import PACKAGES, environment_info
from rses.results import Journal, read_journals
from rses.run_config import NUMBER_NEUTRAL_OPTIONS, SEED_DERIVATION, RunConfig, RunResult, sample_seed
from rses.run_json import build_run_record, identify_models, prepare_run_json
from rses.storage import check_writable, is_storage_error, remove_stale_temporaries, storage_guard
from rses.weight_identity import weights_key
from rses.weights import check_all

if TYPE_CHECKING:
    from rich.progress import Progress

    from rses.data.manifest import Sample

log = logging.getLogger(__name__)


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
        cache: EditCache,
    ):
        metric_names = list(metric_info)
        self.cfg, self.editor, self.scorer, self.metric_names = cfg, editor, scorer, metric_names
        self.run_dir, self.journal = run_dir, journal
        self.cache = cache
        self.needs_target = {name for name, info in metric_info.items() if info.get("needs_target")}
        self.n_ok = self.n_failed = 0

    def run(self, samples: Sequence, progress: Progress | None, description: str) -> None:
        task = progress.add_task(description, total=len(samples)) if progress else None
        loaded = prefetch(samples, self._read)  # decoding runs ahead of editing and scoring, in order
        for start in range(0, len(samples), self.cfg.batch_size):
            rows = self._batch([next(loaded) for _ in samples[start : start + self.cfg.batch_size]])
            raise_if_stopped()
            for row in rows:
                _append(self.journal, row)
                if row["status"] == "ok":
                    self.n_ok += 1
                else:
                    self.n_failed += 1
                    log.warning("sample %s failed: %s", row["sample_id"], row["error"])
                if progress:
                    progress.advance(task)

    def _batch(self, loaded: Sequence[tuple[Any, Any]]) -> list[dict[str, Any]]:
        """Edit, check and score one batch of ``(sample, what _read gave: its images or its error)``."""
        samples = [sample for sample, _ in loaded]
        rows, inputs, todo = [], {}, []
        for sample, data in loaded:
            row = self._base_row(sample)
            rows.append(row)
            if isinstance(data, InvalidSampleError):
                self._fail(row, data)
                continue
            if isinstance(data, BaseException):
                raise data  # not a property of the sample (a storage error, a bug): stops the run
            inputs[sample.id] = data
            source, mask = data["source"], data["mask"]
            mask_area = np.count_nonzero(mask) / mask.size  # 10x cheaper than mask.mean() on a bool mask
            row.update(source_height=source.shape[0], source_width=source.shape[1], mask_area=mask_area)
            cache_path = inputs[sample.id]["cache_path"] = self.cache.path(
                sample, row["seed"], self.editor.sees_mask
            )
            cached = self._cached_edit(cache_path, sample.id, inputs[sample.id]["source"].shape[:2])
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
    def _cached_edit(cache_path: Path, sample_id: str, source_size: tuple[int, int]) -> np.ndarray | None:
        """The cached edit, or None when there is none, it cannot be read or ``check_edit`` refuses it (it is
        then made again).
        """
        if not cache_path.is_file():
            return None
        try:
            return check_edit(load_image(cache_path), sample_id, source_size)
        except InvalidSampleError as err:
            log.warning("Unusable cached edit, making it again: %s", err)
            return None

    def _base_row(self, sample: Sample) -> dict[str, Any]:
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

    def _read(self, sample: Sample) -> dict[str, Any]:
        """Decode a sample's images (on the prefetch thread): ``source``, ``mask`` and ``target`` arrays."""
        source = load_image(sample.source)
        mask = load_mask(sample.mask, self.cfg.metric_options.get("mask_threshold"))
        if mask.shape != source.shape[:2]:
            raise InvalidSampleError(
                f"Sample {sample.id!r}: mask {sample.mask} is {mask.shape[1]}x{mask.shape[0]} "
                f"but the source is "
                f"{source.shape[1]}x{source.shape[0]}."
            )
        target = load_image(sample.target) if sample.target is not None else None
        return {"source": source, "mask": mask, "target": target}

    def _edit(self, todo: list, inputs: dict[str, dict[str, Any]], alone: bool = False) -> None:
        """Edit the uncached samples in one call; if the batch call raises, or returns images that share
        memory (one buffer for several samples), retry one by one, copying each output (``alone``).
        """
        if not todo:
            return
        requests = [  # copies: an editor that writes into its inputs must not change what is scored
            EditRequest(
                sample.id,
                inputs[sample.id]["source"].copy(),
                inputs[sample.id]["mask"].copy() if self.editor.sees_mask else None,
                sample.prompt,
                sample.style,
                sample.object_name,
                seed=row["seed"],
            )
            for sample, row, _ in todo
        ]
        start = time.perf_counter()
        try:
            outputs = self._call_editor(requests)
            if len(outputs) != len(requests):
                raise InvalidSampleError(
                    f"Editor returned {len(outputs)} images for {len(requests)} requests."
                )
        except CallTimeout as err:  # the call may still run: retrying its samples now would pile calls up
            for _, row, _ in todo:
                self._fail(row, err)
            return
        except BaseException as err:  # noqa: BLE001  (an editor failure becomes failed rows, the run goes on)
            _raise_if_fatal(err)
            if len(todo) == 1:
                self._fail(todo[0][1], err)
            else:
                for item in todo:
                    self._edit([item], inputs, alone=True)
            return
        if len(todo) > 1 and (shared := shared_outputs(outputs)):
            log.warning(
                "%s returned images sharing memory for samples %s; editing them one by one.",
                self.editor.name,
                sorted({todo[k][0].id for pair in shared for k in pair}),
            )
            for item in todo:
                self._edit([item], inputs, alone=True)
            return
        seconds = (time.perf_counter() - start) / len(todo)
        for (sample, row, cache_path), image in zip(todo, outputs, strict=True):
            row["edit_seconds"] = seconds
            try:
                image = check_edit(image, sample.id, inputs[sample.id]["source"].shape[:2])
                inputs[sample.id]["edited"] = image = image.copy() if alone else image
                save_image(cache_path, image, compress_level=EDIT_PNG_COMPRESSION)
            except InvalidSampleError as err:
                self._fail(row, err)

    def _scoring_input(self, sample: Sample, row: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        """The edit at the source's size, linked into the run directory, as one ``MetricSuite.score_batch`` item."""
        cache_path, edited = data["cache_path"], data["edited"]
        row.update(edit_height=edited.shape[0], edit_width=edited.shape[1])
        size = data["source"].shape[:2]
        output = Path("edits") / f"{safe_name(sample.id)}.png"
        if edited.shape[:2] == size:
            link_or_copy(cache_path, self.run_dir / output)
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
        except BaseException as err:  # noqa: BLE001  (a scoring failure becomes a failed row, the run goes on)
            _raise_if_fatal(err)
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

    def _call_editor(self, requests: list[EditRequest]) -> list:
        """``editor.edit(requests)`` as a list, within ``sample_timeout`` seconds per request when one is set."""
        limit = self.cfg.sample_timeout and self.cfg.sample_timeout * len(requests)
        what = f"editor {self.editor.name!r} on {len(requests)} sample(s) ({requests[0].sample_id!r} first)"
        return call_with_timeout(lambda: list(self.editor.edit(requests)), limit, what)

    @staticmethod
    def _fail(row: dict[str, Any], err: BaseException) -> None:
        """Record ``err`` as the row's failure; a stop request or storage trouble stops the run instead."""
        _raise_if_fatal(err)
        row.update(status="failed", error=error_text(err))


def _raise_if_fatal(err: BaseException) -> None:
    """Re-raise what stops a run (Ctrl-C, SIGTERM, storage trouble): it is no property of the sample."""
    if is_stop(err) or is_storage_error(err):
        raise err


def _append(journal: Journal, row: dict[str, Any]) -> None:
    """``journal.append(row)``; a failed write names the journal (a buffered write's error names no file)."""
    try:
        journal.append(row)
    except OSError as err:
        raise OSError(err.errno, err.strerror or str(err), str(journal.path)) from err


def _fault_handling(run: Callable[..., RunResult]) -> Callable[..., RunResult]:
    """Around :func:`run_eval`: SIGINT/SIGTERM stop the run cleanly, storage trouble is one
    :class:`~rses.storage.StorageError`, and ``sample_timeout`` is checked.
    """

    @functools.wraps(run)
    def guarded(cfg: RunConfig, *args: Any, **kwargs: Any) -> RunResult:
        timeout = cfg.sample_timeout
        if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
            raise UsageError(f"--sample-timeout must be a positive number of seconds, got {timeout}.")
        with stop_signals(), storage_guard(Path.cwd()):
            return run(cfg, *args, **kwargs)

    return guarded


def _prepare_storage(run_dir: Path, cache_dir: Path) -> None:
    """Before any work: the run directory and the edit cache are writable, and the temporary files a killed
    run left in them are gone.
    """
    check_writable(run_dir, "output directory")
    check_writable(cache_dir, "edit cache")
    for folder in (run_dir, run_dir / "edits", cache_dir):
        for path in remove_stale_temporaries(folder):
            log.info("Removed %s, left by an interrupted run.", path)


def _metric_setup(cfg: RunConfig, device: str):
    from rses.metrics import METRICS, MetricSuite, select_metrics

    names = select_metrics(cfg.metrics)
    info = {name: _as_dict(METRICS[name]) for name in names}
    return (
        names,
        info,
        lambda: MetricSuite(
            metrics=names,
            device=device,
            smoke=cfg.smoke,
            clip_weights=cfg.clip_weights,
            lpips_weights=cfg.lpips_weights,
            vlm_weights=cfg.vlm_weights,
            **cfg.metric_options,
            crop_policy=cfg.crop_policy,
            dtype=cfg.metric_dtype,
        ),
    )


def _apply_threads(cfg: RunConfig, editor: Editor, metric_info: dict[str, dict]) -> int:
    """Set this process's CPU threads for the run's workload (:mod:`rses.threads`) and return the count."""
    from rses.threads import apply_threads, choose_threads

    learned = bool(editor.weights()) or any(info.get("needs") for info in metric_info.values())
    threads = choose_threads(cfg.threads, learned)
    apply_threads(threads, learned)
    return threads


def _as_dict(obj: Any) -> dict[str, Any]:
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else dict(vars(obj))


@_fault_handling
def run_eval(cfg: RunConfig, *, progress: bool = True, editor: Editor | None = None) -> RunResult:
    """Run (or resume) an evaluation; see the module docstring.

    Weights of the editor and of every selected metric are checked before any work, so a missing checkpoint
    stops within seconds with the message that says where to put it.

    Raises:
        WeightsNotFoundError: a needed checkpoint is missing.
        RsesError: the run directory is locked by another run, or holds a different run.
        StorageError: the run directory or edit cache is not writable, or a write failed (a full disk, an
            I/O error); the rows written so far are kept and the same command resumes.
        KeyboardInterrupt: Ctrl-C, or :class:`rses.isolation.Terminated` for SIGTERM; finished rows are kept.
    """
    if cfg.batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {cfg.batch_size}.")
    if cfg.limit is not None and cfg.limit < 1:
        raise UsageError(f"--limit must be >= 1, got {cfg.limit}.")
    rank, world = dist_rank()
    device = f"cuda:{os.environ.get('LOCAL_RANK', 0)}" if cfg.device == "cuda" and world > 1 else cfg.device

    editor = editor or build_editor(cfg.method, cfg.editor_config, device=device, smoke=cfg.smoke)
    metric_names, metric_info, make_scorer = _metric_setup(cfg, device)
    scorer = make_scorer()
    check_all([editor.check_weights, scorer.check_weights])  # every missing weight in one message
    editor_models, metric_models = identify_models(cfg, editor, scorer)
    cache = EditCache(editor, weights_id=weights_key(editor_models))
    threads = _apply_threads(cfg, editor, metric_info)

    from rses.data.manifest import load_split, verify_samples

    split = load_split(
        cfg.split, verify=False
    )  # ids and paths; the files of the samples run are checked below
    run_dir = Path(cfg.out or Path("runs") / f"{cfg.method}-{safe_split_name(split.name)}")
    selected = select_samples(split.samples, cfg.limit, (0, 1))
    mine = select_samples(split.samples, cfg.limit, cfg.shard, rank, world)
    verify_samples(split, mine, cfg.metric_options.get("mask_threshold"))
    part = part_name(cfg.shard, rank, world)
    editor.check_inputs(selected, split.samples)
    scorer.check_styles({s.style for s in mine})

    _prepare_storage(run_dir, cache.dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    with dir_lock(run_dir / f".lock{part}", f"part {part[1:] or 'all'}"):
        (run_dir / f".done{part}").unlink(missing_ok=True)
        fresh = build_run_record(cfg, editor, scorer, split, metric_info, (editor_models, metric_models))
        fresh = dataclasses.replace(
            fresh, device=device, world_size=world, threads=threads, edit_cache=str(cache.dir)
        )
        if rank == 0:
            prepare_run_json(run_dir, fresh)
        recorded = read_journals(run_dir)
        done = {i for i, row in recorded.items() if row["status"] == "ok" or not cfg.retry_failed}
        todo = [s for s in mine if s.id not in done]
        journal = Journal(run_dir / f"journal{part}.jsonl")
        session = _Session(cfg, editor, scorer, metric_info, run_dir, journal, cache)
        with journal, progress_bar(progress) as bar:
            session.run(todo, bar, f"{cfg.method} on {split.name}")
        if world > 1:
            (run_dir / f".done{part}").write_text(launch_key())
    if rank != 0:
        return RunResult(
            run_dir, len(todo), len(mine) - len(todo), session.n_ok, session.n_failed, False, False
        )
    if world > 1:
        parts = [part_name(cfg.shard, r, world) for r in range(world)]
        shard_ids = {s.id for s in select_samples(split.samples, cfg.limit, cfg.shard)}
        wait_for_ranks(
            run_dir, parts, launch_key(), shard_ids, float(os.environ.get("RSES_RANK_WAIT_S", 6 * 3600))
        )
    n_ok, n_failed, complete = finalize(run_dir, [s.id for s in selected], metric_names)
    if world > 1:
        for name in [part_name(cfg.shard, r, world) for r in range(world)]:
            (run_dir / f".done{name}").unlink(missing_ok=True)
    return RunResult(run_dir, len(todo), len(mine) - len(todo), n_ok, n_failed, complete, True)


def safe_split_name(name: str) -> str:
    """A split name usable in a directory name (``coco/test`` -> ``coco-test``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "split"


# Names that moved out of this module when it was split (issue #21), still importable from here for one release:
# import them from their new modules (named in the module docstring).
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
    "safe_split_name",
    # moved, re-exported for one release
    "ASPECT_TOLERANCE",
    "EDIT_PNG_COMPRESSION",
    "MAX_SIZE_FACTOR",
    "NUMBER_NEUTRAL_OPTIONS",
    "PACKAGES",
    "RESIZE_METHOD",
    "SEED_DERIVATION",
    "SIZE_POLICY",
    "check_size",
    "dir_lock",
    "environment_info",
    "safe_name",
    "shared_outputs",
]
