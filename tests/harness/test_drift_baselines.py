"""`rses check` refuses baselines it cannot trust, one line each; NaN in both baseline and run is no drift."""

from __future__ import annotations

import json

import pytest
from harness_kit import cli, make_split

from rses.drift import check_drift
from rses.runner import RunConfig, run_eval


@pytest.fixture
def run_dir(tmp_path):
    split = make_split(tmp_path / "split", ["a", "b"])
    out = tmp_path / "run"
    run_eval(RunConfig(method="fake-shift", split=str(split), out=out, metrics=["mse_bg"]), progress=False)
    return out


def baseline_file(tmp_path, text: str):
    path = tmp_path / "baseline.json"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"metrics": {}}', "has no 'metrics' object of metric means"),
        ('{"tolerance": 0.1}', "has no 'metrics' object of metric means"),
        ('{"schema_version": 7, "metrics": {"mse_bg": 0.1}}', "schema_version 7; this rses reads [1]"),
        (
            '{"metrics": {"mse_bg": 0.1}, "tolerance": -0.5}',
            "'tolerance' is -0.5; a tolerance must be a finite",
        ),
        (
            '{"metrics": {"mse_bg": 0.1}, "tolerance": NaN}',
            "'tolerance' is nan; a tolerance must be a finite",
        ),
        ('{"metrics": {"mse_bg": 0.1}, "tolerance": Infinity}', "'tolerance' is inf"),
        ('{"metrics": {"mse_bg": 0.1}, "tolerance": "0.1"}', "'tolerance' is '0.1'"),
        ('{"metrics": {"mse_bg": 0.1}, "tolerances": {"mse_bg": -1}}', "tolerance of 'mse_bg' is -1"),
        ('{"metrics": {"mse_bg": "0.1"}}', "metric value(s) {'mse_bg': '0.1'} are not numbers"),
        ('{"metrics": {"mse_bg": null}}', "metric value(s) {'mse_bg': None} are not numbers"),
        ('{"metrics": {"mse_bg": true}}', "are not numbers"),
        ("[1, 2]", "has no 'metrics' object"),
    ],
)
def test_check_refuses_an_untrustworthy_baseline_in_one_line(run_dir, tmp_path, capsys, text, message):
    code, out, err = cli(capsys, "check", str(run_dir), "--baseline", str(baseline_file(tmp_path, text)))
    assert code == 1, out + err
    assert message in " ".join(err.split()) and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.strip()]) <= 2  # one message (maybe wrapped)


@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_check_refuses_a_bad_tolerance_flag(run_dir, tmp_path, capsys, value):
    path = baseline_file(tmp_path, '{"metrics": {"mse_bg": 0.1}}')
    code, _, err = cli(capsys, "check", str(run_dir), "--baseline", str(path), "--tolerance", value)
    assert code == 1 and "a tolerance must be a finite number >= 0" in " ".join(err.split())
    code, _, err = cli(
        capsys, "check", str(run_dir), "--baseline", str(path), "--update", "--tolerance", value
    )
    assert code == 1 and "a tolerance must be a finite number >= 0" in " ".join(err.split())


def test_nan_in_both_is_no_drift_and_shown_as_nan(run_dir, tmp_path, capsys):
    rows = check_drift(
        {"a": float("nan"), "b": float("nan"), "c": 1.0},
        {"metrics": {"a": float("nan"), "b": 1.0, "c": float("nan")}},
    )
    assert [(r.metric, r.status) for r in rows] == [("a", "ok"), ("b", "drift"), ("c", "drift")]
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["mse_bg"]["mean"] = float("nan")
    (run_dir / "summary.json").write_text(json.dumps(summary))
    path = baseline_file(tmp_path, '{"metrics": {"mse_bg": NaN}, "tolerance": 0.001}')
    code, out, err = cli(capsys, "check", str(run_dir), "--baseline", str(path))
    assert code == 0, out + err
    row = next(line for line in out.splitlines() if "mse_bg" in line)
    assert row.count("NaN") == 2 and "ok" in row
