"""The record of what was indexed: a LangChain `RecordManager` in SQLite, plus file records.

LangChain's indexing API (`langchain_core.indexing.index`) keeps its bookkeeping
in a RecordManager: one key per chunk id, grouped by source, with the time it
was last seen. This one is stdlib `sqlite3` (WAL, one file in the data dir), so
sourcechat needs no SQLAlchemy or langchain-community for it. Beside the chunk
keys it keeps, per source file, the size/mtime/sha256 it was indexed from (so
an unchanged file is skipped without being read), a marker for a run in
progress and the sources it is writing (so a run killed midway is repaired by
the next one, for those sources only: other writers of a shared Chroma server
keep theirs). Opened read-only (a data dir this process cannot write), the records
are read once into memory, as Chroma's are (`index/readonly.py`), and refuse every
writer.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from langchain_core.indexing import RecordManager

from index.batching import batches
from index.readonly import check_writable, read_only_connection

_SQL_BATCH = 500  # values per `IN (...)` list (SQLite caps bound parameters per statement)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    namespace TEXT NOT NULL, key TEXT NOT NULL, group_id TEXT, updated_at REAL NOT NULL,
    PRIMARY KEY (namespace, key));
CREATE INDEX IF NOT EXISTS records_group ON records (namespace, group_id);
CREATE INDEX IF NOT EXISTS records_time ON records (namespace, updated_at);
CREATE TABLE IF NOT EXISTS files (
    namespace TEXT NOT NULL, source TEXT NOT NULL, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL, chunker TEXT NOT NULL,
    PRIMARY KEY (namespace, source));
CREATE INDEX IF NOT EXISTS files_sha ON files (namespace, sha256);
CREATE TABLE IF NOT EXISTS runs (
    namespace TEXT PRIMARY KEY, pid INTEGER NOT NULL, started REAL NOT NULL);
CREATE TABLE IF NOT EXISTS pending (
    namespace TEXT NOT NULL, source TEXT NOT NULL, PRIMARY KEY (namespace, source));
"""


@dataclass(frozen=True)
class FileRecord:
    """What a source file looked like when it was indexed."""

    source: str
    size: int
    mtime_ns: int
    sha256: str
    chunker: str


class IndexRecords(RecordManager):
    """Chunk keys (the RecordManager), file records and the run marker of one collection."""

    def __init__(self, path: str | Path, namespace: str, read_only: bool = False):
        super().__init__(namespace)
        self.path = str(path)
        self.read_only = read_only
        self._lock = threading.RLock()
        if read_only:
            self._db = _snapshot(self.path)
            self._writer = None
            return
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                   timeout=60)
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self.create_schema()
        self._writer = None

    def writer_lock(self):
        """The lock every writer of this collection holds (across processes: a file lock).
        Records opened read-only refuse it: every writer takes it, so none writes a copy."""
        if self.read_only:
            check_writable(Path(self.path).parent, opened_read_only=True)
        if self._writer is None:
            if self.persistent:
                from filelock import FileLock

                self._writer = FileLock(f"{self.path}.{self.namespace}.lock")
            else:
                self._writer = _NoLock()
        return self._writer

    @property
    def persistent(self) -> bool:
        """False for an in-memory record (tests, throwaway collections)."""
        return self.path != ":memory:"

    def _run(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: all of it lands, or none."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _write(self, sql: str, rows: Sequence[Sequence]) -> None:
        with self._transaction() as db:
            db.executemany(sql, rows)

    # -- RecordManager -----------------------------------------------------------------------
    def create_schema(self) -> None:
        """Create the tables if they do not exist."""
        with self._lock:
            self._db.executescript(_SCHEMA)

    def get_time(self) -> float:
        """Now, never earlier than a time already recorded (clocks can step back)."""
        (latest,) = self._run("SELECT MAX(updated_at) FROM records WHERE namespace = ?",
                              (self.namespace,))[0]
        now = time.time()
        return max(now, latest + 1e-6) if latest is not None else now

    def update(self, keys: Sequence[str], *, group_ids: Sequence[str | None] | None = None,
               time_at_least: float | None = None) -> None:
        """Upsert keys with their group and the current time (at least `time_at_least`)."""
        if group_ids is None:
            group_ids = [None] * len(keys)
        if len(group_ids) != len(keys):
            raise ValueError("keys and group_ids must have the same length")
        now = max(self.get_time(), time_at_least or 0.0)
        rows = [(self.namespace, k, g, now) for k, g in zip(keys, group_ids, strict=True)]
        # A refresh without group ids (an unchanged chunk) keeps the group it had.
        self._write(
            "INSERT INTO records (namespace, key, group_id, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (namespace, key) DO UPDATE SET updated_at = excluded.updated_at, "
            "group_id = COALESCE(excluded.group_id, records.group_id)", rows)

    def exists(self, keys: Sequence[str]) -> list[bool]:
        """Whether each key is recorded."""
        found: set[str] = set()
        keys = list(keys)
        for part in batches(keys, _SQL_BATCH):
            marks = ",".join("?" * len(part))
            found.update(k for (k,) in self._run(
                f"SELECT key FROM records WHERE namespace = ? AND key IN ({marks})",
                (self.namespace, *part)))
        return [k in found for k in keys]

    def list_keys(self, *, before: float | None = None, after: float | None = None,
                  group_ids: Sequence[str] | None = None, limit: int | None = None) -> list[str]:
        """Keys filtered by time and group, oldest first."""
        sql = "SELECT key FROM records WHERE namespace = ?"
        params: list = [self.namespace]
        if before is not None:
            sql += " AND updated_at < ?"
            params.append(before)
        if after is not None:
            sql += " AND updated_at > ?"
            params.append(after)
        if group_ids is not None:
            group_ids = list(group_ids)
            if not group_ids:
                return []
            sql += f" AND group_id IN ({','.join('?' * len(group_ids))})"
            params.extend(group_ids)
        sql += " ORDER BY updated_at, key"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [k for (k,) in self._run(sql, params)]

    def delete_keys(self, keys: Sequence[str]) -> None:
        """Forget keys."""
        self._write("DELETE FROM records WHERE namespace = ? AND key = ?",
                    [(self.namespace, k) for k in keys])

    async def acreate_schema(self) -> None:  # noqa: D102 - the async twins delegate
        self.create_schema()

    async def aget_time(self) -> float:  # noqa: D102
        return self.get_time()

    async def aupdate(self, keys, *, group_ids=None, time_at_least=None) -> None:  # noqa: D102
        self.update(keys, group_ids=group_ids, time_at_least=time_at_least)

    async def aexists(self, keys) -> list[bool]:  # noqa: D102
        return self.exists(keys)

    async def alist_keys(self, *, before=None, after=None, group_ids=None,  # noqa: D102
                         limit=None) -> list[str]:
        return self.list_keys(before=before, after=after, group_ids=group_ids, limit=limit)

    async def adelete_keys(self, keys) -> None:  # noqa: D102
        self.delete_keys(keys)

    # -- groups and files --------------------------------------------------------------------
    def has_keys(self) -> bool:
        """Whether anything is recorded for this namespace."""
        return bool(self._run("SELECT 1 FROM records WHERE namespace = ? LIMIT 1",
                              (self.namespace,)))

    def has_run(self) -> bool:
        """Whether a run marker is set (a run is going on, or one died)."""
        return bool(self._run("SELECT 1 FROM runs WHERE namespace = ?", (self.namespace,)))

    def all_keys(self) -> set[str]:
        """Every recorded chunk id."""
        return {k for (k,) in self._run("SELECT key FROM records WHERE namespace = ?",
                                        (self.namespace,))}

    def group_counts(self) -> dict[str, int]:
        """Recorded chunks per source."""
        return dict(self._run("SELECT group_id, COUNT(*) FROM records WHERE namespace = ? "
                              "GROUP BY group_id", (self.namespace,)))

    def keys_of(self, sources: Sequence[str]) -> set[str]:
        """Recorded chunk ids of these sources."""
        return {k for part in batches(list(sources), _SQL_BATCH)
                for k in self.list_keys(group_ids=part)}

    def groups_of(self, keys: Sequence[str]) -> list[str]:
        """The sources that recorded keys belong to."""
        groups: set[str] = set()
        for part in batches(list(keys), _SQL_BATCH):
            groups.update(g for (g,) in self._run(
                f"SELECT DISTINCT group_id FROM records WHERE namespace = ? AND key IN "
                f"({','.join('?' * len(part))})", (self.namespace, *part)) if g)
        return sorted(groups)

    def file(self, source: str) -> FileRecord | None:
        """The file record of a source, if it was indexed from a file."""
        rows = self._run("SELECT source, size, mtime_ns, sha256, chunker FROM files "
                         "WHERE namespace = ? AND source = ?", (self.namespace, source))
        return FileRecord(*rows[0]) if rows else None

    def files_with_hash(self, sha256: str) -> list[str]:
        """Sources indexed from files with these exact bytes."""
        return [s for (s,) in self._run("SELECT source FROM files WHERE namespace = ? AND "
                                        "sha256 = ? ORDER BY source", (self.namespace, sha256))]

    def set_files(self, records: Sequence[FileRecord]) -> None:
        """Record the files just indexed."""
        self._write("INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?)",
                    [(self.namespace, r.source, r.size, r.mtime_ns, r.sha256, r.chunker)
                     for r in records])

    def drop_files(self, sources: Sequence[str]) -> None:
        """Forget file records (their chunks are handled by the caller)."""
        self._write("DELETE FROM files WHERE namespace = ? AND source = ?",
                    [(self.namespace, s) for s in sources])

    def file_sources(self) -> list[str]:
        """Every source with a file record."""
        return [s for (s,) in self._run("SELECT source FROM files WHERE namespace = ? "
                                        "ORDER BY source", (self.namespace,))]

    # -- generations ---------------------------------------------------------------------------
    def copy_to(self, other: IndexRecords) -> None:
        """Make `other` (a namespace in the same file) record exactly what this one does:
        chunk keys with their groups and times, and file records (a reindex's copy)."""
        if other.path != self.path:
            raise ValueError("records are copied within one file")
        with self._transaction() as db:
            for table in ("records", "files", "runs", "pending"):
                db.execute(f"DELETE FROM {table} WHERE namespace = ?", (other.namespace,))
            db.execute("INSERT INTO records SELECT ?, key, group_id, updated_at FROM records "
                       "WHERE namespace = ?", (other.namespace, self.namespace))
            db.execute("INSERT INTO files SELECT ?, source, size, mtime_ns, sha256, chunker "
                       "FROM files WHERE namespace = ?", (other.namespace, self.namespace))

    def drop(self) -> None:
        """Forget everything recorded in this namespace (a retired generation's records)."""
        with self._transaction() as db:
            for table in ("records", "files", "runs", "pending"):
                db.execute(f"DELETE FROM {table} WHERE namespace = ?", (self.namespace,))

    # -- runs --------------------------------------------------------------------------------
    def begin_run(self, pid: int) -> list[str] | None:
        """Mark a run as started. When an earlier run never finished, returns the sources it
        had marked pending (they must be repaired; an empty list: it wrote nothing), else None.
        """
        unfinished = bool(self._run("SELECT 1 FROM runs WHERE namespace = ?", (self.namespace,)))
        self._write("INSERT OR REPLACE INTO runs VALUES (?, ?, ?)",
                    [(self.namespace, pid, time.time())])
        return self.pending() if unfinished else None

    def mark_pending(self, sources: Sequence[str]) -> None:
        """Note sources whose chunks this run is about to write or delete (before it does)."""
        self._write("INSERT OR IGNORE INTO pending VALUES (?, ?)",
                    [(self.namespace, s) for s in dict.fromkeys(sources)])

    def pending(self) -> list[str]:
        """The sources marked pending by the current (or a dead) run."""
        return [s for (s,) in self._run("SELECT source FROM pending WHERE namespace = ? "
                                        "ORDER BY source", (self.namespace,))]

    def end_run(self) -> None:
        """Mark the run finished (its pending sources are all recorded)."""
        with self._transaction() as db:
            for table in ("pending", "runs"):
                db.execute(f"DELETE FROM {table} WHERE namespace = ?", (self.namespace,))


def _snapshot(path: str) -> sqlite3.Connection:
    """The records as they are now, in memory, where nothing can be written (records
    opened read-only: the index in a folder this process cannot write)."""
    db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
    if path != ":memory:" and Path(path).exists():
        with closing(read_only_connection(path)) as source:
            source.backup(db)
    db.executescript(_SCHEMA)  # a file from an older release may lack a table; none: empty
    db.execute("PRAGMA query_only = ON")
    return db


class _NoLock:
    """A re-entrant in-process lock shaped like filelock's (for in-memory records)."""

    def __init__(self):
        self._lock = threading.RLock()

    def acquire(self, timeout: float = -1):
        if not self._lock.acquire(timeout=timeout if timeout >= 0 else -1):
            from filelock import Timeout

            raise Timeout("in-process index lock")
        return self

    def release(self) -> None:
        self._lock.release()

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
