"""Retrieval: question -> ranked Passages, behind LangChain's `BaseRetriever`."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from index.passages import Passage
from index.store import ChunkStore


class PassageRetriever(BaseRetriever):
    """Dense (cosine) retrieval over a ChunkStore; `search` returns Passages."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: ChunkStore
    k: int = 5
    sources: Sequence[str] | None = None

    def search(
        self, query: str, k: int | None = None, sources: Sequence[str] | None = None
    ) -> list[Passage]:
        """The best `k` passages for `query`, best first, optionally within `sources`."""
        return self.store.search(query, k or self.k, sources or self.sources)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        docs = []
        for p in self.search(query):
            doc = p.to_document()
            docs.append(doc)
        return docs
