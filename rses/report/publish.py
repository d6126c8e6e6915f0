"""Regenerate the committed leaderboard: every weight-free editor on a built-in split, weight-free metrics
plus, given a real LPIPS trunk (``--lpips-weights``), the LPIPS metrics.

Writes into ``leaderboard/`` (by default):

* ``builtin-<split>.md`` and ``builtin-<split>.csv``: the leaderboard (:func:`rses.leaderboard.render`), whose
  columns say which editors saw the mask and which metric backend scored them;
* the per-style and per-object-size breakdowns, between the ``<!-- breakdowns -->`` markers of
  ``README.md`` there (when it has them);
* ``baseline-builtin-<split>.json``: the drift baseline (:mod:`rses.drift` format) of ``baseline_method``'s
  run, which CI checks with ``rses check RUN --baseline leaderboard/baseline-builtin-test.json``.

The runs themselves go to ``runs/leaderboard/<method>-<split>`` (resumable, edits cached).

Usage (``python -m rses.report.publish`` still works, as a deprecated shim for one release)::

    rses publish-leaderboard
    rses publish-leaderboard --lpips-weights ../shared/weights/alexnet-owt-7be5be79.safetensors
"""

from __future__ import annotations

import logging
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
    """Names of the registered editors that need no weights (``Editor.weights() == []``), registry order.

    Editors that cannot run with their default config (``folder`` needs ``--edits``) are left out.
    """
    from rses.editing import EDITORS
    from rses.errors import UsageError

    names = []
    for name in EDITORS.names():
        try:
            editor = EDITORS.get(name)()
        except UsageError:
            continue
        if not editor.weights():
            names.append(name)
    return names


def publish(
    split: str = "test",
    out: str | Path = DEFAULT_OUT,
    runs_dir: str | Path = DEFAULT_RUNS,
    metrics: str = "pixel",
    baseline_method: str = BASELINE_METHOD,
    command: str = "python -m rses.report.publish",
    progress: bool = True,
    lpips_weights: str | Path | None = None,
) -> dict[str, Path]:
    """Run every weight-free editor on ``split`` and write the leaderboard and the drift baseline.

    ``lpips_weights`` (a torchvision AlexNet state dict file) adds the ``lpips`` group (``lpips_bg``,
    ``lpips_in``, ``rses_ref_lpips``) to ``metrics``; the header names the file's sha256.
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
    trunk = ""
    if lpips_weights is not None:
        from rses.weights import sha256_file

        if not Path(lpips_weights).is_file():
            raise UsageError(
                f"--lpips-weights {lpips_weights} is not a file; give a torchvision AlexNet state dict "
                "(.safetensors), e.g. the trunk named in leaderboard/README.md."
            )
        metrics = f"{metrics},lpips"
        trunk = f"LPIPS AlexNet trunk sha256 `{sha256_file(Path(lpips_weights))}`. "
    runs = {}
    for method in editors:
        run_dir = runs_dir / f"{method}-{split_name}"
        log.info("running %s on %s", method, split)
        run_eval(
            RunConfig(
                method=method,
                split=split,
                out=run_dir,
                metrics=metrics,
                command=command,
                lpips_weights=None if lpips_weights is None else str(lpips_weights),
            ),
            progress=progress,
        )
        runs[method] = load_run(run_dir)
    name = f"builtin-{split_name}"
    out.mkdir(parents=True, exist_ok=True)
    first = next(iter(runs.values())).info
    header = (
        f"# Leaderboard: built-in `{split}` split, weight-free editors and metrics\n\n"
        f"Regenerate with `{command}` (rses {rses.__version__}, {datetime.now(timezone.utc):%Y-%m-%d}). "
        f"Split manifest sha256 `{first.get('split_manifest_sha256', '')}`; metrics `{metrics}`. {trunk}"
        "*sees mask = yes*: the editor was given the ground-truth mask. "
        "Cells: mean ± half the 95% bootstrap CI.\n\n"
    )
    paths = {"md": out / f"{name}.md", "csv": out / f"{name}.csv", "baseline": out / f"baseline-{name}.json"}
    write_atomic(paths["md"], header + render(list(runs.values()), "md"))
    write_atomic(paths["csv"], render(list(runs.values()), "csv"))
    write_baseline(paths["baseline"], make_baseline(runs[baseline_method], None, command))
    readme = out / "README.md"
    if readme.exists() and BEGIN in (text := readme.read_text(encoding="utf-8")):
        tables = breakdown_markdown([runs_dir / f"{method}-{split_name}" for method in editors])
        head, rest = text.split(BEGIN, 1)
        write_atomic(readme, f"{head}{BEGIN}\n{tables}{END}{rest.split(END, 1)[1]}")
        paths["readme"] = readme
    return paths


BEGIN, END = "<!-- breakdowns -->", "<!-- /breakdowns -->"
#: The breakdown columns, those a run has: the combined scores and their preservation terms.
BREAKDOWN_METRICS = ("rses_ref_lpips", "rses_ref", "lpips_bg", "psnr_bg", "ref_gain")


def breakdown_markdown(run_dirs: Sequence[Path]) -> str:
    """Per-style and per-object-size tables (mean ± half the 95% bootstrap CI) of the runs, as Markdown."""
    from rses.report.breakdown import by_size, by_style
    from rses.report.runs import load_runs

    samples, _ = load_runs(run_dirs)
    metrics = [m for m in BREAKDOWN_METRICS if m in samples.columns]
    out = []
    for title, table in (("style", by_style(samples, metrics)), ("size", by_size(samples, metrics))):
        heading = "Per style" if title == "style" else "Per object size (mask area: small < 5%, large >= 20%)"
        out += [
            f"### {heading}",
            "",
            f"| method | {title} | n | " + " | ".join(metrics) + " |",
            "|---|---|---:|" + "---:|" * len(metrics),
        ]
        for row in table.itertuples(index=False):
            r = row._asdict()
            cells = [f"{r[m]:.3f} ± {(r[m + '_ci_high'] - r[m + '_ci_low']) / 2:.3f}" for m in metrics]
            out.append(f"| {r['method']} | {r[title]} | {r['n']} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m rses.report.publish [OPTIONS]``: the same as ``rses publish-leaderboard [OPTIONS]``.

    Deprecated: a shim kept for one release; use ``rses publish-leaderboard`` (same options).
    """
    from rses.cli import main as rses_main

    args = ["publish-leaderboard", *(sys.argv[1:] if argv is None else argv)]
    sys.argv = ["rses", *args]  # the command the leaderboard header and baseline record
    rses_main(args)


if __name__ == "__main__":
    main()
