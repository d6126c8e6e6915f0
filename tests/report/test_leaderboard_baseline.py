"""CI's drift check: a fresh paste-style run on the built-in split matches the committed baseline."""

from pathlib import Path

import pytest

from rses.cli import main

BASELINE = Path(__file__).resolve().parents[2] / "leaderboard" / "baseline-builtin-test.json"


def test_fresh_run_matches_the_committed_baseline(tmp_path, capsys):
    run = tmp_path / "paste-style"
    with pytest.raises(SystemExit) as info:
        main(["eval", "--method", "paste-style", "--split", "test", "--metrics", "pixel", "--out", str(run),
              "--device", "cpu", "--no-progress"])
    assert info.value.code == 0
    with pytest.raises(SystemExit) as info:
        main(["check", str(run), "--baseline", str(BASELINE)])
    out = capsys.readouterr().out
    assert info.value.code == 0, out
    assert "No drift" in out
