"""The ``rses`` command line: ``main`` runs the typer app with readable one-line errors.

Usage errors from typer exit 2. User errors (:class:`rses.errors.RsesError`) print one line and exit 1, or 2
for :class:`rses.errors.UsageError`; ``--debug`` (or ``RSES_DEBUG=1``) shows the traceback instead, wherever it
stands on the command line (before or after the subcommand, as ``--help``).
"""

from __future__ import annotations

import sys

from rich.markup import escape

from rses.cli.app import app, err_console, state
from rses.cli.options import check_device
from rses.errors import RsesError, UsageError

# isort: off
# One module per command or command group; importing one registers it. The order is `rses --help`'s.
from rses.cli import eval, compare, leaderboard, check, ls, report, score, weights, data, suite, train  # noqa: F401
# isort: on


def _take_debug(argv: list[str]) -> list[str]:
    """``argv`` without any ``--debug`` before a ``--`` separator; sets ``state["debug"]`` when one was there."""
    end = argv.index("--") if "--" in argv else len(argv)
    kept = [arg for arg in argv[:end] if arg != "--debug"]
    if len(kept) < end:
        state["debug"] = True
    return kept + argv[end:]


def _check_devices(argv: list[str]) -> None:
    """Check every ``--device`` value on the command line before any command runs (one line if absent)."""
    end = argv.index("--") if "--" in argv else len(argv)
    for i, arg in enumerate(argv[:end]):
        if arg == "--device" and i + 1 < end:
            check_device(argv[i + 1])
        elif arg.startswith("--device="):
            check_device(arg.split("=", 1)[1])


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``rses`` console script."""
    argv = _take_debug(list(sys.argv[1:] if argv is None else argv))
    try:
        _check_devices(argv)  # every command that takes --device, before it loads or reads anything
        app(args=argv, prog_name="rses")
    except RsesError as exc:
        if state["debug"]:
            raise
        err_console.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2 if isinstance(exc, UsageError) else 1)
