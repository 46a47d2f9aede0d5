"""Embedding, the Chroma store and retrieval: chunks -> vectors -> Passages."""

from index.embeddings import DEFAULT_MODEL, SentenceTransformerEmbeddings
from index.ingest import IngestReport, ingest
from index.passages import Passage
from index.search import PassageRetriever
from index.store import ChunkStore

__all__ = [
    "DEFAULT_MODEL", "ChunkStore", "IngestReport", "Passage", "PassageRetriever",
    "SentenceTransformerEmbeddings", "ingest",
]
