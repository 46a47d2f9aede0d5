"""An index in a folder this process cannot write (a shared, mounted one): the one check
that says so, SQLite opened for reading only, and a folder of the user's own for what
the data dir cannot keep.

Reading needs no writes: the records are read into memory without a write, the saved
keyword index where it is, and Chroma from a private copy (`index/private_copy.py`:
its client writes to whatever it opens). Writers are refused in one line
(`check_writable`), before they touch anything.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
from pathlib import Path

from corpus.errors import NotWritableError, SourcechatError

INDEX_FILES = ("chroma", "chroma/chroma.sqlite3", "records.sqlite3", "keyword")
OPENED_READ_ONLY = "this process opened it read-only (it was not writable then): start it again"


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
