"""`rses suite run` with the shared metric options: a flag the user gave wins over the suite's value, even
when it is the flag's default (`--boundary 0` on a suite that sets 3); a flag not given leaves the suite's."""

from __future__ import annotations

import json

import pytest

from rses.cli import main

SUITE = 'metric_options = { boundary = 3 }\nsplit = "test"\nmetrics = ["mse_bg"]\n[[methods]]\nmethod = "identity"\n'


@pytest.mark.parametrize(("flags", "boundary"), [([], 3), (["--boundary", "0"], 0), (["--boundary", "2"], 2)])
def test_a_given_flag_overrides_the_suite_and_an_absent_one_does_not(
    tmp_path, monkeypatch, capsys, flags, boundary
):
    monkeypatch.setenv("RSES_CACHE_DIR", str(tmp_path / "cache"))
    suite = tmp_path / "b3.toml"
    suite.write_text(SUITE)
    out = tmp_path / "runs"
    with pytest.raises(SystemExit) as exit_info:
        main(["suite", "run", str(suite), "--out", str(out), "--limit", "1", "--device", "cpu", "--no-progress",
              "--no-report", *flags])  # fmt: skip
    assert exit_info.value.code in (0, None), capsys.readouterr().err
    (record,) = out.glob("**/run.json")
    assert json.loads(record.read_text())["metric_options"]["boundary"] == boundary
