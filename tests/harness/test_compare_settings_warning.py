"""`rses compare` pairs samples across runs; it says so when a run's numbers are not comparable with the
reference's: scored with other metric options (like another split manifest, which it already named)."""

from __future__ import annotations

from harness_kit import cli, make_split

from rses.runner import RunConfig, run_eval


def test_compare_names_a_run_scored_with_other_metric_options(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RSES_CACHE_DIR", str(tmp_path / "cache"))
    split = make_split(tmp_path / "split", ["a", "b"])
    for name, options in (("plain", {}), ("wide", {"boundary": 4})):
        run_eval(RunConfig(method="fake-shift", split=str(split), out=tmp_path / name, metrics=["mse_bg"],
                           metric_options=options), progress=False)  # fmt: skip
    code, _, err = cli(capsys, "compare", str(tmp_path / "plain"), str(tmp_path / "wide"))
    assert code in (0, None)
    flat = " ".join(err.split())
    assert "wide" in flat and "other metric options (boundary=4" in flat
    code, _, err = cli(capsys, "compare", str(tmp_path / "plain"), str(tmp_path / "plain"))
    assert "metric options" not in err
