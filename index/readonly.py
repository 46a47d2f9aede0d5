"""An index in a folder this process cannot write (a shared, mounted one): the one check
that says so, SQLite opened for reading only, and the private copy Chroma reads.

Reading needs no writes, but chromadb's PersistentClient (1.x) writes to its SQLite
file whenever it opens it, and has no read-only mode. So the `chroma/` folder of a
read-only index is copied into the temp dir and opened there (about 17 KB per passage:
0.6 s for 10,000 passages, bench/readonly_copy.py; removed when the process ends, or by
the next reader after a crash), and copied again when its owner changes it
(`PrivateCopy`). The records are read into memory without a write, the saved keyword
index where it is. Writers are refused in one line (`check_writable`), before they touch
anything.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import shutil
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from corpus.errors import NotWritableError, SourcechatError

log = logging.getLogger(__name__)

INDEX_FILES = ("chroma", "chroma/chroma.sqlite3", "records.sqlite3", "keyword")
# every write to an index changes one of these (SQLite's files, each with its WAL)
WRITTEN_FILES = ("chroma/chroma.sqlite3", "chroma/chroma.sqlite3-wal", "records.sqlite3",
                 "records.sqlite3-wal")
FOLLOW_EVERY_S = 5.0  # a reader of a read-only index looks for its owner's changes this often
OPENED_READ_ONLY = "this process opened it read-only (it was not writable then): start it again"
_COPY_PREFIX = "sourcechat-index-"
_HELD = ".held"  # locked by the process reading a copy, for its life
_COPIES: list[tuple[Path, object]] = []  # this process's copies, with their held locks


def unwritable(folder: str | Path) -> str | None:
    """Why this process cannot write `folder` and the index files in it (None: it can).
    A folder that does not exist yet is writable when it can be made."""
    folder = Path(folder)
    existing = folder
    while not os.path.exists(existing) and existing != existing.parent:  # False if unreadable
        existing = existing.parent
    if existing != folder:
        if not existing.is_dir():
            return f"it cannot be made: {existing} is not a folder"
        if _can_write(existing):
            return None
        return f"it does not exist and cannot be made in {existing} ({_denied(existing)})"
    for path in (folder, *(folder / f for f in INDEX_FILES)):
        if os.path.exists(path) and not _can_write(path):
            return _denied(path) + ("" if path == folder else f" on {path.relative_to(folder)}")
    return None


def check_writable(folder: str | Path, opened_read_only: bool = False) -> None:
    """Refuse to write the index in `folder`, in one line saying why and what to do, when
    this process cannot write it now, or could not when it opened it (`opened_read_only`:
    it reads a copy, so a write would be lost)."""
    reason = unwritable(folder) or (OPENED_READ_ONLY if opened_read_only else None)
    if reason:
        raise NotWritableError(folder, reason)


def _can_write(path: Path) -> bool:
    effective = os.access in os.supports_effective_ids
    return os.access(path, os.W_OK, effective_ids=effective)


def _denied(path: Path) -> str:
    try:
        read_only_fs = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # no statvfs (Windows)
        read_only_fs = False
    return "it is on a read-only file system" if read_only_fs else "permission denied"


def read_only_connection(path: str | Path) -> sqlite3.Connection:
    """A connection that reads the SQLite file `path` and can write nothing: `mode=ro`,
    which also reads what a live writer holds in its WAL; where SQLite cannot make the
    WAL's `-shm` file beside it (a read-only folder whose last writer closed cleanly,
    leaving everything in the file itself), `immutable=1`."""
    uri = Path(path).resolve().as_uri()
    error: sqlite3.Error | None = None
    for query in ("mode=ro", "mode=ro&immutable=1"):
        db = sqlite3.connect(f"{uri}?{query}", uri=True, check_same_thread=False,
                             isolation_level=None)
        try:
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchall()  # opening is lazy
            return db
        except sqlite3.Error as err:
            db.close()
            error = err
    raise error


def chroma_copy(chroma_dir: str) -> str:
    """A new private copy of a read-only Chroma folder for this process to open (Chroma
    writes to whatever it opens); an empty folder when there is none. It is removed by
    `remove_copy`, when the process ends (`remove_copies`), or by the next copy after a
    crash."""
    source = Path(chroma_dir)
    _sweep()
    files = [f for f in source.rglob("*") if f.is_file()] if source.is_dir() else []
    need = sum(f.stat().st_size for f in files)
    temp = Path(tempfile.gettempdir())
    free = shutil.disk_usage(temp).free
    if need > free * 0.9:
        raise SourcechatError(
            f"The data dir {source.parent} is not writable, so its index is read from a "
            f"private copy, which needs {need / 1e6:.0f} MB in the temp dir {temp} "
            f"({free / 1e6:.0f} MB free): set TMPDIR to a folder with room.")
    from filelock import FileLock

    target = Path(tempfile.mkdtemp(prefix=f"{_COPY_PREFIX}{os.getpid()}-"))
    held = FileLock(target / _HELD)
    held.acquire()
    _COPIES.append((target, held))
    db = source / "chroma.sqlite3"
    for path in files:  # contents only: a copy of a read-only file would be read-only too
        if not (path.parent == source and path.name.startswith(db.name)):  # SQLite: below
            copy = target / path.relative_to(source)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, copy)
    if db.exists():  # SQLite's own copy: consistent even while its owner writes
        with closing(read_only_connection(db)) as src, \
                closing(sqlite3.connect(target / db.name)) as dst:
            src.backup(dst)
    return str(target)


def remove_copy(copy: str) -> None:
    """Remove one of this process's Chroma copies (its client closed first)."""
    for entry in [e for e in _COPIES if e[0] == Path(copy)]:
        _COPIES.remove(entry)
        _remove(entry[0])
        entry[1].release()


def remove_copies() -> None:
    """Remove this process's Chroma copies (at exit; a command that ends with `os._exit`
    calls it first)."""
    while _COPIES:
        folder, held = _COPIES.pop()
        _remove(folder)
        held.release()


atexit.register(remove_copies)


def index_stamp(data_dir: str | Path) -> tuple:
    """What every write to the index in `data_dir` changes: the inode, size and modification
    time of its SQLite files (a few stats: cheap enough before a question)."""
    stamp = []
    for name in WRITTEN_FILES:
        try:
            info = os.stat(Path(data_dir) / name)
        except OSError:  # not there (yet): that is a state too
            stamp.append(None)
        else:
            stamp.append((info.st_ino, info.st_size, info.st_mtime_ns))
    return tuple(stamp)


class PrivateCopy:
    """The private copy of a read-only index this process reads (through `client`), made
    again when the index's owner changes it.

    `follow` looks (at most every `every` seconds) and hands a new copy's client to `swap`.
    A question `reading` a copy keeps it; a replaced copy is closed and removed once no
    question reads it and `every` seconds have passed since the swap: calls outside a
    question (the web chat's keyword follower, its passage viewer) make one store call at
    a time, and have moved to the new client by then. So there are never more than two
    copies: the current one, and the one just replaced while it is read.
    """

    def __init__(self, data_dir: str | Path, open_client: Callable[[str], object],
                 every: float = FOLLOW_EVERY_S):
        self.data_dir = Path(data_dir)
        self.every = every
        self._open = open_client
        self._stamp = index_stamp(self.data_dir)  # before copying: a write meanwhile shows
        self.folder = chroma_copy(str(self.data_dir / "chroma"))
        self.client = open_client(self.folder)
        self._checked = time.monotonic()
        self._lock = threading.Lock()  # guards the fields below
        self._copying = threading.Lock()  # held by the one caller making a new copy
        self._readers: Counter[str] = Counter()  # copy: questions reading it
        self._replaced: list[tuple[str, object, float]] = []  # (copy, client, when)

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Keep the current copy while a question reads it."""
        with self._lock:
            folder = self.folder
            self._readers[folder] += 1
        try:
            yield
        finally:
            with self._lock:
                self._readers[folder] -= 1
            self._remove_replaced()

    def follow(self, swap: Callable[[object], None]) -> bool:
        """If the owner changed the index since it was copied: copy it again and
        `swap(client)` to read the new copy from now on (all or nothing); whether it did.
        A caller arriving while another copies reads the current copy meanwhile."""
        if time.monotonic() - self._checked < self.every:
            return False
        if not self._copying.acquire(blocking=False):
            return False
        try:
            if time.monotonic() - self._checked < self.every:  # another has just looked
                return False
            self._checked = time.monotonic()
            self._remove_replaced()
            stamp = index_stamp(self.data_dir)
            return stamp != self._stamp and self._replace(stamp, swap)
        finally:
            self._copying.release()

    def _replace(self, stamp: tuple, swap: Callable[[object], None]) -> bool:
        folder = client = None
        try:
            folder = chroma_copy(str(self.data_dir / "chroma"))
            client = self._open(folder)
            swap(client)
        except Exception as err:  # noqa: BLE001 - a full temp dir, say: the old copy serves
            if client is not None:
                client.close()
            if folder is not None:
                remove_copy(folder)
            log.warning("The index in %s has changed, but cannot be read again: %s (its "
                        "previous state is read meanwhile)", self.data_dir, err)
            return False
        with self._lock:
            self._replaced.append((self.folder, self.client, time.monotonic()))
            self.folder, self.client, self._stamp = folder, client, stamp
        return True

    def _remove_replaced(self) -> None:
        now = time.monotonic()
        with self._lock:
            done = [r for r in self._replaced
                    if not self._readers[r[0]] and now - r[2] >= self.every]
            self._replaced = [r for r in self._replaced if r not in done]
            for copy, _, _ in done:
                self._readers.pop(copy, None)
        for copy, client, _ in done:
            client.close()
            remove_copy(copy)


def _sweep() -> None:
    """Remove the copies whose process died without removing them (its lock is free)."""
    from filelock import FileLock, Timeout

    for old in Path(tempfile.gettempdir()).glob(f"{_COPY_PREFIX}*"):
        lock_file = old / _HELD
        if not lock_file.exists():  # being made, or not ours
            continue
        lock = FileLock(lock_file)
        try:
            lock.acquire(timeout=0)
        except (Timeout, OSError):  # alive, or another user's
            continue
        _remove(old)
        lock.release()


def _remove(folder: Path) -> None:
    """Remove a copy, even a folder in it that was made read-only."""
    def unlock(func, path, _exc) -> None:
        try:
            os.chmod(os.path.dirname(path), 0o700)
            func(path)
        except OSError:
            pass

    shutil.rmtree(folder, onerror=unlock)


def private_dir(name: str, data_dir: str | Path | None = None) -> Path:
    """A folder of this user's own for what a read-only data dir cannot keep (`name`:
    converted models; with `data_dir`, that data dir's web chat conversations): under the
    user cache dir, else the temp dir (made by its first user)."""
    from platformdirs import user_cache_dir

    parts = [name]
    if data_dir is not None:
        folder = Path(data_dir).resolve()
        parts.append(f"{folder.name}-{hashlib.sha256(str(folder).encode()).hexdigest()[:8]}")
    bases = [Path(user_cache_dir("sourcechat")),
             Path(tempfile.gettempdir()) / f"sourcechat-{os.getuid()}"]
    for base in bases:
        if unwritable(base.joinpath(*parts)) is None:
            return base.joinpath(*parts)
    raise SourcechatError(f"The data dir is not writable, and neither are {bases[0]} nor "
                          f"{bases[1]} to keep {name} in: set SOURCECHAT_DATA_DIR to a "
                          "writable folder.")
