"""Storage trouble stops a run with one line and costs no sample: a real full tmpfs, a read-only mount, EIO,
and the temporary files of a killed run."""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys

import pandas as pd
import pytest
from faults_kit import rses_faults

from rses.results import Journal
from rses.runner import RunConfig, run_eval
from rses.storage import StorageError

METRICS = ["mse_bg", "pixel_consistency"]


def mount_tmpfs(where, options: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")


@pytest.fixture
def mounts():
    mounted = []
    yield lambda where, options: mount_tmpfs(where, options) or mounted.append(where)
    for where in mounted:
        subprocess.run(["umount", str(where)], check=False)


def eval_args(split, run_dir) -> list[str]:
    return ["eval", "--method", "fake-shift", "--split", str(split), "--out", str(run_dir),
            "--metrics", ",".join(METRICS), "--no-progress", "--device", "cpu"]  # fmt: skip


def journal(run_dir) -> list[dict]:
    path = run_dir / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def temporaries(root) -> list:
    return [p for p in root.rglob("*.tmp")]


@pytest.mark.slow
def test_a_full_disk_stops_the_run_with_one_line_and_the_next_run_resumes(split12, tmp_path, mounts):
    disk = tmp_path / "disk"
    mounts(disk, "size=48k")  # room for run.json and about 9 of the 12 edits (one 4 KiB page each)
    run_dir, cache = disk / "run", disk / "cache"
    proc = rses_faults(*eval_args(split12, run_dir), env={"RSES_CACHE_DIR": str(cache)})
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"error: Could not write an edited image to {cache}")
    assert "No space left on device (0 bytes free there)" in lines[0]
    assert lines[0].endswith("rerun the same command to resume.")
    rows = journal(run_dir)
    assert 1 <= len(rows) < 12 and {row["status"] for row in rows} == {"ok"}  # no sample blamed for the disk
    assert temporaries(disk) == []


@pytest.mark.slow
def test_the_run_resumes_on_the_same_disk_once_space_is_freed(split12, tmp_path, mounts):
    disk = tmp_path / "disk"
    mounts(disk, "size=256k")
    (disk / "filler").write_bytes(b"\0" * 208 * 1024)  # leaves about 48 KiB, as in the test above
    run_dir, cache = disk / "run", disk / "cache"
    env = {"RSES_CACHE_DIR": str(cache)}
    proc = rses_faults(*eval_args(split12, run_dir), env=env)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "No space left on device" in err and len(err.strip().splitlines()) == 1
    before = journal(run_dir)
    assert 1 <= len(before) < 12 and {row["status"] for row in before} == {"ok"}
    (disk / "filler").unlink()
    proc = rses_faults(*eval_args(split12, run_dir), env=env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert f"{12 - len(before)} new, {len(before)} resumed" in " ".join(out.split())
    table = pd.read_parquet(run_dir / "samples.parquet")
    assert table["status"].tolist() == ["ok"] * 12
    assert temporaries(disk) == []


@pytest.mark.parametrize("what", ["output directory", "edit cache"])
def test_a_read_only_output_directory_or_cache_is_one_line_before_any_work(split12, tmp_path, mounts, what):
    read_only = tmp_path / "ro"
    mounts(read_only, "ro,size=64k")
    log = tmp_path / "edits.log"
    run_dir = read_only / "run" if what == "output directory" else tmp_path / "run"
    cache = read_only / "cache" if what == "edit cache" else tmp_path / "cache"
    proc = rses_faults(
        *eval_args(split12, run_dir), env={"RSES_CACHE_DIR": str(cache), "FAKE_EDIT_LOG": str(log)}
    )
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    flag = "--out" if what == "output directory" else "RSES_CACHE_DIR"
    folder = (
        re.escape(str(run_dir))
        if what == "output directory"
        else re.escape(f"{cache}/edits/fake-shift/") + r"[\w-]+"
    )
    assert re.fullmatch(
        rf"error: The {what} {folder} is not writable \(Read-only file system\)\. Pass a writable one "
        rf"\({flag}\) or fix its permissions\.",
        err.strip(),
    ), err
    assert not log.exists()  # the editor never ran


def test_an_output_path_that_is_a_file_is_one_line(split12, tmp_path):
    (tmp_path / "taken").write_text("not a directory")
    with pytest.raises(StorageError, match=r"output directory .*taken is not writable \(it is a file"):
        run_eval(RunConfig(method="fake-shift", split=str(split12), out=tmp_path / "taken", metrics=METRICS),
                 progress=False)  # fmt: skip


def test_an_io_error_on_the_journal_stops_the_run_and_the_rows_resume(split12, tmp_path, monkeypatch):
    real_append, calls = Journal.append, []

    def failing_append(self, row):
        calls.append(row["sample_id"])
        if len(calls) > 3:
            raise OSError(errno.EIO, "Input/output error")  # what a failing disk gives a buffered write
        real_append(self, row)

    monkeypatch.setattr(Journal, "append", failing_append)
    cfg = RunConfig(method="fake-shift", split=str(split12), out=tmp_path / "run", metrics=METRICS)
    with pytest.raises(
        StorageError, match=r"Could not write a journal row to .*journal\.jsonl: Input/output e"
    ):
        run_eval(cfg, progress=False)
    assert [row["sample_id"] for row in journal(tmp_path / "run")] == ["s00", "s01", "s02"]
    monkeypatch.setattr(Journal, "append", real_append)
    result = run_eval(cfg, progress=False)
    assert (result.n_new, result.n_skipped, result.n_ok, result.n_failed) == (9, 3, 12, 0)


def test_a_full_disk_while_writing_the_table_keeps_the_rows(split12, tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    def no_space(*args, **kwargs):  # pyarrow's error carries the errno only in its text
        raise OSError("Error writing bytes to file. Detail: [errno 28] No space left on device")

    monkeypatch.setattr(pq, "write_table", no_space)
    cfg = RunConfig(method="fake-shift", split=str(split12), out=tmp_path / "run", metrics=METRICS)
    with pytest.raises(StorageError, match=r"Could not write the table .*samples\.parquet: No space left"):
        run_eval(cfg, progress=False)
    assert len(journal(tmp_path / "run")) == 12
    monkeypatch.undo()
    result = run_eval(cfg, progress=False)
    assert (result.n_new, result.n_skipped, result.n_ok) == (0, 12, 12)


def test_temporary_files_of_a_killed_run_are_removed_by_the_next_run(split12, tmp_path):
    cfg = RunConfig(method="fake-shift", split=str(split12), out=tmp_path / "run", metrics=METRICS, limit=2)
    run_eval(cfg, progress=False)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    cache = next((tmp_path / "cache" / "edits" / "fake-shift").iterdir())
    try:
        stale = [tmp_path / "run" / f".samples.parquet.{dead.pid}.tmp",
                 tmp_path / "run" / "edits" / f".s00-x.png.{dead.pid}.tmp",
                 cache / f".s05-seed1-abc.png.{dead.pid}.tmp"]  # fmt: skip
        kept = [cache / f".s06-seed1-abc.png.{live.pid}.tmp", tmp_path / "run" / "notes.tmp"]
        for path in stale + kept:
            path.write_bytes(b"half a file")
        old = tmp_path / "run" / f".summary.json.{live.pid}.tmp"  # a live pid, but a day old: stale too
        old.write_bytes(b"x")
        os.utime(old, (0, 0))
        run_eval(cfg, progress=False)
        assert [p.exists() for p in stale + [old]] == [False] * 4
        assert [p.exists() for p in kept] == [True, True]
    finally:
        live.kill()
        live.wait()
