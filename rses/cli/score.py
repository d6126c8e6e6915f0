"""`rses` subcommands: score (filled in by its issue)."""

from rses.cli.app import app  # noqa: F401
