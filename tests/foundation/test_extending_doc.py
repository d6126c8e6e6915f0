"""docs/extending.md's examples run as written (in a fresh interpreter: they register an editor and a metric)."""

import os
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "extending.md"


def test_the_extending_guide_runs():
    text = DOC.read_text()
    assert "## An editor in three steps" in text and "## A metric in two steps" in text
    assert text.count("**1. ") == 2 and "**3. Run it" in text and "**2. Score with it" in text
    done = subprocess.run(
        [sys.executable, "-m", "doctest", str(DOC)],
        capture_output=True,
        text=True,
        cwd=DOC.parents[1],
        env=os.environ | {"PYTHONPATH": str(DOC.parents[1])},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
