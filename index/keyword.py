"""BM25 keyword search (bm25s) over the same chunks and ids as the Chroma collection.

Chroma is the source of truth. Every write to the store stamps the collection
with a new content version; the keyword index records the version it was built
from, and is rebuilt from Chroma (and saved beside it, atomically) when the two
differ. So the two always agree, across processes, and after a crash.

One caller rebuilds after a write; callers arriving meanwhile search the previous
version instead of queueing behind it (a rebuild of 100k chunks takes seconds):
old or new state, never an error. `refresh()` waits (a writer calls it, so what it
wrote is searchable when it returns). Each version is one immutable snapshot,
swapped in whole, so a search never mixes two versions.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from corpus.text import content_terms
from index.store import ChunkStore

log = logging.getLogger(__name__)


def tokenize(text: str) -> list[str]:
    """The terms BM25 indexes: content words, lower-cased and lightly stemmed."""
    return content_terms(text)


@dataclass(frozen=True)
class _Snapshot:
    """The index of one content version."""

    version: str | None = None
    bm25: object = None
    ids: list[str] = field(default_factory=list)
    sources: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))
    df: dict[str, int] = field(default_factory=dict)


class KeywordIndex:
    """A bm25s index of one collection's chunks, kept in step with Chroma."""

    def __init__(self, store: ChunkStore, folder: Path | None):
        self.store = store
        self.folder = Path(folder) if folder else None
        self._lock = threading.Lock()  # held by the one caller rebuilding
        self._snap = _Snapshot()
        self._follower: threading.Thread | None = None
        self._stop = threading.Event()

    # -- public ------------------------------------------------------------------------------
    def search(self, query: str, k: int,
               sources: Sequence[str] | None = None) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) of the best `k` chunks with any query term, best first."""
        snap = self._sync(wait=False)
        terms = [t for t in tokenize(query) if t in snap.df]
        if not snap.ids or not terms:
            return []
        mask = None
        if sources:
            mask = np.isin(snap.sources, list(sources)).astype(np.float32)
            if not mask.any():
                return []
        scores = snap.bm25.get_scores(terms, weight_mask=mask) if mask is not None else \
            snap.bm25.get_scores(terms)
        k = min(k, len(snap.ids))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(snap.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def idf(self, term: str) -> float:
        """Inverse document frequency of a term; unseen terms get the highest value."""
        snap = self._sync(wait=False)
        n = max(len(snap.ids), 1)
        df = snap.df.get(term, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def count(self) -> int:
        """Chunks in the keyword index (after syncing with Chroma)."""
        return len(self._sync(wait=True).ids)

    def ids(self) -> set[str]:
        """Ids of the chunks in the keyword index (after syncing with Chroma)."""
        return set(self._sync(wait=True).ids)

    def refresh(self) -> None:
        """Catch up with Chroma now, waiting for a rebuild in progress (writers call it)."""
        self._sync(wait=True)

    def follow(self, every: float = 2.0) -> None:
        """Keep up with Chroma from a background thread, checking every `every` seconds (the
        web chat): searches then never rebuild once an index exists, they use the latest
        snapshot, so no question waits for another process's write to be indexed."""
        if self._follower is None:
            self._stop.clear()
            self._follower = threading.Thread(target=self._follow, args=(every,), daemon=True,
                                              name="keyword-follower")
            self._follower.start()

    def stop_following(self) -> None:
        """Stop the background thread `follow` started (searches sync themselves again)."""
        follower, self._follower = self._follower, None
        if follower is not None:
            self._stop.set()
            follower.join()

    def _follow(self, every: float) -> None:
        while not self._stop.is_set():
            try:
                self._sync(wait=True)
            except Exception as err:  # noqa: BLE001 - a server away for a moment: next round
                log.warning("keyword index: cannot follow the collection: %s", err)
            self._stop.wait(every)

    # -- keeping in step ---------------------------------------------------------------------
    def _sync(self, wait: bool) -> _Snapshot:
        snap = self._snap
        if not wait and self._follower is not None and snap.bm25 is not None:
            return snap  # the follower keeps it current
        version = self.store.content_version()
        if version == snap.version:
            return snap
        # someone else is rebuilding: search the previous version meanwhile (unless there
        # is none yet, or the caller needs this version)
        if not self._lock.acquire(blocking=wait or snap.bm25 is None):
            return snap
        try:
            if self._snap.version != version:
                self._snap = self._load(version) or self._build(version)
            return self._snap
        finally:
            self._lock.release()

    def _build(self, version: str) -> _Snapshot:
        import bm25s

        ids, texts, sources = self.store.all_texts()
        corpus = [tokenize(t) for t in texts]
        bm25 = bm25s.BM25()
        if ids:
            bm25.index(corpus, show_progress=False)
        df: dict[str, int] = {}
        for terms in corpus:
            for t in set(terms):
                df[t] = df.get(t, 0) + 1
        snap = _Snapshot(version, bm25, ids, np.array(sources, dtype=object), df)
        self._save(snap)
        return snap

    def _current_dir(self, version: str) -> Path | None:
        return self.folder / f"v-{version}" if self.folder else None

    def _save(self, snap: _Snapshot) -> None:
        if self.folder is None or not snap.ids:
            return
        target = self._current_dir(snap.version)
        if target.exists():
            return
        tmp = self.folder / f".tmp-{os.getpid()}-{threading.get_ident()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        snap.bm25.save(str(tmp / "bm25"), show_progress=False)
        (tmp / "meta.json").write_text(json.dumps(
            {"version": snap.version, "ids": snap.ids, "sources": list(snap.sources),
             "df": snap.df}))
        try:
            os.replace(tmp, target)  # atomic: readers see a whole index or none
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
        for old in self.folder.glob("v-*"):  # older versions are no longer needed
            if old != target:
                shutil.rmtree(old, ignore_errors=True)

    def _load(self, version: str) -> _Snapshot | None:
        import bm25s

        folder = self._current_dir(version)
        if folder is None or not (folder / "meta.json").exists():
            return None
        try:
            meta = json.loads((folder / "meta.json").read_text())
            bm25 = bm25s.BM25.load(str(folder / "bm25"))
        except (OSError, ValueError):
            return None
        if meta.get("version") != version:
            return None
        return _Snapshot(version, bm25, meta["ids"], np.array(meta["sources"], dtype=object),
                         meta["df"])
