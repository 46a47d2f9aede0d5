"""The Chroma collection that holds chunks, their embeddings and metadata.

The store takes a chromadb client and a LangChain `Embeddings`; Chroma never
embeds anything itself (its default function would download a model). The
collection records the embedding model it was built with, so a mismatch is
caught before it returns nonsense. It is a LangChain `VectorStore`, so
LangChain's indexing API writes to it; the record of what it holds
(`IndexRecords`) travels with it.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from corpus.errors import IndexMismatchError, SourcechatError
from corpus.text import Sentence, sentences
from index.passages import Passage
from index.records import IndexRecords

_META_KEYS = ("source", "title", "page", "start", "end", "id")
_PAGE = 5000  # rows per chromadb get() call


class ChunkStore(VectorStore):
    """Chunks in one Chroma collection (plus their sentences), and the record of them.

    `records` is where LangChain's indexing API keeps its bookkeeping; without one
    an in-memory record is used (tests, throwaway collections).
    """

    def __init__(self, client, collection: str, embeddings: Embeddings, model_name: str,
                 records: IndexRecords | None = None):
        self.client = client
        self.collection_name = collection
        self._embeddings = embeddings
        self.model_name = model_name
        self.records = records or IndexRecords(":memory:", collection)
        self._collection = None
        self._sentences = None

    @property
    def embeddings(self) -> Embeddings:
        """The embedding model the store encodes with."""
        return self._embeddings

    @property
    def collection(self):
        """The Chroma collection (created on first use, checked against the model)."""
        if self._collection is None:
            try:
                col = self.client.get_or_create_collection(
                    self.collection_name,
                    configuration={"hnsw": {"space": "cosine"}},
                    metadata={"embedding_model": self.model_name},
                    embedding_function=None,
                )
            except Exception as err:  # chromadb raises ValueError or InvalidArgumentError
                if "name" not in str(err).lower():
                    raise
                raise SourcechatError(
                    f"Invalid collection name '{self.collection_name}': use 3-512 letters, "
                    "digits, '.', '_' or '-', starting and ending with a letter or digit."
                ) from err
            built_with = (col.metadata or {}).get("embedding_model")
            if built_with and built_with != self.model_name:
                raise IndexMismatchError(
                    f"The index '{self.collection_name}' was built with the embedding model "
                    f"'{built_with}', but '{self.model_name}' is configured: set "
                    f"SOURCECHAT_EMBEDDING_MODEL={built_with}, or use another --collection."
                )
            self._collection = col
        return self._collection

    @property
    def sentence_collection(self):
        """The companion collection of sentence vectors (id `chunk_id:j`, metadata chunk_id)."""
        if self._sentences is None:
            self.collection  # noqa: B018 - validates the name and the model first
            self._sentences = self.client.get_or_create_collection(
                f"{self.collection_name}.sentences",
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"embedding_model": self.model_name},
                embedding_function=None,
            )
        return self._sentences

    def sentence_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        """Stored sentence vectors by sentence id (`chunk_id:j`); missing ids are left out."""
        if not ids:
            return {}
        got = self.sentence_collection.get(ids=ids, include=["embeddings"])
        return {i: np.asarray(v, dtype=np.float32)
                for i, v in zip(got["ids"], got["embeddings"], strict=True)}

    def content_version(self) -> str:
        """A token that changes on every write (the keyword index follows it)."""
        col = self.client.get_collection(self.collection_name)
        return (col.metadata or {}).get("content_version", "empty")

    def _bump_version(self) -> None:
        meta = dict(self.collection.metadata or {})
        meta["content_version"] = uuid.uuid4().hex
        meta.setdefault("embedding_model", self.model_name)
        self.collection.modify(metadata=meta)

    def all_texts(self) -> tuple[list[str], list[str], list[str]]:
        """(ids, texts, sources) of every chunk, in a stable order."""
        ids: list[str] = []
        texts: list[str] = []
        sources: list[str] = []
        offset = 0
        while True:
            got = self.collection.get(include=["documents", "metadatas"], limit=_PAGE,
                                      offset=offset)
            ids.extend(got["ids"])
            texts.extend(got["documents"])
            sources.extend(m["source"] for m in got["metadatas"])
            if len(got["ids"]) < _PAGE:
                break
            offset += _PAGE
        return ids, texts, sources

    def count(self) -> int:
        """Number of chunks stored."""
        return self.collection.count()

    def ids_for_source(self, source: str) -> set[str]:
        """Ids of the chunks stored for one source."""
        return set(self.collection.get(where={"source": source}, include=[])["ids"])

    def add_documents(self, documents: Sequence[Document], ids: Sequence[str] | None = None,
                      on_added: Callable[[int], None] | None = None, **_: object) -> list[str]:
        """Embed and upsert chunks with their sentences; same id -> replaced, not added.

        Each distinct sentence is embedded once (chunk overlaps repeat sentences); a
        chunk's vector is the normalized mean of its sentence vectors, so sentence-level
        search costs no extra encoding. Sentences are written before their chunk, so a
        crash leaves no chunk without sentences. `on_added(n)` reports progress.
        """
        chunks = list(documents)
        if not chunks:
            return []
        ids = list(ids) if ids is not None else [c.metadata["id"] for c in chunks]
        owners: list[int] = []
        sent_ids: list[str] = []
        spans: list[tuple[int, int]] = []
        rows: list[int] = []
        distinct: dict[str, int] = {}
        for i, chunk in enumerate(chunks):
            for j, sent in enumerate(chunk_sentences(chunk.page_content)):
                owners.append(i)
                sent_ids.append(sentence_id(ids[i], j))
                spans.append((sent.start, sent.end))
                rows.append(distinct.setdefault(sent.text, len(distinct)))
        encoded = _embed(self._embeddings, list(distinct))
        vectors = encoded[np.asarray(rows)]
        chunk_vectors = np.zeros((len(chunks), vectors.shape[1]), dtype=np.float32)
        np.add.at(chunk_vectors, np.asarray(owners), vectors)
        chunk_vectors /= np.maximum(np.linalg.norm(chunk_vectors, axis=1, keepdims=True), 1e-12)
        self.sentence_collection.upsert(
            ids=sent_ids,
            embeddings=vectors,
            metadatas=[{"chunk_id": ids[o], "source": chunks[o].metadata["source"],
                        "start": a, "end": b} for o, (a, b) in zip(owners, spans, strict=True)],
        )
        self.collection.upsert(
            ids=ids,
            embeddings=chunk_vectors,
            documents=[c.page_content for c in chunks],
            metadatas=[_to_chroma({**c.metadata, "id": i}) for c, i in zip(chunks, ids,
                                                                           strict=True)],
        )
        self._bump_version()
        if on_added:
            on_added(len(chunks))
        return ids

    def add_texts(self, texts, metadatas=None, *, ids=None, **kwargs) -> list[str]:
        """Add raw texts (each metadata needs `source`; ids default to content hashes)."""
        from corpus.chunking import chunk_id

        docs = []
        for n, text in enumerate(texts):
            meta = dict(metadatas[n]) if metadatas else {"source": "text"}
            meta.setdefault("title", meta["source"])
            meta.update(start=0, end=len(text), page=meta.get("page"))
            meta["id"] = ids[n] if ids else chunk_id(meta["source"], meta["page"], 0, text)
            docs.append(Document(page_content=text, metadata=meta))
        return self.add_documents(docs)

    def similarity_search(self, query: str, k: int = 4, **kwargs) -> list[Document]:
        """Chunks nearest to a query by their (mean-of-sentences) vector."""
        res = self.collection.query(query_embeddings=[self._embeddings.embed_query(query)],
                                    n_results=k, include=["documents", "metadatas"])
        return [Document(page_content=t, metadata=m, id=i) for i, t, m in
                zip(res["ids"][0], res["documents"][0], res["metadatas"][0], strict=True)]

    @classmethod
    def from_texts(cls, texts, embedding, metadatas=None, **kwargs):
        """Not supported: a ChunkStore is built from a chromadb client (see build_assistant)."""
        raise NotImplementedError("build a ChunkStore(client, collection, embeddings, model)")

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Stored chunks as Documents, for the ids that exist."""
        got = self.collection.get(ids=list(ids), include=["documents", "metadatas"])
        return [Document(page_content=t, metadata=m, id=i)
                for i, t, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)]

    def all_ids(self) -> set[str]:
        """Every chunk id in the collection."""
        return set(_paged(self.collection, include=[]))

    def sentence_owners(self) -> dict[str, str]:
        """Every stored sentence id with the chunk id it belongs to."""
        owners: dict[str, str] = {}
        offset = 0
        while True:
            got = self.sentence_collection.get(include=["metadatas"], limit=_PAGE, offset=offset)
            owners.update((i, m["chunk_id"]) for i, m in zip(got["ids"], got["metadatas"],
                                                              strict=True))
            if len(got["ids"]) < _PAGE:
                return owners
            offset += _PAGE

    def delete_sentences(self, ids: Sequence[str]) -> None:
        """Delete sentence vectors by id (orphans left by an interrupted delete)."""
        ids = list(ids)
        for i in range(0, len(ids), _PAGE):
            self.sentence_collection.delete(ids=ids[i:i + _PAGE])
        if ids:
            self._bump_version()

    def search_sentences(
        self, vector: Sequence[float], n: int, sources: Sequence[str] | None = None
    ) -> dict[str, float]:
        """Best sentence similarity per chunk, over the `n` sentences nearest to a vector."""
        res = self.sentence_collection.query(  # Chroma caps n at what it holds
            query_embeddings=[list(vector)], n_results=n,
            where=_source_filter(sources), include=["metadatas", "distances"])
        best: dict[str, float] = {}
        for meta, dist in zip(res["metadatas"][0], res["distances"][0], strict=True):
            sim = 1.0 - dist
            cid = meta["chunk_id"]
            if sim > best.get(cid, -2.0):
                best[cid] = sim
        return best

    def delete(self, ids: Sequence[str] | None = None, **_: object) -> bool:
        """Delete chunks (and their sentences) by id; the caller updates the records."""
        ids = list(ids or [])
        if not ids:
            return True
        for i in range(0, len(ids), _PAGE):
            batch = ids[i:i + _PAGE]
            self.collection.delete(ids=batch)  # chunks first: never a chunk without sentences
            self.sentence_collection.delete(where={"chunk_id": {"$in": batch}})
        self._bump_version()
        return True

    def sources(self) -> list[tuple[str, str, int]]:
        """(source, title, chunk count) for every indexed document, sorted by source."""
        counts: Counter[str] = Counter()
        titles: dict[str, str] = {}
        offset = 0
        while True:
            got = self.collection.get(include=["metadatas"], limit=_PAGE, offset=offset)
            for meta in got["metadatas"]:
                counts[meta["source"]] += 1
                titles.setdefault(meta["source"], meta.get("title", ""))
            if len(got["ids"]) < _PAGE:
                break
            offset += _PAGE
        return [(s, titles[s], counts[s]) for s in sorted(counts)]

    def get(self, ids: Sequence[str]) -> list[Passage]:
        """Stored chunks by id (score 0), in the order asked."""
        got = self.collection.get(ids=list(ids), include=["documents", "metadatas"])
        by_id = {
            i: Passage.from_document(Document(page_content=t, metadata=m), 0.0)
            for i, t, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        }
        return [by_id[i] for i in ids if i in by_id]


def chunk_sentences(text: str) -> list[Sentence]:
    """The sentences of a chunk as stored (a chunk with no sentence end is one sentence)."""
    return sentences(text) or [Sentence(text, 0, len(text))]


def sentence_id(chunk_id: str, j: int) -> str:
    """Id of a chunk's j-th sentence (0-based, in `chunk_sentences` order)."""
    return f"{chunk_id}:{j}"


def _source_filter(sources: Sequence[str] | None) -> dict | None:
    if not sources:
        return None
    return {"source": {"$in": list(sources)}} if len(sources) > 1 else {"source": sources[0]}


def _to_chroma(meta: dict) -> dict:
    """Chroma metadata: only scalar values, and no None (a missing page is left out)."""
    return {k: meta[k] for k in _META_KEYS if meta.get(k) is not None}


def _embed(embeddings: Embeddings, texts: list[str]) -> np.ndarray:
    """Vectors as a float32 array (without a detour through Python lists when possible)."""
    if hasattr(embeddings, "embed_array"):
        return embeddings.embed_array(texts)
    return np.asarray(embeddings.embed_documents(texts), dtype=np.float32)


def _paged(collection, include: list[str]) -> list[str]:
    """All ids of a collection, read in pages."""
    ids: list[str] = []
    offset = 0
    while True:
        got = collection.get(include=include, limit=_PAGE, offset=offset)
        ids.extend(got["ids"])
        if len(got["ids"]) < _PAGE:
            return ids
        offset += _PAGE
