"""`rses eval`, `compare`, `leaderboard`, `check` and `ls` in-process: outputs and exit codes."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from harness_kit import cli, make_split

from rses.compare import compare_runs, paired_bootstrap, win_rate
from rses.drift import check_drift
from rses.results import bootstrap_ci, load_run

METRICS = "mse_bg,pixel_consistency,psnr_bg"


@pytest.fixture
def two_runs(tmp_path, capsys):
    split = make_split(tmp_path / "split", [f"s{i}" for i in range(6)] + ["raise-6"])
    runs = []
    for method in ("fake-flaky", "fake-shift"):
        out = tmp_path / method
        code, _, err = cli(
            capsys,
            "eval",
            "-m",
            method,
            "-s",
            str(split),
            "-o",
            str(out),
            "--metrics",
            METRICS,
            "--no-progress",
            "--device",
            "cpu",
        )
        runs.append((out, code, err))
    return runs


def test_eval_exit_status_counts_failed_samples(two_runs):
    (flaky, code, err), (shift, shift_code, _) = two_runs
    assert code == 1 and "1 sample(s) failed" in err and "samples.csv" in err
    assert shift_code == 0


def test_compare_pairs_samples_ok_in_both(two_runs, capsys):
    (flaky, _, _), (shift, _, _) = two_runs
    code, out, _ = cli(capsys, "compare", str(flaky), str(shift), "--metrics", "mse_bg")
    assert code == 0
    assert "win rate" in out and "mse_bg ↓" in out
    assert "0.0%" in [line for line in out.splitlines() if "fake-shift" in line][0]
    # fake-flaky returns the source (mse_bg 0); fake-shift changes every pixel, so it loses on all 6 pairs
    ref, other = compare_runs([load_run(flaky), load_run(shift)], ["mse_bg"])
    assert (ref.n_paired, ref.diff, ref.win_rate) == (6, 0.0, 0.5)
    assert (other.n, other.n_paired, other.win_rate, other.higher_is_better) == (7, 6, 0.0, False)
    assert 0 < other.diff_low <= other.diff <= other.diff_high


def test_leaderboard_formats(two_runs, capsys, tmp_path):
    (flaky, _, _), (shift, _, _) = two_runs
    code, out, _ = cli(capsys, "leaderboard", str(flaky), str(shift), "--format", "md")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == (
        "| method | sees mask | split | n | metric backend | mse_bg ↓ | psnr_bg ↑ | pixel_consistency ↑ |"
    )
    assert lines[2].startswith("| fake-flaky | no | split | 6 | weight-free | 0 ± 0 |")
    code, out, _ = cli(capsys, "leaderboard", str(flaky), str(shift), "--format", "csv")
    table = pd.read_csv(io.StringIO(out))
    assert list(table["method"]) == ["fake-flaky", "fake-shift"] and list(table["n"]) == [6, 7]
    assert table.loc[0, "mse_bg_mean"] == 0.0 and {"mse_bg_ci_low", "mse_bg_ci_high"} <= set(table.columns)
    code, _, _ = cli(
        capsys, "leaderboard", str(flaky), "--format", "html", "--out", str(tmp_path / "lb.html")
    )
    html = (tmp_path / "lb.html").read_text()
    assert code == 0 and html.startswith("<!doctype html>") and "<table" in html and "weight-free" in html
    code, _, err = cli(capsys, "leaderboard", str(flaky), "--format", "pdf")
    assert code == 2 and "--format 'pdf' is not one of md, csv, html" in err


def test_check_passes_then_fails_on_drift_then_update_rewrites(two_runs, capsys, tmp_path):
    (_, _, _), (shift, _, _) = two_runs
    baseline = tmp_path / "baseline.json"
    code, _, err = cli(capsys, "check", str(shift), "--baseline", str(baseline))
    assert code == 1 and "No baseline at" in err and "--update" in err
    assert (
        cli(capsys, "check", str(shift), "--baseline", str(baseline), "--update", "--tolerance", "0.01")[0]
        == 0
    )
    saved = json.loads(baseline.read_text())
    assert (
        saved["tolerance"] == 0.01
        and saved["method"] == "fake-shift"
        and len(saved["split_manifest_sha256"]) == 64
    )
    assert {"rses_version", "date", "command", "metrics"} <= set(saved)
    assert set(saved["metrics"]) == {"mse_bg", "pixel_consistency", "psnr_bg"}
    code, out, _ = cli(capsys, "check", str(shift), "--baseline", str(baseline))
    assert code == 0 and "No drift" in out
    saved["metrics"]["psnr_bg"] += 0.5
    baseline.write_text(json.dumps(saved))
    code, out, err = cli(capsys, "check", str(shift), "--baseline", str(baseline))
    assert code == 1 and "drift" in out and "psnr_bg" in err
    assert cli(capsys, "check", str(shift), "--baseline", str(baseline), "--tolerance", "1")[0] == 0
    cli(capsys, "check", str(shift), "--baseline", str(baseline), "--update")
    assert json.loads(baseline.read_text())["tolerance"] == 0.01  # kept from the previous baseline
    assert cli(capsys, "check", str(shift), "--baseline", str(baseline))[0] == 0


def test_check_flags_another_split_manifest(two_runs, capsys, tmp_path):
    (_, _, _), (shift, _, _) = two_runs
    baseline = tmp_path / "b.json"
    cli(capsys, "check", str(shift), "--baseline", str(baseline), "--update")
    saved = json.loads(baseline.read_text())
    baseline.write_text(json.dumps({**saved, "split_manifest_sha256": "0" * 64}))
    code, _, err = cli(capsys, "check", str(shift), "--baseline", str(baseline))
    assert code == 1 and "1 value(s) drifted beyond tolerance: split_manifest_sha256." in err


def test_check_says_which_metrics_are_missing_rather_than_drifted(two_runs, capsys, tmp_path):
    (_, _, _), (shift, _, _) = two_runs
    baseline = tmp_path / "b.json"
    cli(capsys, "check", str(shift), "--baseline", str(baseline), "--update")
    saved = json.loads(baseline.read_text())
    baseline.write_text(json.dumps({**saved, "metrics": {**saved["metrics"], "lpips_bg": 0.02}}))
    code, _, err = cli(capsys, "check", str(shift), "--baseline", str(baseline))
    err = " ".join(err.split())
    assert code == 1 and "drifted" not in err
    assert "1 metric(s) of the baseline missing from the run: lpips_bg (score the run with them)." in err


def test_ls_lists_editors_metrics_and_splits(capsys):
    assert "fake-shift" in cli(capsys, "ls", "editors")[1]
    assert "psnr_bg" in cli(capsys, "ls", "metrics")[1]
    assert "test" in cli(capsys, "ls", "splits")[1]


def test_eval_missing_weights_is_one_clear_line(tmp_path, capsys):
    split = make_split(tmp_path / "split", ["a"])
    code, _, err = cli(
        capsys,
        "eval",
        "-m",
        "fake-weights",
        "-s",
        str(split),
        "-o",
        str(tmp_path / "r"),
        "--metrics",
        "mse_bg",
        "--device",
        "cpu",
    )
    assert code == 1 and "rses-tests/no-such-model" in err and "Traceback" not in err


def test_eval_config_file_must_be_a_json_object(tmp_path, capsys):
    bad = tmp_path / "c.json"
    bad.write_text("[1]")
    code, _, err = cli(capsys, "eval", "-m", "fake-shift", "--config", str(bad), "--device", "cpu")
    assert code == 2 and "must hold a JSON object" in err


def test_paired_bootstrap_and_win_rate_exact_values():
    assert paired_bootstrap(np.array([1.0, 2.0]), np.array([2.0, 3.0])) == (1.0, 1.0, 1.0)
    diff, low, high = paired_bootstrap(np.zeros(50), np.arange(50.0))
    assert diff == 24.5 and low < 24.5 < high
    assert (
        win_rate(np.array([1.0, 1.0, 1.0, 1.0]), np.array([0.0, 1.0, 2.0, 3.0]), higher_is_better=False)
        == 0.375
    )
    assert np.isnan(win_rate(np.array([]), np.array([]), True))
    assert bootstrap_ci(np.array([2.0])) == (2.0, 2.0)


def test_check_drift_statuses():
    rows = check_drift({"a": 1.0, "c": 0.0}, {"metrics": {"a": 1.0005, "b": 2.0}, "tolerance": 1e-3})
    assert [(r.metric, r.status) for r in rows] == [("a", "ok"), ("b", "missing"), ("c", "new")]
    assert [r.failed for r in rows] == [False, True, False]
