"""The command modules import torch, pandas, numpy and matplotlib inside the commands, so help is fast and
reading commands such as `rses check` never load torch."""

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "pandas", "numpy", "matplotlib")
PROBE = """
import json, sys
from rses.cli import main
try:
    main(json.loads(sys.argv[1]))
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def _heavy_imports(argv: list[str], heavy=HEAVY) -> list[str]:
    """The heavy modules a fresh interpreter has loaded after running `rses ARGV`."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=heavy), json.dumps(argv)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["eval", "--help"],
        ["compare", "--help"],
        ["leaderboard", "--help"],
        ["check", "--help"],
        ["ls", "--help"],
        ["publish-leaderboard", "--help"],
        ["data", "--help"],
        ["suite", "run", "--help"],
        ["train", "regionroute", "--help"],
        ["score", "--help"],
    ],
    ids=" ".join,
)
def test_help_imports_no_heavy_library(argv):
    assert _heavy_imports(argv) == []


def test_check_reads_a_run_without_torch(synthetic_runs, tmp_path):
    baseline = tmp_path / "baseline.json"
    run = str(synthetic_runs[0])
    assert _heavy_imports(["check", run, "--baseline", str(baseline), "--update"], ("torch",)) == []
    assert baseline.is_file()
    assert _heavy_imports(["check", run, "--baseline", str(baseline)], ("torch",)) == []
