"""Crash safety with real processes: SIGKILL mid-run 3 times, resume, compare with an uninterrupted run."""

from __future__ import annotations

import json
import signal
import time

import pandas as pd
import pytest
from harness_kit import rses_cli

from rses.errors import RsesError
from rses.runner import RunConfig, run_eval

VARYING = ["edit_seconds", "score_seconds", "cached"]
METRICS = ["mse_bg", "pixel_consistency"]


def journal_rows(run_dir) -> int:
    path = run_dir / "journal.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.slow
def test_sigkill_resume_equals_an_uninterrupted_run_and_a_second_run_is_locked_out(split12, tmp_path):
    run_dir = tmp_path / "run"
    args = [
        "eval",
        "--method",
        "fake-shift",
        "--split",
        str(split12),
        "--out",
        str(run_dir),
        "--metrics",
        ",".join(METRICS),
        "--no-progress",
        "--device",
        "cpu",
    ]
    log = tmp_path / "edits.log"
    slow = {"FAKE_EDIT_SLEEP": "0.3", "FAKE_EDIT_LOG": str(log)}
    for kill_after in (1, 5, 8):
        proc = rses_cli(*args, env=slow)
        wait_for(lambda n=kill_after, p=proc: journal_rows(run_dir) >= n or p.poll() is not None)
        if kill_after == 1:  # while it runs, a second run on the same directory stops with a clear message
            with pytest.raises(
                RsesError, match=r"Another `rses eval` is already running .* \(lock .*\.lock held by pid"
            ):
                run_eval(
                    RunConfig(method="fake-shift", split=str(split12), out=run_dir, metrics=METRICS),
                    progress=False,
                )
        assert proc.poll() is None, "the run ended before it was killed; slow it down"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert not (run_dir / "samples.parquet").exists()
    rows_before = journal_rows(run_dir)
    assert 8 <= rows_before < 12
    resumed = rses_cli(*args, env={"FAKE_EDIT_LOG": str(log)})
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert f"{12 - rows_before} new, {rows_before} resumed" in " ".join(out.split())

    run_eval(
        RunConfig(method="fake-shift", split=str(split12), out=tmp_path / "fresh", metrics=METRICS),
        progress=False,
    )
    got, want = (
        pd.read_parquet(d / "samples.parquet").drop(columns=VARYING) for d in (run_dir, tmp_path / "fresh")
    )
    pd.testing.assert_frame_equal(got, want)
    lines = (run_dir / "journal.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["sample_id"] for line in lines) == [f"s{i:02d}" for i in range(12)]
    # the edit cache: a killed edit may be redone once, a finished one never (the fresh run used the cache)
    edits = log.read_text().split()
    assert set(edits) == {f"s{i:02d}" for i in range(12)} and len(edits) <= 12 + 3


@pytest.mark.slow
def test_ctrl_c_says_how_to_resume_and_keeps_the_finished_rows(split12, tmp_path):
    run_dir = tmp_path / "run"
    args = ["eval", "--method", "fake-shift", "--split", str(split12), "--out", str(run_dir)]
    proc = rses_cli(*args, "--metrics", ",".join(METRICS), "--no-progress", env={"FAKE_EDIT_SLEEP": "0.3"})
    wait_for(lambda: journal_rows(run_dir) >= 2 or proc.poll() is not None)
    assert proc.poll() is None, "the run ended before it was interrupted; slow it down"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "Interrupted. Every finished sample is saved: rerun the same command to resume." in err
    assert 2 <= journal_rows(run_dir) < 12
