"""How one evaluation is spread over processes, and how their parts are merged.

``shard=(i, n)`` takes every n-th sample from the i-th (:func:`select_samples`); under ``torchrun`` or
``accelerate launch`` the ranks (:func:`dist_rank`) split the shard again the same way. Each (shard, rank)
writes its own journal, named by :func:`part_name`; rank 0 waits for the other ranks (:func:`wait_for_ranks`)
and :func:`finalize` builds the tables from every journal.

Example:
    >>> part_name((1, 4), 0, 2)
    '.s1of4.r0of2'
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rses.errors import UsageError
from rses.io import dir_lock
from rses.provenance import now_utc
from rses.results import RUN_JSON, read_journals, summarize, table_columns, write_tables
from rses.run_record import read_run_record, write_run_record
from rses.storage import storage_errno

log = logging.getLogger(__name__)


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


def select_samples(
    samples: Sequence, limit: int | None, shard: tuple[int, int], rank: int = 0, world: int = 1
) -> list:
    """The samples one process runs: first ``limit``, then every n-th of the shard, then every world-th rank.

    Example:
        >>> select_samples(list(range(10)), limit=8, shard=(1, 2), rank=0, world=2)
        [1, 5]
    """
    chosen = list(samples[:limit] if limit is not None else samples)
    return chosen[shard[0] :: shard[1]][rank::world]


def part_name(shard: tuple[int, int], rank: int, world: int) -> str:
    """The suffix of one process's journal and markers.

    ``""`` for a single process, else ``.s{i}of{n}.r{rank}of{world}``.
    """
    return "" if shard == (0, 1) and world == 1 else f".s{shard[0]}of{shard[1]}.r{rank}of{world}"


def launch_key() -> str:
    """What identifies this launch (torchrun run id, master address and port, world size).

    Each rank writes it into its done marker, so rank 0 never takes a marker of an earlier launch.
    """
    env = os.environ
    return ":".join(
        env.get(k, "") for k in ("TORCHELASTIC_RUN_ID", "MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE")
    )


def wait_for_ranks(run_dir: Path, part_names: list[str], key: str, all_ids: set[str], timeout: float) -> None:
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
        with names_file(run_dir / "samples.parquet"):
            write_tables(run_dir, table, summarize(table, metric_names))
        n_ok = table["status"].count("ok")
        n_failed = len(ordered) - n_ok
        complete = len(ordered) == len(selected_ids)
        record = dataclasses.replace(
            read_run_record(run_dir / RUN_JSON),
            finished=now_utc(),
            n_expected=len(selected_ids),
            n_ok=n_ok,
            n_failed=n_failed,
            complete=complete,
        )
        write_run_record(run_dir / RUN_JSON, record)
    return n_ok, n_failed, complete


@contextmanager
def names_file(path: Path) -> Iterator[None]:
    """Give an ``OSError`` raised inside that names no file (pyarrow's) the file ``path``."""
    try:
        yield
    except OSError as err:
        if err.filename:
            raise
        code = storage_errno(err) or err.errno
        raise OSError(code, os.strerror(code) if code else str(err), str(path)) from err
