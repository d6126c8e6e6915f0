"""`rses ls`: list the registered editors, metrics or splits.

Example::

    rses ls editors
"""

from __future__ import annotations

from enum import Enum

import typer
from rich.markup import escape
from rich.table import Table

from rses.cli.app import app, console
from rses.cli.helpers import fmt


class Listing(str, Enum):
    """What ``rses ls`` can list."""

    editors = "editors"
    metrics = "metrics"
    splits = "splits"


@app.command("ls")
def ls_command(what: Listing = typer.Argument(..., help="editors, metrics or splits.")) -> None:
    """List the registered editors, metrics or splits.

    Example: rses ls metrics
    """
    if what is Listing.editors:
        from rses.editing import EDITORS

        table = Table("editor", "implemented by")
        for name in EDITORS.names():
            target = EDITORS._entries[name]
            table.add_row(
                name, target if isinstance(target, str) else f"{target.__module__}:{target.__qualname__}"
            )
    elif what is Listing.metrics:
        from rses.metrics import METRICS

        table = Table("metric", "group", "better", "range", "description")
        for name, info in METRICS.items():
            table.add_row(
                name,
                info.group,
                "higher" if info.higher_is_better else "lower",
                f"[{fmt(info.lower)}, {fmt(info.upper)}]",
                info.description,
            )
    else:
        from rses.data.manifest import available_splits, resolve_split

        table = Table("split", "manifest")
        for name in available_splits():
            table.add_row(name, escape(str(resolve_split(name)[1])))
    console.print(table)
