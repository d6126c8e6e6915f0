"""The command modules import torch, pandas, numpy and matplotlib inside the commands, so help is fast and
the commands that read finished runs (`rses check`, `rses leaderboard` as Markdown or CSV) load none of them:
they start in a fraction of a second (issue #13: under 0.5 s; 0.36-0.45 s measured on a 2-core VM)."""

import dataclasses
import json
import shutil
import subprocess
import sys

import pytest

HEAVY = ("torch", "pandas", "numpy", "matplotlib")
#: What reading a finished run must not load either: image decoders and the Parquet reader.
READERS_AVOID = (*HEAVY, "cv2", "PIL", "pyarrow", "skimage")
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


def test_check_reads_a_run_without_heavy_libraries(synthetic_runs, tmp_path):
    baseline = tmp_path / "baseline.json"
    run = str(synthetic_runs[0])
    assert _heavy_imports(["check", run, "--baseline", str(baseline), "--update"], READERS_AVOID) == []
    assert baseline.is_file()
    assert _heavy_imports(["check", run, "--baseline", str(baseline)], READERS_AVOID) == []


@pytest.mark.parametrize("fmt", ["md", "csv"])
def test_leaderboard_reads_runs_without_heavy_libraries(synthetic_runs, tmp_path, fmt):
    from rses.run_record import read_run_record, write_run_record

    # one run scored with another option, so the ranking compares options against their defaults
    other = shutil.copytree(synthetic_runs[0], tmp_path / "wide-boundary")
    record = read_run_record(other / "run.json")
    write_run_record(other / "run.json", dataclasses.replace(record, metric_options={"boundary": 8}))
    out = tmp_path / f"board.{fmt}"
    argv = ["leaderboard", *map(str, synthetic_runs), str(other), "--format", fmt, "--out", str(out)]
    assert _heavy_imports(argv, READERS_AVOID) == []
    assert "boundary=8" in out.read_text()  # the option was compared, without loading the metric suite
