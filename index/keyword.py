"""BM25 keyword search (bm25s) over the same chunks and ids as the Chroma collection.

Chroma is the source of truth. Every write to the store stamps the collection
with a new content version; the keyword index records the version it was built
from, and is rebuilt from Chroma (and saved beside it, atomically) when the two
differ. So the two always agree, across processes, and after a crash. In a folder this
process cannot write (a read-only index) the saved index is read, and one of another
version is built in memory only.

One caller rebuilds after a write; callers arriving meanwhile search the previous
version instead of queueing behind it (a rebuild of 100k chunks takes seconds):
old or new state, never an error. `refresh()` waits (a writer calls it, so what it
wrote is searchable when it returns). Each version is one immutable snapshot,
swapped in whole, so a search never mixes two versions.

bm25s builds the term-by-chunk score matrix; the saved index keeps that matrix as
plain arrays, and a search sums its columns as bm25s's `get_scores` does (same
order, same float32 sums, so the same scores). Loading and searching a saved
index thus never imports bm25s (nor the scipy it imports): a fresh `sourcechat ask`
starts faster (docs/startup.md).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from corpus.text import content_terms, identifiers
from index.store import ChunkStore

log = logging.getLogger(__name__)

# How `tokenize` reads text, part of a saved index's folder name: an index saved with
# another (e.g. before identifiers were kept whole) is never loaded, but rebuilt.
TOKENIZER = 2
_SAVED = f"t{TOKENIZER}-v-"  # a saved index's folder: _SAVED + content version


def tokenize(text: str) -> list[str]:
    """The terms BM25 indexes: content words, lower-cased and lightly stemmed, and
    identifiers whole (E1377 is one term, never "e" and "1377")."""
    return content_terms(text)


@dataclass(frozen=True)
class ScoreMatrix:
    """BM25 scores by term and chunk, as bm25s precomputes them (CSC arrays: the
    column of term id `t` is `data[indptr[t]:indptr[t + 1]]`, at chunks `indices[...]`)."""

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    chunks: int

    @classmethod
    def of(cls, bm25) -> ScoreMatrix:
        """The matrix of a bm25s index."""
        s = bm25.scores
        return cls(s["data"], s["indices"], s["indptr"], int(s["num_docs"]))

    def scores(self, columns: Sequence[int]) -> np.ndarray:
        """Each chunk's score for the query terms of these ids (a repeated term counts
        again): bm25s's sum, in its order, so bit for bit its scores."""
        out = np.zeros(self.chunks, dtype=self.data.dtype)
        for c in columns:
            start, end = self.indptr[c], self.indptr[c + 1]
            np.add.at(out, self.indices[start:end], self.data[start:end])
        return out

    def rows(self, column: int) -> np.ndarray:
        """The chunks (row numbers) holding the term of this id."""
        return self.indices[self.indptr[column]:self.indptr[column + 1]]

    def doc_freqs(self, vocab: dict[str, int]) -> dict[str, int]:
        """In how many chunks each term occurs (terms that occur nowhere are left out)."""
        counts = np.diff(self.indptr)
        return {t: int(counts[c]) for t, c in vocab.items()
                if t and c < len(counts) and counts[c]}


@dataclass(frozen=True)
class _Snapshot:
    """The index of one content version."""

    version: str | None = None
    matrix: ScoreMatrix | None = None
    ids: list[str] = field(default_factory=list)
    sources: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))
    df: dict[str, int] = field(default_factory=dict)
    terms: dict[str, tuple[str, np.ndarray]] = field(default_factory=dict)  # id: source, terms
    vocab: dict[str, int] = field(default_factory=dict)  # term: column (only ever grows)


class KeywordIndex:
    """A bm25s index of one collection's chunks, kept in step with Chroma."""

    def __init__(self, store: ChunkStore, folder: Path | None, save: bool = True):
        self.store = store
        self.folder = Path(folder) if folder else None
        self.save = save  # False: a folder this process cannot write (read, built in memory)
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
        scores = snap.matrix.scores([snap.vocab[t] for t in terms])
        if mask is not None:
            scores *= mask
        k = min(k, len(snap.ids))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(snap.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def holding(self, terms: Sequence[str],
                sources: Sequence[str] | None = None) -> dict[str, int]:
        """(chunk id: how many of `terms` it holds) for each chunk holding any of them,
        optionally within `sources`."""
        snap = self._sync(wait=False)
        counts: dict[str, int] = {}
        for term in dict.fromkeys(terms):
            if term in snap.df:
                for row in snap.matrix.rows(snap.vocab[term]):
                    if not sources or snap.sources[row] in sources:
                        counts[snap.ids[row]] = counts.get(snap.ids[row], 0) + 1
        return counts

    def unknown(self, text: str) -> list[str]:
        """The words of `text` whose terms no indexed chunk contains, in order, once each
        (an identifier's own term counts, not its pieces: INV-2023-0042 is unknown where
        only INV-2023-0041 is indexed)."""
        snap = self._sync(wait=False)
        if not snap.ids:
            return []
        out: list[str] = []
        for word in re.findall(r"[\w'’-]+", text):
            terms = identifiers(word) or tokenize(word)
            if terms and not any(t in snap.df for t in terms) and word not in out:
                out.append(word)
        return out

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
        if not wait and self._follower is not None and snap.matrix is not None:
            return snap  # the follower keeps it current
        version = self.store.content_version()
        if version == snap.version:
            return snap
        # someone else is rebuilding: search the previous version meanwhile (unless there
        # is none yet, or the caller needs this version)
        if not self._lock.acquire(blocking=wait or snap.matrix is None):
            return snap
        try:
            if self._snap.version != version:
                self._snap = self._load(version) or self._build(version)
            return self._snap
        finally:
            self._lock.release()

    def _build(self, version: str) -> _Snapshot:
        """The index of `version`, re-tokenizing only the chunks the last one did not have
        (reading ids alone from Chroma is ~7x faster than reading texts)."""
        import bm25s

        base = self._snap if self._snap.terms else (self._load(None) or self._snap)
        ids = self.store.id_list()
        known = base.terms
        fresh = self.store.texts_of([i for i in ids if i not in known])
        vocab = dict(base.vocab) or {"": 0}  # term -> column; "" keeps bm25s's empty token
        terms: dict[str, tuple[str, np.ndarray]] = {}
        for i in ids:
            if i in known:
                terms[i] = known[i]
            elif i in fresh:  # else deleted since the listing
                text, source = fresh[i]
                terms[i] = (source, np.fromiter(
                    (vocab.setdefault(t, len(vocab)) for t in tokenize(text)), dtype=np.int32))
        ids = list(terms)
        arrays = [terms[i][1] for i in ids]
        matrix = None
        if ids:
            bm25 = bm25s.BM25()
            bm25.index(([a.tolist() for a in arrays], dict(vocab)), show_progress=False)
            matrix = ScoreMatrix.of(bm25)
        snap = _Snapshot(version, matrix, ids, np.array([terms[i][0] for i in ids], dtype=object),
                         matrix.doc_freqs(vocab) if matrix else {}, terms, vocab)
        self._save(snap)
        return snap

    def _current_dir(self, version: str) -> Path | None:
        return self.folder / f"{_SAVED}{version}" if self.folder else None

    def _save(self, snap: _Snapshot) -> None:
        if self.folder is None or not self.save or not snap.ids:
            return
        target = self._current_dir(snap.version)
        if (target / "scores.npz").exists():  # saved already
            return
        tmp = self.folder / f".tmp-{os.getpid()}-{threading.get_ident()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        m = snap.matrix
        np.savez(tmp / "scores.npz", data=m.data, indices=m.indices, indptr=m.indptr,
                 chunks=np.array(m.chunks))
        arrays = [snap.terms[i][1] for i in snap.ids]
        np.savez(tmp / "terms.npz", flat=np.concatenate(arrays).astype(np.int32),
                 lengths=np.array([len(a) for a in arrays], dtype=np.int64))
        (tmp / "meta.json").write_text(json.dumps(
            {"version": snap.version, "ids": snap.ids, "sources": list(snap.sources),
             "df": snap.df, "vocab": snap.vocab}))
        shutil.rmtree(target, ignore_errors=True)  # this version saved by an older release
        try:
            os.replace(tmp, target)  # atomic: readers see a whole index or none
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
        # older versions, and any saved by another tokenizer, are no longer needed
        for old in [*self.folder.glob("v-*"), *self.folder.glob("t*-v-*")]:
            if old != target:
                shutil.rmtree(old, ignore_errors=True)

    def _load(self, version: str | None) -> _Snapshot | None:
        """The saved index of `version` (None: whichever version is saved)."""
        if self.folder is None:
            return None
        folder = self._current_dir(version) if version else next(
            iter(sorted(self.folder.glob(f"{_SAVED}*"))), None)
        if folder is None or not (folder / "meta.json").exists():
            return None
        try:
            meta = json.loads((folder / "meta.json").read_text())
            with np.load(folder / "scores.npz") as saved:
                matrix = ScoreMatrix(saved["data"], saved["indices"], saved["indptr"],
                                     int(saved["chunks"]))
            with np.load(folder / "terms.npz") as saved:
                arrays = np.split(saved["flat"], np.cumsum(saved["lengths"])[:-1])
        except (OSError, ValueError, KeyError):
            return None
        if version and meta.get("version") != version:
            return None
        ids, sources = meta["ids"], meta["sources"]
        terms = dict(zip(ids, zip(sources, arrays, strict=True), strict=True))
        return _Snapshot(meta["version"], matrix, ids, np.array(sources, dtype=object),
                         meta["df"], terms, meta["vocab"])

