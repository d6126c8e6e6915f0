"""The ``rses`` command line: ``main`` runs the typer app with readable one-line errors.

User errors (:class:`rses.errors.RsesError`) print one line and exit 1, or 2 for usage errors; ``--debug``
(or ``RSES_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import sys

import click
from rich.markup import escape

from rses.cli import data, eval, report, score, train  # noqa: F401  (register subcommands)
from rses.cli.app import app, err_console, state
from rses.errors import RsesError, UsageError


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``rses`` console script."""
    try:
        result = app(args=argv, prog_name="rses", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        err_console.print("[red]Aborted.[/red]")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except RsesError as exc:
        if state["debug"]:
            raise
        err_console.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2 if isinstance(exc, UsageError) else 1)
    sys.exit(result if isinstance(result, int) else 0)
