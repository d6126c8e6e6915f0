"""Baseline values of the kinds JSON allows but a float cannot hold, or a bool standing for a version: one line."""

from __future__ import annotations

import pytest
from harness_kit import cli, make_split

from rses.runner import RunConfig, run_eval

BIG = "1" + "0" * 400  # a JSON integer past float's range (1e400 would parse as inf; an integer stays exact)


@pytest.fixture
def run_dir(tmp_path):
    split = make_split(tmp_path / "split", ["a", "b"])
    out = tmp_path / "run"
    run_eval(RunConfig(method="fake-shift", split=str(split), out=out, metrics=["mse_bg"]), progress=False)
    return out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"schema_version": true, "metrics": {"mse_bg": 0.1}}', "schema_version True; this rses reads [1]"),
        ('{"schema_version": 1.0, "metrics": {"mse_bg": 0.1}}', "schema_version 1.0; this rses reads [1]"),
        ('{"metrics": {"mse_bg": ' + BIG + "}}", "are not numbers"),
        ('{"metrics": {"mse_bg": 0.1}, "tolerance": ' + BIG + "}", "a tolerance must be a finite number"),
        ('{"metrics": {"mse_bg": 0.1}, "tolerances": {"mse_bg": ' + BIG + "}}", "tolerance of 'mse_bg'"),
    ],
    ids=["version-true", "version-float", "huge-metric", "huge-tolerance", "huge-per-metric-tolerance"],
)
def test_check_refuses_values_a_float_cannot_hold_in_one_line(run_dir, tmp_path, capsys, text, message):
    path = tmp_path / "baseline.json"
    path.write_text(text)
    code, out, err = cli(capsys, "check", str(run_dir), "--baseline", str(path))
    assert code == 1, out + err
    assert message in " ".join(err.split()) and "Traceback" not in err
