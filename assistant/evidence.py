"""Which sentences of the retrieved passages support a question or an answer.

Sentences are scored by meaning (embedding cosine with the question) and by
words (share of the question's content terms they contain). These scores drive
the relevance gate, the extractive answer, citation attribution for sentences
without a marker, and the highlighted spans of each citation.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from langchain_core.embeddings import Embeddings

from corpus.text import Sentence, content_terms, identifiers, sentences
from index.passages import Passage
from index.vectors import chunk_sentences, sentence_id


@dataclass(frozen=True)
class Evidence:
    """A sentence of passage `passage` (index into the retrieved list) and its scores."""

    passage: int
    sentence: Sentence
    dense: float
    lexical: float
    score: float


@dataclass(frozen=True)
class Relevance:
    """How well the retrieved passages match a question; `score` is what the gate compares.

    dense: best cosine between the question and a sentence of the passages;
    lexical: best IDF-weighted share of the question's terms found in one passage;
    sentence_lexical: the same within one sentence (and its neighbours).
    """

    dense: float
    lexical: float
    score: float
    sentence_lexical: float = 0.0


class EvidenceScorer:
    """Scores sentences against a question with an `Embeddings` model and term overlap.

    `gate_weights` are the settings' (`Settings.gate_weights`). One scorer serves every
    thread of the web chat: its cache of sentence vectors is shared under a lock, and
    each call keeps the vectors it needs, so a cache cleared meanwhile costs nothing.
    """

    cache_limit = 20000  # sentence vectors kept before the cache starts over

    def __init__(self, embeddings: Embeddings, *, gate_weights: Sequence[float],
                 lexical_weight: float = 0.5, idf: Callable[[str], float] | None = None,
                 stored_vectors: Callable[[list[str], dict[str, int]], dict[str, np.ndarray]]
                 | None = None):
        self.embeddings = embeddings
        self.stored_vectors = stored_vectors
        self.lexical_weight = lexical_weight
        self.idf = idf
        self.gate_weights = tuple(gate_weights)
        self._cache: dict[str, np.ndarray] = {}
        self._cached_model = getattr(embeddings, "model_name", None)
        self._lock = threading.Lock()

    def _vectors(self, texts: list[str]) -> dict[str, np.ndarray]:
        """text -> vector for each of the texts: cached, else embedded (and cached)."""
        unique = list(dict.fromkeys(texts))
        with self._lock:
            model = getattr(self.embeddings, "model_name", None)
            if model != self._cached_model:  # the index moved to another model
                self._cache.clear()
                self._cached_model = model
            found = {t: v for t in unique if (v := self._cache.get(t)) is not None}
        missing = [t for t in unique if t not in found]
        if missing:  # embedded outside the lock: other threads keep scoring meanwhile
            new = {t: np.asarray(v, dtype=np.float32)
                   for t, v in zip(missing, self.embeddings.embed_documents(missing), strict=True)}
            with self._lock:
                if len(self._cache) + len(new) > self.cache_limit:
                    self._cache.clear()
                self._cache.update(new)
            found.update(new)
        return found

    def _sentence_vectors(self, passages: Sequence[Passage], cands) -> np.ndarray:
        """Vectors of the candidate sentences: stored at ingest when available, else embedded."""
        ids = [sentence_id(passages[i].id, j) for i, j, _ in cands]
        sizes = Counter(passages[i].id for i, _, _ in cands)
        stored = self.stored_vectors(ids, sizes) if self.stored_vectors is not None else {}
        embedded = self._vectors([s.text for sid, (_, _, s) in zip(ids, cands, strict=True)
                                  if sid not in stored])
        return np.stack([stored[sid] if sid in stored else embedded[s.text]
                         for sid, (_, _, s) in zip(ids, cands, strict=True)])

    def evidence(self, question: str, passages: Sequence[Passage]) -> list[Evidence]:
        """Every sentence of the passages, scored against the question, best first."""
        cands = [(i, j, s) for i, p in enumerate(passages)
                 for j, s in enumerate(chunk_sentences(p.text))]
        if not cands:
            return []
        q = np.asarray(self.embeddings.embed_query(question), dtype=np.float32)
        dense = self._sentence_vectors(passages, cands) @ q
        q_terms = set(content_terms(question))
        out = []
        for (i, _, s), d in zip(cands, dense, strict=True):
            lex = coverage(q_terms, s.text)
            out.append(Evidence(i, s, float(d), lex, float(d) + self.lexical_weight * lex))
        out.sort(key=lambda e: e.score, reverse=True)
        return out

    def relevance(self, question: str, passages: Sequence[Passage],
                  evidence: Sequence[Evidence]) -> Relevance:
        """Gate score: a weighted sum of meaning and word matches (weights calibrated)."""
        if not evidence:
            return Relevance(0.0, 0.0, 0.0, 0.0)
        dense = max(e.dense for e in evidence)
        q_terms = set(content_terms(question))
        lexical = max(coverage(q_terms, p.text, self.idf) for p in passages)
        windows = []
        for i in range(len(passages)):
            sents = [e.sentence for e in evidence if e.passage == i]
            sents.sort(key=lambda x: x.start)
            for j in range(len(sents)):
                windows.append(" ".join(x.text for x in sents[max(0, j - 1):j + 2]))
        sentence_lexical = max((coverage(q_terms, w, self.idf) for w in windows), default=0.0)
        wd, wl, ws = self.gate_weights
        score = wd * dense + wl * lexical + ws * sentence_lexical
        return Relevance(dense, lexical, score, sentence_lexical)


def coverage(q_terms: set[str], text: str,
             idf: Callable[[str], float] | None = None) -> float:
    """Share of the question's content terms found in `text`, IDF-weighted when given.

    With IDF weights a rare term the documents never use ("France") counts for more
    than a common one ("Japan" in a corpus about Japan), so a question about
    something else scores low even when it shares the everyday words.
    """
    if not q_terms:
        return 0.0
    found = q_terms & _terms(text)
    if idf is None:
        return len(found) / len(q_terms)
    weights = {t: idf(t) for t in q_terms}
    total = sum(weights.values())
    return sum(weights[t] for t in found) / total if total > 0 else 0.0


def holding_identifiers(question: str, passages: Sequence[Passage]) -> int:
    """How many of the first passages hold the most of the identifiers the question names
    (E1377, INV-2023-0042; 0 when it names none, or no passage holds one): the passages
    an answer is drawn from, a near-miss (E1370) never quoted beside them. The retriever
    ranks them first (`PassageRetriever.exact_identifiers`)."""
    wanted = set(identifiers(question))
    if not wanted:
        return 0
    held = [len(wanted & _terms(p.text)) for p in passages]
    most = max(held, default=0)
    if not most:
        return 0
    return next((i for i, n in enumerate(held) if n < most), len(held))


@lru_cache(maxsize=8192)
def _terms(text: str) -> frozenset[str]:
    return frozenset(content_terms(text))


def support(claim: str, text: str) -> float:
    """Share of a claim's content terms present in `text` (1.0 when it has none)."""
    terms = set(content_terms(claim))
    if not terms:
        return 1.0
    return len(terms & _terms(text)) / len(terms)


def best_passage(claim: str, passages: Sequence[Passage]) -> int | None:
    """The passage that supports a claim best (ties go to the higher-ranked one)."""
    if not passages:
        return None
    scores = [support(claim, p.text) for p in passages]
    best = max(range(len(passages)), key=lambda i: (scores[i], -i))
    return best if scores[best] > 0 else 0


def supporting_spans(claim: str, passage: Passage, limit: int = 2) -> tuple[tuple[int, int], ...]:
    """Offsets (into the passage text) of the sentences that support a claim best."""
    quoted = [s for s in sentences(passage.text) if claim.strip() and claim.strip() in s.text]
    if quoted:  # a verbatim quote (an extractive answer) is highlighted where it stands
        return ((quoted[0].start, quoted[0].end),)
    claim_terms = set(content_terms(claim))
    scored = []
    for s in sentences(passage.text):
        overlap = len(claim_terms & _terms(s.text))
        if overlap:
            scored.append((overlap, -s.start, s))
    scored.sort(reverse=True)
    if not scored:
        return ()
    top = scored[0][0]
    chosen = [s for overlap, _, s in scored[:limit] if overlap >= max(1, top * 0.6)]
    return tuple(sorted((s.start, s.end) for s in chosen))
