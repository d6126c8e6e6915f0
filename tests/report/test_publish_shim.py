"""`python -m rses.report.publish` is a deprecated shim for `rses publish-leaderboard` (one release)."""

import subprocess
import sys


def _shim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rses.report.publish", *args], capture_output=True, text=True, timeout=120
    )


def test_the_shim_is_the_typer_command():
    done = _shim("--help")
    assert done.returncode == 0
    assert "rses publish-leaderboard" in done.stdout and "--lpips-weights" in done.stdout


def test_the_shim_reports_usage_errors_as_the_command_does(tmp_path):
    done = _shim("--metrics", "psnr_bgg", "--out", str(tmp_path / "lb"), "--runs-dir", str(tmp_path / "runs"))
    assert done.returncode == 2
    assert "Did you mean psnr_bg" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "lb").exists()
