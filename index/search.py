"""Retrieval: question -> ranked Passages, behind LangChain's `BaseRetriever`.

Hybrid, by measurement (docs/retrieval.md): each chunk scores

    dense_weight * (best cosine between the question and one of its sentences)
  + keyword_weight * (its BM25 score / the best BM25 score for this question)

Sentence-level similarity finds the one sentence that answers, which a whole-chunk
vector blurs; BM25 finds the exact names and numbers small embedding models miss.
Candidates are the chunks of the nearest sentences plus the BM25 top hits.
`score` is that sum scaled to 0..1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from index.keyword import KeywordIndex
from index.passages import Passage
from index.store import ChunkStore


class PassageRetriever(BaseRetriever):
    """Hybrid retrieval (sentence-level dense + BM25, weighted sum); `search` gives Passages."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: ChunkStore
    keyword: KeywordIndex | None = None
    k: int = 5
    sources: Sequence[str] | None = None
    dense_weight: float = 1.0
    keyword_weight: float = 0.5
    candidates: int = 40

    def search(
        self, query: str, k: int | None = None, sources: Sequence[str] | None = None
    ) -> list[Passage]:
        """The best `k` passages for `query`, best first, optionally within `sources`."""
        k = k or self.k
        sources = sources or self.sources
        n = max(self.candidates, 4 * k)
        dense: dict[str, float] = {}
        if self.dense_weight > 0:
            vector = self.store.embeddings.embed_query(query)
            dense = self.store.search_sentences(vector, 3 * n, sources)
        keyword: dict[str, float] = {}
        if self.keyword is not None and self.keyword_weight > 0:
            hits = self.keyword.search(query, n, sources)
            if hits:
                top = hits[0][1]
                keyword = {cid: score / top for cid, score in hits}
        if not dense and not keyword:
            return []
        floor = min(dense.values()) if dense else 0.0  # a chunk outside the dense hits
        fused = {
            cid: self.dense_weight * dense.get(cid, floor) + self.keyword_weight * keyword.get(
                cid, 0.0)
            for cid in dense.keys() | keyword.keys()
        }
        ranked = sorted(fused, key=lambda c: (-fused[c], c))
        scale = self.dense_weight + self.keyword_weight
        out: list[Passage] = []
        start = 0
        # a sentence may outlive its chunk for a moment during a write: then fetch further
        while len(out) < k and start < len(ranked):
            ids = ranked[start:start + k - len(out)]
            start += len(ids)
            for p in self.store.get(ids):
                out.append(replace(p, score=round(min(max(fused[p.id] / scale, 0.0), 1.0), 4)))
        return out

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [p.to_document() for p in self.search(query)]
