"""Retrieval: question -> ranked Passages, behind LangChain's `BaseRetriever`.

Hybrid, by measurement (docs/retrieval.md): each chunk scores

    dense_weight * (best cosine between the question and one of its sentences)
  + keyword_weight * (its BM25 score / the best BM25 score for this question)

Sentence-level similarity finds the one sentence that answers, which a whole-chunk
vector blurs; BM25 finds the exact names and numbers small embedding models miss.
Candidates are the chunks nearest by their whole-chunk vector plus the BM25 top
hits; each candidate is then scored exactly by its best sentence, from the
sentence vectors stored in its row. `score` is that sum scaled to 0..1.

An identifier the question names (E1377, INV-2023-0042: `corpus.text.identifiers`)
is exact: the chunks holding it rank above those without it, whatever their scores
(MiniLM reads E1370 as E1377, and a near-miss can score higher). Chunks holding more
of the question's identifiers rank higher still; within a tier the score orders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from corpus.text import identifiers
from index.keyword import KeywordIndex
from index.passages import Passage
from index.store import ChunkStore


class PassageRetriever(BaseRetriever):
    """Hybrid retrieval (sentence-level dense + BM25, weighted sum); `search` gives Passages."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: ChunkStore
    keyword: KeywordIndex | None = None
    k: int  # k, the weights and exact_identifiers come from the settings (their one home)
    dense_weight: float
    keyword_weight: float
    exact_identifiers: bool
    sources: Sequence[str] | None = None
    candidates: int = 40
    dense_factor: int = 2  # dense candidates per keyword candidate

    def search(
        self, query: str, k: int | None = None, sources: Sequence[str] | None = None
    ) -> list[Passage]:
        """The best `k` passages for `query`, best first, optionally within `sources`."""
        k = k or self.k
        sources = sources or self.sources
        n = max(self.candidates, 4 * k)
        vector = None
        dense_ids: list[str] = []
        if self.dense_weight > 0:
            vector = np.asarray(self.store.embeddings.embed_query(query), dtype=np.float32)
            dense_ids = self.store.nearest_chunks(vector, self.dense_factor * n, sources)
        keyword: dict[str, float] = {}
        if self.keyword is not None and self.keyword_weight > 0:
            hits = self.keyword.search(query, n, sources)
            if hits:
                top = hits[0][1]
                keyword = {cid: score / top for cid, score in hits}
        exact: dict[str, int] = {}  # chunk id: the question's identifiers it holds
        if self.keyword is not None and self.exact_identifiers:
            exact = self.keyword.holding(identifiers(query), sources)
        candidates = dict.fromkeys([*dense_ids, *keyword])
        candidates.update(dict.fromkeys([i for i in exact if i not in candidates][:n]))
        found = list(candidates)
        if not found:  # an empty index (or selection)
            return []
        # a chunk deleted since the searches is simply not fetched
        passages = self.store.get(found)
        if not passages:
            return []
        dense: dict[str, float] = {}
        if vector is not None:
            mats = self.store.vectors_of(passages)
            dense = {p.id: float(np.max(_cosines(mats[p.id], vector))) for p in passages}
        fused = {p.id: self.dense_weight * dense.get(p.id, 0.0)
                 + self.keyword_weight * keyword.get(p.id, 0.0) for p in passages}
        scale = self.dense_weight + self.keyword_weight
        ranked = sorted(passages, key=lambda p: (-exact.get(p.id, 0), -fused[p.id], p.id))[:k]
        return [replace(p, score=round(min(max(fused[p.id] / scale, 0.0), 1.0), 4))
                for p in ranked]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [p.to_document() for p in self.search(query)]


def _cosines(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """Cosine similarity of each row with a vector."""
    norms = np.linalg.norm(matrix, axis=1) * np.linalg.norm(vector)
    return (matrix @ vector) / np.maximum(norms, 1e-12)
