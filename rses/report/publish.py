"""Regenerate the committed leaderboard: every weight-free editor on a built-in split, weight-free metrics.

Writes into ``leaderboard/`` (by default):

* ``builtin-<split>.md`` and ``builtin-<split>.csv``: the leaderboard (:func:`rses.leaderboard.render`), whose
  columns say which editors saw the mask and which metric backend scored them;
* ``baseline-builtin-<split>.json``: the drift baseline (:mod:`rses.drift` format) of ``baseline_method``'s
  run, which CI checks with ``rses check RUN --baseline leaderboard/baseline-builtin-test.json``.

The runs themselves go to ``runs/leaderboard/<method>-<split>`` (resumable, edits cached).

Usage::

    python -m rses.report.publish            # or: rses publish-leaderboard
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import rses

log = logging.getLogger(__name__)

DEFAULT_OUT = Path("leaderboard")
DEFAULT_RUNS = Path("runs") / "leaderboard"
#: The run CI drift-checks: it edits inside the mask and keeps the background, so both regions' metrics move.
BASELINE_METHOD = "paste-style"


def weight_free_editors() -> list[str]:
    """Names of the registered editors that need no weights (``Editor.weights() == []``), registry order."""
    from rses.editing import EDITORS

    return [name for name in EDITORS.names() if not EDITORS.get(name)().weights()]


def publish(
    split: str = "test",
    out: str | Path = DEFAULT_OUT,
    runs_dir: str | Path = DEFAULT_RUNS,
    metrics: str = "pixel",
    baseline_method: str = BASELINE_METHOD,
    command: str = "python -m rses.report.publish",
    progress: bool = True,
) -> dict[str, Path]:
    """Run every weight-free editor on ``split`` and write the leaderboard and the drift baseline.

    Returns ``{"md": ..., "csv": ..., "baseline": ...}``.
    """
    from rses.data.manifest import resolve_split
    from rses.drift import make_baseline, write_baseline
    from rses.errors import UsageError
    from rses.io import write_atomic
    from rses.leaderboard import render
    from rses.results import load_run
    from rses.runner import RunConfig, run_eval, safe_split_name

    out, runs_dir = Path(out), Path(runs_dir)
    editors = weight_free_editors()
    if baseline_method not in editors:
        raise UsageError(
            f"--baseline-method {baseline_method!r} is not a weight-free editor; pick one of {editors}."
        )
    split_name = safe_split_name(resolve_split(split)[0])
    runs = {}
    for method in editors:
        run_dir = runs_dir / f"{method}-{split_name}"
        log.info("running %s on %s", method, split)
        run_eval(
            RunConfig(method=method, split=split, out=run_dir, metrics=metrics, command=command),
            progress=progress,
        )
        runs[method] = load_run(run_dir)
    name = f"builtin-{split_name}"
    out.mkdir(parents=True, exist_ok=True)
    first = next(iter(runs.values())).info
    header = (
        f"# Leaderboard: built-in `{split}` split, weight-free editors and metrics\n\n"
        f"Regenerate with `{command}` (rses {rses.__version__}, {datetime.now(timezone.utc):%Y-%m-%d}). "
        f"Split manifest sha256 `{first.get('split_manifest_sha256', '')}`; metrics `{metrics}`. "
        "*sees mask = yes*: the editor was given the ground-truth mask. "
        "Cells: mean ± half the 95% bootstrap CI.\n\n"
    )
    paths = {"md": out / f"{name}.md", "csv": out / f"{name}.csv", "baseline": out / f"baseline-{name}.json"}
    write_atomic(paths["md"], header + render(list(runs.values()), "md"))
    write_atomic(paths["csv"], render(list(runs.values()), "csv"))
    write_baseline(paths["baseline"], make_baseline(runs[baseline_method], None, command))
    return paths


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m rses.report.publish [--split test] [--out leaderboard] [--runs-dir runs/leaderboard]``."""
    parser = argparse.ArgumentParser(
        prog="python -m rses.report.publish", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--split", default="test")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--runs-dir", type=Path, default=DEFAULT_RUNS)
    parser.add_argument(
        "--metrics", default="pixel", help="weight-free metric names or groups (default: pixel)"
    )
    parser.add_argument("--baseline-method", default=BASELINE_METHOD)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    command = shlex.join(["python", "-m", "rses.report.publish", *(sys.argv[1:] if argv is None else argv)])
    for kind, path in publish(
        args.split, args.out, args.runs_dir, args.metrics, args.baseline_method, command
    ).items():
        log.info("wrote %s: %s", kind, path)


if __name__ == "__main__":
    main()
