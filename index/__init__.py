"""Embedding, the Chroma store and retrieval: chunks -> vectors -> Passages."""

from index.embeddings import DEFAULT_MODEL, SentenceTransformerEmbeddings
from index.ingest import IngestReport, index_documents, ingest
from index.keyword import KeywordIndex
from index.passages import Passage
from index.search import PassageRetriever
from index.store import ChunkStore

__all__ = [
    "DEFAULT_MODEL", "ChunkStore", "IngestReport", "KeywordIndex", "Passage", "PassageRetriever",
    "SentenceTransformerEmbeddings", "index_documents", "ingest",
]
