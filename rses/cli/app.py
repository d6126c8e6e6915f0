"""The root ``rses`` typer app and its global options; subcommands live in sibling modules."""

from __future__ import annotations

import os
import sys

import typer
from rich.console import Console

import rses

app = typer.Typer(
    name="rses",
    help="Regional Style Editing Score: score, run and compare regional style editors.\n\n"
    "Example: rses eval --method paste-style --split test --metrics pixel",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
#: Columns for output to a file or a CI log: rich's 80 wrap every table there. A terminal, or COLUMNS, decides
#: otherwise.
LOG_WIDTH = 160


def _console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    to_log = not stream.isatty() and not os.environ.get("COLUMNS")
    return Console(stderr=stderr, width=LOG_WIDTH if to_log else None)


console = _console()
err_console = _console(stderr=True)
state = {"debug": os.environ.get("RSES_DEBUG", "") == "1"}


def _version(value: bool) -> None:
    if value:
        console.print(f"rses {rses.__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """rses: benchmark and evaluation toolkit for regional image style editing."""
    state["debug"] = state["debug"] or debug
