"""The private copy of a read-only index's Chroma folder that this process reads.

chromadb's PersistentClient (1.x) writes to its SQLite file whenever it opens it, and
has no read-only mode. So the `chroma/` folder of an index this process cannot write
(`index/readonly.py`) is copied into the temp dir and opened there (about 17 KB per
passage: 0.6 s for 10,000 passages, bench/readonly_copy.py), removed when the process
ends, or by the next reader after a crash. `PrivateCopy` copies it again when its owner
changes it, so a long-running reader follows the owner's writes.
"""

from __future__ import annotations

import atexit
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

from corpus.errors import SourcechatError
from index.readonly import read_only_connection

log = logging.getLogger(__name__)

# every write to an index changes one of these (SQLite's files, each with its WAL)
WRITTEN_FILES = ("chroma/chroma.sqlite3", "chroma/chroma.sqlite3-wal", "records.sqlite3",
                 "records.sqlite3-wal")
FOLLOW_EVERY_S = 5.0  # a reader of a read-only index looks for its owner's changes this often
_COPY_PREFIX = "sourcechat-index-"
_HELD = ".held"  # locked by the process reading a copy, for its life
_COPIES: list[tuple[Path, object]] = []  # this process's copies, with their held locks


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
    A copy during which the owner wrote (the stamp moved while copying) is dropped and
    made again at the next look, so a half-written copy is never read; one that cannot be
    made (a full temp dir) is tried again only when the owner writes again, the previous
    copy serving meanwhile. A question `reading` a copy keeps it; a replaced copy is
    closed and removed once no question reads it and `every` seconds have passed since
    the swap (calls outside a question, the web chat's keyword follower and passage
    viewer, make one store call at a time, and have moved to the new client by then).
    So a process holds the current copy, plus each replaced one while a question that
    started on it is still under way.
    """

    def __init__(self, data_dir: str | Path, open_client: Callable[[str], object],
                 every: float = FOLLOW_EVERY_S, clock: Callable[[], float] = time.monotonic):
        self.data_dir = Path(data_dir)
        self.every = every
        self._open = open_client
        self._clock = clock
        self._stamp = index_stamp(self.data_dir)  # before copying: a write meanwhile shows
        self.folder = chroma_copy(str(self.data_dir / "chroma"))
        self.client = open_client(self.folder)
        self._checked = clock()
        self._failed: tuple | None = None  # the stamp a copy could not be made of
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
        if self._clock() - self._checked < self.every:
            return False
        if not self._copying.acquire(blocking=False):
            return False
        try:
            if self._clock() - self._checked < self.every:  # another has just looked
                return False
            self._checked = self._clock()
            self._remove_replaced()
            stamp = index_stamp(self.data_dir)
            return stamp not in (self._stamp, self._failed) and self._replace(stamp, swap)
        finally:
            self._copying.release()

    def _replace(self, stamp: tuple, swap: Callable[[object], None]) -> bool:
        folder = client = None
        try:
            folder = chroma_copy(str(self.data_dir / "chroma"))
            if index_stamp(self.data_dir) != stamp:  # the owner wrote while we copied
                _close(folder, None)
                return False  # copied again at the next look
            client = self._open(folder)
            swap(client)
        except Exception as err:  # noqa: BLE001 - a full temp dir, say: the old copy serves
            if folder is not None:
                _close(folder, client)
            self._failed = stamp
            log.warning("The index in %s has changed, but cannot be read again: %s (its "
                        "previous state is read meanwhile)", self.data_dir, err)
            return False
        with self._lock:
            self._replaced.append((self.folder, self.client, self._clock()))
            self.folder, self.client, self._stamp = folder, client, stamp
        return True

    def _remove_replaced(self) -> None:
        now = self._clock()
        with self._lock:
            done = [r for r in self._replaced
                    if not self._readers[r[0]] and now - r[2] >= self.every]
            self._replaced = [r for r in self._replaced if r not in done]
            for copy, _, _ in done:
                self._readers.pop(copy, None)
        for copy, client, _ in done:
            _close(copy, client)


def _close(copy: str, client) -> None:
    """Close a copy's client and remove the copy; a failure is logged, never raised (it
    happens after a question was answered: the copy goes at exit, or with the sweep)."""
    try:
        if client is not None:
            client.close()
        remove_copy(copy)
    except Exception as err:  # noqa: BLE001 - a leftover temp folder is no user's error
        log.warning("Could not remove the private copy %s: %s", copy, err)


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


