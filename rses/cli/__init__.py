"""The ``rses`` command line: ``main`` runs the typer app with readable one-line errors.

Usage errors from typer exit 2. User errors (:class:`rses.errors.RsesError`) print one line and exit 1, or 2
for :class:`rses.errors.UsageError`; ``--debug`` (or ``RSES_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import sys

from rich.markup import escape

from rses.cli import data, eval, report, score, train  # noqa: F401  (register subcommands)
from rses.cli.app import app, err_console, state
from rses.errors import RsesError, UsageError


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``rses`` console script."""
    try:
        app(args=argv, prog_name="rses")
    except RsesError as exc:
        if state["debug"]:
            raise
        err_console.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2 if isinstance(exc, UsageError) else 1)
