"""One sample's failure is that sample's row; Ctrl-C and SIGTERM stop the run cleanly (real processes)."""

from __future__ import annotations

import json
import signal
import time

import pandas as pd
import pytest
from faults_kit import rses_faults
from harness_kit import make_split

from rses.errors import UsageError
from rses.runner import RunConfig, run_eval

METRICS = "mse_bg,pixel_consistency"


def eval_args(split, run_dir, *extra: str) -> list[str]:
    return ["eval", "--method", "fault-hostile", "--split", str(split), "--out", str(run_dir),
            "--metrics", METRICS, "--no-progress", "--device", "cpu", *extra]  # fmt: skip


def journal(run_dir) -> list[dict]:
    path = run_dir / "journal.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.parametrize("batch_size", ["1", "4"])
def test_base_exceptions_from_an_editor_become_failed_rows_and_resume_never_dies(tmp_path, batch_size):
    ids = ["a-ok", "b-sysexit", "c-genexit", "d-base", "e-badstr", "f-ok"]
    split = make_split(tmp_path / "split", ids)
    run_dir = tmp_path / "run"
    proc = rses_faults(*eval_args(split, run_dir, "--batch-size", batch_size))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err  # some samples failed; the run itself finished
    assert "4 sample(s) failed" in " ".join(err.split()) and "Traceback" not in err
    table = pd.read_csv(run_dir / "samples.csv", keep_default_na=False).set_index("sample_id")
    assert list(table.index) == ids
    assert table.loc[["a-ok", "f-ok"], "status"].tolist() == ["ok", "ok"]
    assert table.loc["b-sysexit", "error"] == "SystemExit: 3"
    assert table.loc["c-genexit", "error"] == "GeneratorExit: "
    assert table.loc["d-base", "error"] == "OddBaseException: odd failure on d-base"
    assert table.loc["e-badstr", "error"] == "UnprintableError: <message unprintable: RuntimeError>"
    again = rses_faults(*eval_args(split, run_dir, "--batch-size", batch_size))
    out, err = again.communicate(timeout=120)
    assert again.returncode == 1 and "0 new, 6 resumed" in " ".join(out.split()), err


@pytest.mark.slow
def test_sigterm_stops_cleanly_and_the_next_run_resumes(tmp_path):
    split = make_split(tmp_path / "split", [f"s{i:02d}" for i in range(12)])
    run_dir = tmp_path / "run"
    proc = rses_faults(*eval_args(split, run_dir), env={"FAULT_SLEEP": "0.3"})
    wait_for(lambda: len(journal(run_dir)) >= 2 or proc.poll() is not None)
    assert proc.poll() is None, "the run ended before it was stopped; slow it down"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143
    assert (
        err.strip()
        == "Stopped by signal 15. Every finished sample is saved: rerun the same command to resume."
    )
    rows = journal(run_dir)
    assert 2 <= len(rows) < 12 and {row["status"] for row in rows} == {"ok"}
    resumed = rses_faults(*eval_args(split, run_dir))
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert f"{12 - len(rows)} new, {len(rows)} resumed" in " ".join(out.split())


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stop_signal_swallowed_by_the_editor_still_stops_the_run(tmp_path, sig, code):
    split = make_split(tmp_path / "split", [f"s{i:02d}-swallow" for i in range(6)])
    run_dir = tmp_path / "run"
    proc = rses_faults(*eval_args(split, run_dir), env={"FAULT_SLEEP": "1.0"})
    wait_for(lambda: len(journal(run_dir)) >= 1 or proc.poll() is not None)
    assert proc.poll() is None, "the run ended before it was stopped; slow it down"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert "rerun the same command to resume" in err and "Traceback" not in err
    assert 1 <= len(journal(run_dir)) < 6


@pytest.mark.slow
def test_a_hanging_editor_call_becomes_a_failed_row_and_the_run_goes_on(tmp_path):
    split = make_split(tmp_path / "split", ["a", "b-hang", "c"])
    run_dir = tmp_path / "run"
    start = time.monotonic()
    proc = rses_faults(*eval_args(split, run_dir, "--sample-timeout", "1.5"))
    out, err = proc.communicate(timeout=120)
    assert time.monotonic() - start < 60  # the process did not wait for the abandoned call
    assert proc.returncode == 1, err
    table = pd.read_csv(run_dir / "samples.csv", keep_default_na=False).set_index("sample_id")
    assert table["status"].tolist() == ["ok", "failed", "ok"]
    assert table.loc["b-hang", "error"] == (
        "CallTimeout: editor 'fault-hostile' on 1 sample(s) ('b-hang' first) did not return within 1.5 s "
        "(--sample-timeout); the call was abandoned and may still be running"
    )


@pytest.mark.slow
def test_ctrl_c_while_waiting_for_a_hanging_call_stops_at_once(tmp_path):
    split = make_split(tmp_path / "split", ["a-hang", "b"])
    run_dir = tmp_path / "run"
    proc = rses_faults(*eval_args(split, run_dir, "--sample-timeout", "600"))
    wait_for(lambda: (run_dir / "run.json").exists() or proc.poll() is not None)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Interrupted. Every finished sample is saved" in err and "Traceback" not in err


@pytest.mark.parametrize("seconds", [0.0, -1.0, float("nan"), float("inf")])
def test_sample_timeout_must_be_a_positive_number(tmp_path, seconds):
    split = make_split(tmp_path / "split", ["a"])
    with pytest.raises(UsageError, match="--sample-timeout must be a positive number of seconds"):
        run_eval(RunConfig(method="fault-hostile", split=str(split), out=tmp_path / "run",
                           metrics=["mse_bg"], sample_timeout=seconds), progress=False)  # fmt: skip


def test_a_huge_error_message_is_cut_and_an_unprintable_one_is_named():
    from faults_kit import UnprintableError

    from rses.isolation import MAX_ERROR_CHARS, error_text

    text = error_text(RuntimeError("x" * 10_000))
    assert len(text) == MAX_ERROR_CHARS and text.startswith("RuntimeError: xxx") and text.endswith("…")
    assert error_text(UnprintableError()) == "UnprintableError: <message unprintable: RuntimeError>"
