"""Retrieval: question -> ranked Passages, behind LangChain's `BaseRetriever`.

Hybrid: dense search (MiniLM cosine, Chroma) and BM25 keyword search (bm25s)
over the same chunk ids, fused by weighted reciprocal rank. Dense search finds
paraphrases; BM25 finds the exact names and numbers that small embedding models
blur. Scores are the fused score scaled to 0..1 (1 = first in both lists).
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
    """Hybrid (dense + BM25, reciprocal-rank fusion) retrieval; `search` returns Passages."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: ChunkStore
    keyword: KeywordIndex | None = None
    k: int = 5
    sources: Sequence[str] | None = None
    dense_weight: float = 1.0
    keyword_weight: float = 1.0
    rrf_k: int = 60
    candidates: int = 30

    def search(
        self, query: str, k: int | None = None, sources: Sequence[str] | None = None
    ) -> list[Passage]:
        """The best `k` passages for `query`, best first, optionally within `sources`."""
        k = k or self.k
        sources = sources or self.sources
        n = max(self.candidates, 3 * k)
        dense = self.store.search(query, n, sources) if self.dense_weight > 0 else []
        keyword = (self.keyword.search(query, n, sources)
                   if self.keyword is not None and self.keyword_weight > 0 else [])
        if not keyword:
            return dense[:k] if self.dense_weight > 0 else []
        fused: dict[str, float] = {}
        for rank, p in enumerate(dense):
            fused[p.id] = fused.get(p.id, 0.0) + self.dense_weight / (self.rrf_k + rank + 1)
        for rank, (chunk_id, _) in enumerate(keyword):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + self.keyword_weight / (
                self.rrf_k + rank + 1)
        best = sorted(fused, key=lambda i: fused[i], reverse=True)[:k]
        by_id = {p.id: p for p in dense}
        missing = [i for i in best if i not in by_id]
        if missing:
            by_id.update({p.id: p for p in self.store.get(missing)})
        top = (self.dense_weight + self.keyword_weight) / (self.rrf_k + 1)
        return [replace(by_id[i], score=round(fused[i] / top, 4)) for i in best if i in by_id]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [p.to_document() for p in self.search(query)]
