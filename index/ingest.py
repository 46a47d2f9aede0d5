"""Ingestion: paths -> documents -> chunks -> embeddings -> the store, in batches.

Each file is compared with what the store holds for it (chunk ids derive from
content), so an unchanged file is skipped and a changed one has its stale
chunks removed after its new ones are written. Bad files are reported, and the
run goes on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from langchain_core.documents import Document

from corpus import LoadError, LoadReport, chunk_documents, load_file
from corpus.loaders import iter_files
from index.progress import stderr_progress
from index.store import ChunkStore


@dataclass
class IngestReport:
    """What an ingest did: files indexed/unchanged, chunks written, errors, time."""

    indexed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    chunks_added: int = 0
    chunks_removed: int = 0
    errors: list[LoadError] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not self.errors


def ingest(
    paths: Iterable[str | os.PathLike],
    store: ChunkStore,
    *,
    chunk_size: int = 600,
    chunk_overlap: int = 100,
    batch_size: int = 64,
    progress: bool = True,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> IngestReport:
    """Index files and folders into `store`; returns a report, never stops on a bad file.

    `on_progress(files_done, files_total, current_file)` is called as files are read
    (the web chat's progress bar); `progress` draws the terminal bar.
    """
    report = IngestReport()
    t0 = time.perf_counter()
    load_report = LoadReport()
    files = list(iter_files(paths, load_report))
    report.errors.extend(load_report.errors)

    pending: list[Document] = []
    # files whose new chunks are queued: source -> stale ids to delete once written
    stale_after_flush: dict[str, set[str]] = {}

    with _Progress(len(files), enabled=progress) as bar:

        def flush() -> None:
            if pending:
                store.add(pending)
                bar.chunks(len(pending))
                report.chunks_added += len(pending)
                pending.clear()
            for stale in stale_after_flush.values():
                store.delete_ids(sorted(stale))
                report.chunks_removed += len(stale)
            stale_after_flush.clear()

        for done, path in enumerate(files):
            source = str(path)
            bar.file(path.name)
            if on_progress:
                on_progress(done, len(files), path.name)
            try:
                docs = load_file(path)
            except LoadError as err:
                report.errors.append(err)
                bar.error(str(err))
                continue
            chunks = list(chunk_documents(docs, chunk_size, chunk_overlap))
            new_ids = {c.metadata["id"] for c in chunks}
            old_ids = store.ids_for_source(source)
            if old_ids == new_ids:
                report.unchanged.append(source)
                continue
            report.indexed.append(source)
            stale_after_flush[source] = old_ids - new_ids
            todo = [c for c in chunks if c.metadata["id"] not in old_ids]
            for chunk in todo:
                pending.append(chunk)
                if len(pending) >= batch_size:
                    flush()
        flush()
    report.seconds = time.perf_counter() - t0
    return report


def index_documents(
    documents: Iterable[Document],
    store: ChunkStore,
    *,
    chunk_size: int = 600,
    chunk_overlap: int = 100,
    batch_size: int = 64,
) -> int:
    """Chunk, embed and upsert in-memory Documents (each needs `source` metadata)."""
    added = 0
    batch: list[Document] = []
    for chunk in chunk_documents(documents, chunk_size, chunk_overlap):
        batch.append(chunk)
        if len(batch) >= batch_size:
            store.add(batch)
            added += len(batch)
            batch = []
    store.add(batch)
    return added + len(batch)


class _Progress:
    """A rich progress bar: files, chunks, chunks/s, ETA; silent when disabled."""

    def __init__(self, total_files: int, enabled: bool):
        self.enabled = enabled and total_files > 0
        self.total_files = total_files
        self.n_chunks = 0
        self.t0 = time.perf_counter()

    def __enter__(self):
        if self.enabled:
            self._progress = stderr_progress(
                "files · {task.fields[chunks]} chunks · {task.fields[rate]} chunks/s",
                after=("{task.fields[name]}",))
            self._progress.__enter__()
            self._task = self._progress.add_task(
                "ingest", total=self.total_files, chunks=0, rate="0.0", name="")
        return self

    def file(self, name: str) -> None:
        if self.enabled:
            self._progress.update(self._task, advance=1, name=name[-40:])

    def chunks(self, n: int) -> None:
        self.n_chunks += n
        if self.enabled:
            rate = self.n_chunks / max(time.perf_counter() - self.t0, 1e-9)
            self._progress.update(self._task, chunks=self.n_chunks, rate=f"{rate:.1f}")

    def error(self, message: str) -> None:
        if self.enabled:
            self._progress.console.print(f"[yellow]skipped[/] {message}")

    def __exit__(self, *exc):
        if self.enabled:
            self._progress.__exit__(*exc)
