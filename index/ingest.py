"""Ingestion: files -> chunks -> LangChain's indexing API -> the store, crash-safe.

The bookkeeping is LangChain's `index()` with the store's `IndexRecords`: chunk
ids are content hashes, so an unchanged chunk is never embedded again, and a
changed file's stale chunks are cleaned up (`scoped_full`) right after its new
ones are written. A file whose size and mtime match its record is not even
read. Every write happens in a writer session (`index/maintenance.py`), so a
run that died midway is repaired by the next. Bad files are reported one line
each; what was indexed before is kept. Files holding instructions addressed to an AI
assistant or the reader (a possible prompt injection) are named in the report; their
chunks carry `suspect` metadata. Chunk size, overlap, batch size and the
file size limit come from the caller (the settings are their one home).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from langchain_core.documents import Document
from langchain_core.indexing import index

from corpus import LoadError, LoadReport, PageNotes, PageReader, chunk_documents, load_file
from corpus.loaders import iter_files
from index.maintenance import delete_sources, known_sources, writer_session
from index.progress import stderr_progress
from index.records import FileRecord
from index.store import ChunkStore

CHUNKER_VERSION = "1"  # bump when chunking changes, so every file is re-chunked


@dataclass
class IngestReport:
    """What an ingest did: files indexed/unchanged/duplicate/removed, chunks, errors, time."""

    indexed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    chunks_added: int = 0
    chunks_kept: int = 0
    chunks_removed: int = 0
    repaired: int = 0
    errors: list[LoadError] = field(default_factory=list)
    pages: dict[str, PageNotes] = field(default_factory=dict)  # OCR'd / empty pages, per file
    # passages holding instructions addressed to an AI assistant or the reader, per file
    suspect: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not self.errors


def ingest(
    paths: Iterable[str | os.PathLike],
    store: ChunkStore,
    *,
    chunk_size: int,
    chunk_overlap: int,
    batch_size: int,
    max_file_mb: float,
    sync: bool = False,
    progress: bool = True,
    on_progress: Callable[[int, int, str], None] | None = None,
    on_chunks: Callable[[int, int, str], None] | None = None,
    ocr: PageReader | None = None,
) -> IngestReport:
    """Index files and folders into `store`; never stops on a bad file.

    `sync` also removes the chunks of files that disappeared from the folders given.
    `on_progress(files_done, files_total, current_file)` is called as files are read
    (the web chat's progress bar), and `on_chunks(done, total, files)` as each group's
    chunks are embedded (one big file moves the bar too); `progress` draws the terminal
    bar. `ocr` reads scanned
    pages and images (None: off); the pages it read or found empty are in `report.pages`.
    """
    paths = [Path(p).expanduser() for p in paths]
    report = IngestReport()
    t0 = time.perf_counter()
    records = store.records
    with writer_session(store, loud=progress) as repaired:
        report.repaired = repaired
        load_report = LoadReport()
        files = list(iter_files(paths, load_report))
        report.errors.extend(load_report.errors)
        chunker = f"{chunk_size}/{chunk_overlap}/{CHUNKER_VERSION}"
        with _Progress(len(files), enabled=progress) as bar:
            if ocr is not None:  # a long scan shows its progress page by page
                done, tell = [0], on_progress

                def page_progress(text: str) -> None:
                    bar.note(text)
                    if tell:
                        tell(done[0], len(files), text)

                def file_progress(n: int, total: int, name: str) -> None:
                    done[0] = n
                    if tell:
                        tell(n, total, name)

                ocr.on_page = page_progress
                on_progress = file_progress
            changed = _changed_files(files, store, report, bar, on_progress, chunker,
                                     chunk_size=chunk_size, chunk_overlap=chunk_overlap,
                                     max_bytes=int(max_file_mb * 2**20), ocr=ocr)
            for group_files, group_chunks in _groups(changed, batch_size):
                records.mark_pending([f.source for f in group_files])
                result = index(group_chunks, records, store, batch_size=batch_size,
                               cleanup="scoped_full", source_id_key="source",
                               key_encoder=_chunk_key,
                               upsert_kwargs={"on_added": _counting(bar, on_chunks, group_files,
                                                                    len(group_chunks))})
                records.set_files(group_files)
                report.indexed.extend(f.source for f in group_files)
                report.chunks_added += result["num_added"]
                report.chunks_kept += result["num_skipped"]
                report.chunks_removed += result["num_deleted"]
            if on_progress:
                on_progress(len(files), len(files), "")
        if sync:
            found = {str(f) for f in files}
            unreadable = [Path(e.path) for e in load_report.errors
                          if e.reason.startswith("cannot read folder")]
            gone = [s for s in known_sources(store)
                    if s not in found and any(_under(s, root) for root in paths if root.is_dir())
                    and not any(_under(s, folder) for folder in unreadable)]
            report.chunks_removed += delete_sources(store, gone)
            report.removed.extend(gone)
    report.seconds = time.perf_counter() - t0
    return report


def index_documents(
    documents: Iterable[Document],
    store: ChunkStore,
    *,
    chunk_size: int,
    chunk_overlap: int,
    batch_size: int,
) -> int:
    """Chunk, embed and record in-memory Documents (each needs `source` metadata).

    Returns the number of chunks embedded (unchanged ones are skipped); a source's
    chunks that are no longer produced are cleaned up.
    """
    records = store.records
    documents = list(documents)
    with writer_session(store):
        records.mark_pending([d.metadata["source"] for d in documents])
        result = index(chunk_documents(documents, chunk_size=chunk_size,
                                       chunk_overlap=chunk_overlap), records,
                       store, batch_size=batch_size, cleanup="scoped_full",
                       source_id_key="source", key_encoder=_chunk_key)
    return result["num_added"]


def indexed_copies(store: ChunkStore, path: str | os.PathLike) -> list[str]:
    """The indexed sources with the very content of the file at `path` (a copy of one is
    indexed once, under the other name); [] when there is none or it cannot be read."""
    try:
        sha = _sha256(Path(path))
    except (LoadError, OSError):
        return []
    return [s for s in store.records.files_with_hash(sha) if s != str(path)]


# -- internals -------------------------------------------------------------------------------
def _chunk_key(doc: Document) -> str:
    return doc.metadata["id"]


def _changed_files(files, store, report, bar, on_progress, chunker, *, chunk_size,
                   chunk_overlap, max_bytes, ocr=None
                   ) -> Iterator[tuple[FileRecord, list[Document]]]:
    """Yield (file record, chunks) for each file that needs (re)indexing; report the rest."""
    records = store.records
    by_hash: dict[str, str] = {}  # content -> first source seen with it in this run
    for done, path in enumerate(files):
        source = str(path)
        bar.file(path.name)
        if on_progress:
            on_progress(done, len(files), path.name)
        try:
            st = path.stat()
            if st.st_size > max_bytes:
                raise LoadError(source, f"too large ({st.st_size / 2**20:.1f} MB; the limit is "
                                f"{max_bytes / 2**20:.0f} MB: raise SOURCECHAT_MAX_FILE_MB)")
            old = records.file(source)
            if old and (old.size, old.mtime_ns, old.chunker) == (st.st_size, st.st_mtime_ns,
                                                                   chunker):
                by_hash.setdefault(old.sha256, source)
                report.unchanged.append(source)
                continue
            sha = _sha256(path)
            current = FileRecord(source, st.st_size, st.st_mtime_ns, sha, chunker)
            if old and (old.sha256, old.chunker) == (sha, chunker):  # touched, not changed
                records.set_files([current])
                by_hash.setdefault(sha, source)
                report.unchanged.append(source)
                continue
            twin = by_hash.get(sha) or next(
                (s for s in records.files_with_hash(sha) if s != source and _current(records, s)),
                None)
            if twin:
                report.duplicates.append((source, twin))
                # it may have differed before
                report.chunks_removed += delete_sources(store, [source])
                continue
            notes = PageNotes()
            chunks = list(chunk_documents(load_file(path, ocr, notes), chunk_size=chunk_size,
                                          chunk_overlap=chunk_overlap))
            if notes.read_by_ocr or notes.no_text:
                report.pages[source] = notes
            flagged = sum(bool(c.metadata["suspect"]) for c in chunks)
            if flagged:
                report.suspect[source] = flagged
        except LoadError as err:
            kept = len(records.list_keys(group_ids=[source]))
            if kept:
                err = LoadError(err.path, f"{err.reason}; its {kept} indexed passage(s) are kept")
            report.errors.append(err)  # the caller reports it, once
            continue
        except OSError as err:
            report.errors.append(LoadError(source, f"cannot read file ({err.strerror or err})"))
            continue
        by_hash[sha] = source
        yield current, chunks


def _counting(bar, on_chunks, files: list[FileRecord], total: int) -> Callable[[int], None]:
    """The per-batch callback of one group: the terminal bar's chunk count, and
    `on_chunks(done, total, names)` (done counts chunks embedded; unchanged ones are
    skipped, so it may stop short of the total)."""
    done = [0]
    names = ", ".join(Path(f.source).name for f in files[:3]) + (" ..." if len(files) > 3
                                                                  else "")

    def added(n: int) -> None:
        bar.chunks(n)
        done[0] += n
        if on_chunks:
            on_chunks(done[0], total, names)
    return added


def _groups(changed, batch_size: int) -> Iterator[tuple[list[FileRecord], list[Document]]]:
    """Whole files gathered until a group holds at least `batch_size` chunks.

    A file never spans two groups, so each index() call cleans up whole files.
    """
    files: list[FileRecord] = []
    chunks: list[Document] = []
    for record, file_chunks in changed:
        files.append(record)
        chunks.extend(file_chunks)
        if len(chunks) >= batch_size:
            yield files, chunks
            files, chunks = [], []
    if files:
        yield files, chunks


def _current(records, source: str) -> bool:
    """Whether a recorded file is still on disk exactly as it was indexed."""
    record = records.file(source)
    try:
        st = Path(source).stat()
    except OSError:
        return False
    return record is not None and (record.size, record.mtime_ns) == (st.st_size, st.st_mtime_ns)


def _under(source: str, root: Path) -> bool:
    return Path(source).is_relative_to(root.resolve())


def _sha256(path: Path) -> str:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except PermissionError:
        raise LoadError(str(path), "permission denied (check the file's permissions)") from None


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

    def note(self, text: str) -> None:
        """Show what the current file is at ("scan.pdf: OCR page 3 (3/40)")."""
        if self.enabled:
            self._progress.update(self._task, name=text[-60:])

    def chunks(self, n: int) -> None:
        self.n_chunks += n
        if self.enabled:
            rate = self.n_chunks / max(time.perf_counter() - self.t0, 1e-9)
            self._progress.update(self._task, chunks=self.n_chunks, rate=f"{rate:.1f}")

    def __exit__(self, *exc):
        if self.enabled:
            self._progress.__exit__(*exc)
