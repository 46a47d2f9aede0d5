"""Embedding, the Chroma store and retrieval: chunks -> vectors -> Passages."""

from index.embeddings import DEFAULT_MODEL, SentenceTransformerEmbeddings
from index.ingest import IngestReport, index_documents, indexed_copies, ingest
from index.keyword import KeywordIndex
from index.maintenance import check, remove_sources, repair
from index.passages import Passage
from index.records import IndexRecords
from index.search import PassageRetriever
from index.store import ChunkStore

__all__ = [
    "DEFAULT_MODEL", "ChunkStore", "IndexRecords", "IngestReport", "KeywordIndex", "Passage",
    "PassageRetriever", "SentenceTransformerEmbeddings", "check", "index_documents",
    "indexed_copies", "ingest",
    "remove_sources", "repair",
]
