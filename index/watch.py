"""Keep an index in step with folders: file events, debounced, become incremental ingests.

`watchfiles` (Rust `notify`) reports changes; changes until a quiet spell of the
debounce time are one batch, so several quick saves of a file cost one re-index. The
caller turns each batch into `ingest(folders, sync=True)`, which re-reads only what
changed (sizes, times and content hashes) and drops what vanished: a rename is a new
file plus a vanished one, and a changed file's passages are replaced, never doubled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from corpus import given_paths
from corpus.errors import SourcechatError

log = logging.getLogger(__name__)


def watch_folders(paths: Sequence[str | Path]) -> list[Path]:
    """The folders to watch, resolved; each must be an existing folder."""
    paths = given_paths(paths)
    for p in paths:
        if not Path(p).expanduser().is_dir():
            raise SourcechatError(f"--watch: {p} is not a folder; give folders to watch.")
    return [Path(p).expanduser().resolve() for p in paths]


def changes(folders: Sequence[Path], debounce_ms: int, suffixes: Sequence[str],
            ignore: Sequence[Path] = (), stop: threading.Event | None = None
            ) -> Iterator[set[str]]:
    """Batches of changed paths under `folders` (files with `suffixes`, or anything
    deleted), until `stop` is set. Hidden entries and paths under `ignore` (the data
    dir, when it lies inside a watched folder) are left out."""
    from watchfiles import Change, watch

    ignored = [p.resolve() for p in ignore]
    roots = [Path(f).resolve() for f in folders]

    def wanted(change: Change, path: str) -> bool:
        p = Path(path)
        root = next((r for r in roots if p.is_relative_to(r)), None)
        below = p.relative_to(root).parts if root else p.parts[1:]
        if any(part.startswith(".") for part in below):  # hidden below a watched folder
            return False
        if any(p.is_relative_to(i) for i in ignored):
            return False
        return change == Change.deleted or p.suffix.lower() in suffixes or p.is_dir()

    # a batch ends after `debounce_ms` without a change (watchfiles' `step`), or at the
    # latest after ten times that while changes keep coming
    for batch in watch(*folders, watch_filter=wanted, step=debounce_ms,
                       debounce=10 * debounce_ms, stop_event=stop, raise_interrupt=False,
                       recursive=True):
        paths = {path for _, path in batch}
        if paths:
            yield paths


def keep_in_step(folders: Sequence[Path], sync: Callable[[set[str]], None],
                 debounce_ms: int, suffixes: Sequence[str], ignore: Sequence[Path] = (),
                 stop: threading.Event | None = None) -> None:
    """Call `sync(changed paths)` once per batch of changes, until `stop` is set. A batch
    that fails is logged and the watching goes on (the next change retries)."""
    for batch in changes(folders, debounce_ms, suffixes, ignore, stop):
        try:
            sync(batch)
        except Exception:  # a Chroma hiccup, a full disk...: keep watching
            log.exception("indexing a batch of changes failed; watching goes on")
