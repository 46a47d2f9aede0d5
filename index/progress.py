"""The terminal progress bar shared by ingest and eval (rich, on stderr)."""

from __future__ import annotations


def stderr_progress(*stats, after=()):
    """A rich Progress: description, bar, done/total, `stats` columns, ETA, `after` columns."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    *(TextColumn(s) for s in stats), TimeRemainingColumn(),
                    *(TextColumn(s) for s in after), console=Console(stderr=True))
