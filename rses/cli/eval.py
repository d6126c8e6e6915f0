"""`rses` subcommands: eval (filled in by its issue)."""

from rses.cli.app import app  # noqa: F401
