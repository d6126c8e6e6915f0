"""Where a run ran: package versions, Python, OS and the rses git commit, and the time (UTC), for run.json.

Example:
    >>> sorted(environment_info())
    ['git_hash', 'packages', 'platform', 'python']
"""

from __future__ import annotations

import functools
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import rses

PACKAGES = (
    "torch",
    "torchvision",
    "numpy",
    "pillow",
    "scikit-image",
    "opencv-python-headless",
    "open_clip_torch",
    "lpips",
    "diffusers",
    "transformers",
    "peft",
    "pandas",
    "pyarrow",
)


def environment_info() -> dict[str, Any]:
    """Package versions, Python, OS and the rses git commit (when run from a checkout); no host name.

    Versions and the commit are looked up once per process (they cost ~7 ms, paid again by every run of a
    sweep otherwise).
    """
    return {
        "packages": dict(_package_versions()),
        "git_hash": _git_hash(),
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
    }


@functools.cache
def _package_versions() -> tuple[tuple[str, str], ...]:
    from importlib.metadata import PackageNotFoundError, version

    packages = [("rses", rses.__version__)]
    for name in PACKAGES:
        try:
            packages.append((name, version(name)))
        except PackageNotFoundError:
            continue
    return tuple(packages)


@functools.cache
def _git_hash() -> str | None:
    try:
        git = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(rses.__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return git.stdout.strip() if git.returncode == 0 else None


def now_utc() -> str:
    """The time now in UTC, ISO 8601 to the second (``2026-01-02T03:04:05+00:00``)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
