"""BM25 keyword search (bm25s) over the same chunks and ids as the Chroma collection.

Chroma is the source of truth. Every write to the store stamps the collection
with a new content version; the keyword index records the version it was built
from, and is rebuilt from Chroma (and saved beside it, atomically) when the two
differ. So the two always agree, across processes, and after a crash.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from corpus.text import content_terms
from index.store import ChunkStore


def tokenize(text: str) -> list[str]:
    """The terms BM25 indexes: content words, lower-cased and lightly stemmed."""
    return content_terms(text)


class KeywordIndex:
    """A bm25s index of one collection's chunks, kept in step with Chroma."""

    def __init__(self, store: ChunkStore, folder: Path | None):
        self.store = store
        self.folder = Path(folder) if folder else None
        self._lock = threading.Lock()
        self._version: str | None = None
        self._bm25 = None
        self._ids: list[str] = []
        self._sources: np.ndarray = np.array([], dtype=object)
        self._df: dict[str, int] = {}

    # -- public ------------------------------------------------------------------------------
    def search(self, query: str, k: int,
               sources: Sequence[str] | None = None) -> list[tuple[str, float]]:
        """(chunk id, BM25 score) of the best `k` chunks with any query term, best first."""
        self._sync()
        terms = [t for t in tokenize(query) if t in self._df]
        if not self._ids or not terms:
            return []
        mask = None
        if sources:
            mask = np.isin(self._sources, list(sources)).astype(np.float32)
            if not mask.any():
                return []
        scores = self._bm25.get_scores(terms, weight_mask=mask) if mask is not None else \
            self._bm25.get_scores(terms)
        k = min(k, len(self._ids))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(self._ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def idf(self, term: str) -> float:
        """Inverse document frequency of a term; unseen terms get the highest value."""
        self._sync()
        n = max(len(self._ids), 1)
        df = self._df.get(term, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def count(self) -> int:
        """Chunks in the keyword index (after syncing with Chroma)."""
        self._sync()
        return len(self._ids)

    def ids(self) -> set[str]:
        """Ids of the chunks in the keyword index (after syncing with Chroma)."""
        self._sync()
        return set(self._ids)

    # -- keeping in step ---------------------------------------------------------------------
    def _sync(self) -> None:
        version = self.store.content_version()
        if version == self._version:
            return
        with self._lock:
            if version == self._version:
                return
            if not self._load(version):
                self._build(version)

    def _build(self, version: str) -> None:
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
        self._bm25, self._ids, self._df = bm25, ids, df
        self._sources = np.array(sources, dtype=object)
        self._version = version
        self._save(version)

    def _current_dir(self, version: str) -> Path | None:
        return self.folder / f"v-{version}" if self.folder else None

    def _save(self, version: str) -> None:
        if self.folder is None or not self._ids:
            return
        target = self._current_dir(version)
        if target.exists():
            return
        tmp = self.folder / f".tmp-{os.getpid()}-{threading.get_ident()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        self._bm25.save(str(tmp / "bm25"), show_progress=False)
        (tmp / "meta.json").write_text(json.dumps(
            {"version": version, "ids": self._ids, "sources": list(self._sources),
             "df": self._df}))
        try:
            os.replace(tmp, target)  # atomic: readers see a whole index or none
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
        for old in self.folder.glob("v-*"):  # older versions are no longer needed
            if old != target:
                shutil.rmtree(old, ignore_errors=True)

    def _load(self, version: str) -> bool:
        import bm25s

        folder = self._current_dir(version)
        if folder is None or not (folder / "meta.json").exists():
            return False
        try:
            meta = json.loads((folder / "meta.json").read_text())
            bm25 = bm25s.BM25.load(str(folder / "bm25"))
        except (OSError, ValueError):
            return False
        if meta.get("version") != version:
            return False
        self._bm25, self._ids, self._df = bm25, meta["ids"], meta["df"]
        self._sources = np.array(meta["sources"], dtype=object)
        self._version = version
        return True
