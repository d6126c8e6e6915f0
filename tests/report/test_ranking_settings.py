"""Runs scored with other number-changing metric options (--boundary, --mask-threshold, a --metric-config
field) are not ranked beside the others, like runs on another split; options at their defaults are the same
run whether recorded or not (schema-1 runs recorded none)."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

from rses.leaderboard import leaderboard_table
from rses.results import load_run
from rses.run_record import read_run_record, write_run_record

_kit_spec = importlib.util.spec_from_file_location(
    "report_conftest_settings", Path(__file__).with_name("conftest.py")
)
_kit = importlib.util.module_from_spec(_kit_spec)
_kit_spec.loader.exec_module(_kit)
RUNS, make_run = _kit.RUNS, _kit.make_run
BEST = {"rsm": [0.99] * 12, "lpips_bg": [0.0] * 12, "mse_bg": [0.0] * 12}


def _with_options(run_dir, options):
    path = run_dir / "run.json"
    write_run_record(path, dataclasses.replace(read_run_record(path), metric_options=options))
    return run_dir


def test_runs_with_other_metric_options_are_not_ranked(tmp_path, synthetic_manifest):
    runs = [
        _with_options(make_run(tmp_path / "identity", synthetic_manifest, "identity", RUNS["identity"]),
                      {"mask_threshold": None, "boundary": 0}),
        _with_options(make_run(tmp_path / "paste", synthetic_manifest, "paste-style", RUNS["paste-style"]),
                      {}),  # schema-1 style: nothing recorded, i.e. the defaults
        _with_options(make_run(tmp_path / "wide", synthetic_manifest, "wide-boundary", BEST),
                      {"mask_threshold": None, "boundary": 8}),
    ]  # fmt: skip
    table, _ = leaderboard_table([load_run(p) for p in runs])
    why = dict(zip(table["method"], table["not_ranked_because"], strict=True))
    assert dict(zip(table["method"], table["ranked"], strict=True)) == {
        "identity": True,
        "paste-style": True,
        "wide-boundary": False,
    }
    assert why["wide-boundary"].startswith("other metric options (boundary=8; ranked: defaults)")
