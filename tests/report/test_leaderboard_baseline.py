"""CI's drift check: a fresh paste-style run on the built-in split matches the committed baseline.

The baseline also records the real-LPIPS metrics; they are checked when ``RSES_TEST_LPIPS_WEIGHTS`` names the
AlexNet trunk (``.ci/run`` sets it), and left out of the comparison otherwise.
"""

import json
import os
from pathlib import Path

import pytest

from rses.cli import main
from rses.metrics.catalog import METRICS

BASELINE = Path(__file__).resolve().parents[2] / "leaderboard" / "baseline-builtin-test.json"


def test_the_baseline_covers_the_real_lpips_metrics():
    metrics = json.loads(BASELINE.read_text())["metrics"]
    assert {"lpips_bg", "lpips_in", "rses_ref_lpips", "psnr_bg", "rses_ref"} <= set(metrics)


def test_fresh_run_matches_the_committed_baseline(tmp_path, capsys):
    weights = os.environ.get("RSES_TEST_LPIPS_WEIGHTS")
    baseline = json.loads(BASELINE.read_text())
    if weights:
        flags = ["--metrics", "pixel,lpips", "--lpips-weights", weights]
    else:
        flags = ["--metrics", "pixel"]
        baseline["metrics"] = {k: v for k, v in baseline["metrics"].items() if METRICS[k].group == "pixel"}
    (tmp_path / "baseline.json").write_text(json.dumps(baseline))
    run = tmp_path / "paste-style"
    with pytest.raises(SystemExit) as info:
        main(
            [
                "eval",
                "--method",
                "paste-style",
                "--split",
                "test",
                *flags,
                "--out",
                str(run),
                "--device",
                "cpu",
                "--no-progress",
            ]
        )
    assert info.value.code == 0
    with pytest.raises(SystemExit) as info:
        main(["check", str(run), "--baseline", str(tmp_path / "baseline.json")])
    out = capsys.readouterr().out
    assert info.value.code == 0, out
    assert "No drift" in out
    if not weights:
        pytest.skip(
            "pixel metrics match; the LPIPS part is not checked: set RSES_TEST_LPIPS_WEIGHTS to AlexNet"
        )
