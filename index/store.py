"""The Chroma collection that holds chunks, their embeddings and metadata.

The store takes a chromadb client and a LangChain `Embeddings`; Chroma never
embeds anything itself (its default function would download a model). The
collection records the embedding model it was built with, so a mismatch is
caught before it returns nonsense. It is a LangChain `VectorStore`, so
LangChain's indexing API writes to it; the record of what it holds
(`IndexRecords`) travels with it.

Each chunk row carries its own sentence vectors (`index/vectors.py`: float16,
as a `data:` URI in Chroma's `uris` field). Retrieval ranks candidate chunks
by their best sentence; keeping those vectors out of an approximate-nearest-
neighbour index keeps memory at one vector per chunk (an in-memory HNSW of
every sentence grew ~17 KB per chunk), and a chunk and its sentences are
written by one upsert, so they can never disagree after a crash.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from corpus.errors import IndexMismatchError, SourcechatError
from corpus.injection import holds_instructions
from index.batching import CHROMA_PAGE, batches, pages
from index.generations import pointed_at
from index.passages import Passage
from index.records import IndexRecords
from index.vectors import chunk_sentences, decode_vectors, encode_vectors

log = logging.getLogger(__name__)
_META_KEYS = ("source", "title", "page", "start", "end", "id", "suspect")
_FILTER_BATCH = 500  # sources per `$in` filter


NEVER_WRITTEN = "empty"  # the content version of a collection no write has stamped
HNSW = {"hnsw": {"space": "cosine"}}  # every chunk collection's index configuration


class ChunkStore(VectorStore):
    """Chunks in one Chroma collection (plus their sentences), and the record of them.

    `records` is where LangChain's indexing API keeps its bookkeeping; without one
    an in-memory record is used (tests, throwaway collections). `name` is the
    configured name; the chunks live in the generation it points at
    (`collection_name`, see `index/generations.py`), whose records `records_for`
    opens. An index is read and written with the model it was built with: when the
    embeddings can `use` another model, the store adopts the one recorded (a
    configured model takes effect with `sourcechat reindex`), else a mismatch is an
    error.
    """

    def __init__(self, client, collection: str, embeddings: Embeddings, model_name: str,
                 records: IndexRecords | None = None,
                 records_for: Callable[[str], IndexRecords] | None = None):
        self.client = client
        self.name = collection
        self.collection_name = collection  # the generation holding the chunks, once resolved
        self._embeddings = embeddings
        self.model_name = model_name
        self.records_for = records_for or (lambda name: IndexRecords(":memory:", name))
        self.records = records or self.records_for(collection)
        self._resolved = False
        self._collection = None
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()  # chunk id -> sentences
        self._cache_lock = threading.Lock()

    @property
    def embeddings(self) -> Embeddings:
        """The embedding model the store encodes with."""
        return self._embeddings

    @property
    def collection(self):
        """The Chroma collection (created on first use, checked against the model)."""
        if self._collection is None:
            if not self._resolved:
                self.follow()
            client = self.client  # `reopen` may swap it meanwhile: then this one is dropped
            try:
                col = client.get_or_create_collection(
                    self.collection_name,
                    configuration=HNSW,
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
            configured = self.model_name
            if built_with and built_with != configured and self._adopt(built_with):
                _warn_once(f"The index '{self.name}' was built with the embedding model "
                           f"'{built_with}' and is read with it; the configured "
                           f"'{configured}' takes effect after `sourcechat reindex`.")
            elif built_with and built_with != self.model_name:
                raise IndexMismatchError(
                    f"The index '{self.collection_name}' was built with the embedding model "
                    f"'{built_with}', but '{self.model_name}' is configured: set "
                    f"SOURCECHAT_EMBEDDING_MODEL={built_with}, or run `sourcechat reindex` "
                    f"to rebuild it with '{self.model_name}'."
                )
            with self._cache_lock:
                if self.client is client:
                    self._collection = col
            return col
        return self._collection

    def chunk_vectors(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Each chunk's sentence vectors (rows in `chunk_sentences` order) by chunk id.

        A chunk id is a hash of its content, so its vectors never change: they are
        cached. Chunks written without vectors (or already gone) are left out.
        """
        with self._cache_lock:
            out = {i: self._vectors[i] for i in ids if i in self._vectors}
        missing = [i for i in dict.fromkeys(ids) if i not in out]
        if missing:
            got = self.collection.get(ids=missing, include=["uris"])
            fetched = {i: decode_vectors(uri) for i, uri in
                       zip(got["ids"], got["uris"] or [None] * len(got["ids"]), strict=True)
                       if uri}
            out.update(fetched)
            self._remember(fetched)
        return out

    def _remember(self, vectors: dict[str, np.ndarray]) -> None:
        with self._cache_lock:
            self._vectors.update(vectors)
            while len(self._vectors) > 20000:
                self._vectors.popitem(last=False)

    def vectors_of(self, passages: Sequence[Passage]) -> dict[str, np.ndarray]:
        """Sentence vectors of retrieved passages: stored ones, else encoded now (a chunk
        written without them) and cached."""
        sents = {p.id: chunk_sentences(p.text) for p in passages}
        out = {i: m for i, m in self.chunk_vectors(list(sents)).items()
               if len(m) == len(sents[i])}  # else split by an older sentence splitter
        encoded = {p.id: _embed(self._embeddings, [s.text for s in sents[p.id]])
                   for p in passages if p.id not in out}
        self._remember(encoded)
        return {**out, **encoded}

    def sentence_vectors(self, ids: list[str], sizes: dict[str, int] | None = None
                         ) -> dict[str, np.ndarray]:
        """Stored sentence vectors by sentence id (`chunk_id:j`); missing ids are left out,
        and so are a chunk's when it holds another number of sentences than `sizes` says
        (stored by an older sentence splitter: its rows are other sentences)."""
        owners = {i: i.rpartition(":") for i in ids}
        by_chunk = self.chunk_vectors([c for c, _, _ in owners.values()])
        out = {}
        for sid, (cid, _, j) in owners.items():
            mat = by_chunk.get(cid)
            if sizes is not None and mat is not None and len(mat) != sizes.get(cid, len(mat)):
                continue
            if mat is not None and j.isdigit() and int(j) < len(mat):
                out[sid] = mat[int(j)]
        return out

    def content_version(self) -> str:
        """A token that changes on every write and on a switch of generation (the keyword
        index follows it); follows a switch made elsewhere first."""
        return self.follow().get("content_version", NEVER_WRITTEN)

    def follow(self) -> dict:
        """Re-read which generation holds the chunks (a reindex elsewhere may have switched
        it) and move there; returns that collection's metadata ({} if none exists yet)."""
        named = self._metadata(self.name)
        if named is None:
            self._resolved = True
            return {}
        target = pointed_at(named, self.name)
        if target != self.collection_name or not self._resolved:
            self._switch(target)
        if target == self.name:
            return named
        return self._metadata(target) or {}

    def reopen(self, client) -> None:
        """Read through `client` from now on (a new copy of an index this process cannot
        write, its owner having changed it): its generation, collection and records are
        read again. A call under way finishes on the old client."""
        records = self.records_for(self.collection_name)  # first: it may fail, changing nothing
        with self._cache_lock:
            self.client = client
            self.records = records
            self._collection = None
            self._resolved = False  # the next use follows the pointer (a reindex) again

    def _metadata(self, name: str) -> dict | None:
        try:
            return dict(self.client.get_collection(name).metadata or {})
        except Exception as err:  # chromadb: NotFoundError (1.x), ValueError (older)
            if "not exist" in str(err).lower() or type(err).__name__ == "NotFoundError":
                return None
            raise

    def _switch(self, target: str) -> None:
        """Read from generation `target` from now on (its records, and its model)."""
        moved = target != self.collection_name
        observed = moved and self._resolved  # a switch made while this store was open
        with self._cache_lock:
            self.collection_name = target
            self._collection = None
            self._vectors.clear()
            if moved:
                self.records = self.records_for(target)
            self._resolved = True
        built_with = (self._metadata(target) or {}).get("embedding_model")
        if observed and built_with and built_with != self.model_name:
            self._adopt(built_with)

    def _adopt(self, model: str) -> bool:
        """Embed with `model` from now on, if the embeddings can switch models."""
        use = getattr(self._embeddings, "use", None)
        if use is None:
            return False
        use(model)
        self.model_name = model
        return True

    def never_written(self) -> bool:
        """Whether nothing was ever written to the collection (brand-new: not emptied).
        A collection from before versions were stamped counts as written if it holds
        chunks."""
        return self.count() == 0 and self.content_version() == NEVER_WRITTEN  # count: creates it

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
        for got in pages(self.collection, CHROMA_PAGE, include=["documents", "metadatas"]):
            ids.extend(got["ids"])
            texts.extend(got["documents"])
            sources.extend(m["source"] for m in got["metadatas"])
        return ids, texts, sources

    def count(self) -> int:
        """Number of chunks stored."""
        return self.collection.count()

    def ids_for_source(self, source: str) -> set[str]:
        """Ids of the chunks stored for one source."""
        return self.ids_for_sources([source])

    def ids_for_sources(self, sources: Sequence[str]) -> set[str]:
        """Ids of the chunks stored for these sources."""
        return {i for part in batches(list(sources), _FILTER_BATCH) for i in
                self.collection.get(where=_source_filter(part), include=[])["ids"]}

    @property
    def shared(self) -> bool:
        """Whether other processes, maybe on other hosts, write this collection too (a
        Chroma server): then a writer repairs and adopts only what its own runs wrote."""
        impl = str(self.client.get_settings().chroma_api_impl)
        return impl.rpartition(".")[2] == "FastAPI"

    def add_documents(self, documents: Sequence[Document], ids: Sequence[str] | None = None,
                      on_added: Callable[[int], None] | None = None, **_: object) -> list[str]:
        """Embed and upsert chunks with their sentences; same id -> replaced, not added.

        Each distinct sentence is embedded once (chunk overlaps repeat sentences); a
        chunk's vector is the normalized mean of its sentence vectors, and the sentence
        vectors are written in the same row, so sentence-level scoring costs no extra
        encoding and a crash never separates the two. `on_added(n)` reports progress.
        """
        chunks = list(documents)
        if not chunks:
            return []
        ids = list(ids) if ids is not None else [c.metadata["id"] for c in chunks]
        counts: list[int] = []  # sentences per chunk, in order
        rows: list[int] = []
        distinct: dict[str, int] = {}
        for chunk in chunks:
            sents = chunk_sentences(chunk.page_content)
            counts.append(len(sents))
            rows.extend(distinct.setdefault(s.text, len(distinct)) for s in sents)
        encoded = _embed(self._embeddings, list(distinct))
        vectors = encoded[np.asarray(rows)]
        per_chunk = np.split(vectors, np.cumsum(counts)[:-1])
        chunk_vectors = np.stack([m.sum(axis=0) for m in per_chunk])
        chunk_vectors /= np.maximum(np.linalg.norm(chunk_vectors, axis=1, keepdims=True), 1e-12)
        uris = [encode_vectors(m) for m in per_chunk]
        self.collection.upsert(
            ids=ids,
            embeddings=chunk_vectors,
            documents=[c.page_content for c in chunks],
            metadatas=[_to_chroma({**c.metadata, "id": i}) for c, i in zip(chunks, ids,
                                                                           strict=True)],
            uris=uris,
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

    def nearest_chunks(self, vector: Sequence[float], n: int,
                       sources: Sequence[str] | None = None) -> list[str]:
        """Ids of the `n` chunks whose (mean-of-sentences) vector is nearest, best first."""
        res = self.collection.query(  # Chroma caps n at what it holds
            query_embeddings=np.asarray(vector, dtype=np.float32).reshape(1, -1), n_results=n,
            where=_source_filter(sources),
            include=[])
        return list(res["ids"][0])

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Stored chunks as Documents, for the ids that exist."""
        got = self.collection.get(ids=list(ids), include=["documents", "metadatas"])
        return [Document(page_content=t, metadata=m, id=i)
                for i, t, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)]

    def all_ids(self) -> set[str]:
        """Every chunk id in the collection."""
        return set(self.id_list())

    def id_list(self) -> list[str]:
        """Every chunk id, in a stable order (ids alone read ~7x faster than with texts)."""
        return [i for got in pages(self.collection, CHROMA_PAGE, include=[]) for i in got["ids"]]

    def texts_of(self, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """(text, source) of the chunks with these ids that exist."""
        out: dict[str, tuple[str, str]] = {}
        for part in batches(list(ids), CHROMA_PAGE):
            got = self.collection.get(ids=part, include=["documents", "metadatas"])
            out.update((i, (t, m["source"])) for i, t, m in
                       zip(got["ids"], got["documents"], got["metadatas"], strict=True))
        return out

    def delete(self, ids: Sequence[str] | None = None, **_: object) -> bool:
        """Delete chunks (with their sentence vectors) by id; the caller updates the records."""
        ids = list(ids or [])
        if not ids:
            return True
        for part in batches(ids, CHROMA_PAGE):
            self.collection.delete(ids=part)
        self._bump_version()
        return True

    def sources(self) -> list[tuple[str, str, int]]:
        """(source, title, chunk count) for every indexed document, sorted by source."""
        counts: Counter[str] = Counter()
        titles: dict[str, str] = {}
        for got in pages(self.collection, CHROMA_PAGE, include=["metadatas"]):
            for meta in got["metadatas"]:
                counts[meta["source"]] += 1
                titles.setdefault(meta["source"], meta.get("title", ""))
        return [(s, titles[s], counts[s]) for s in sorted(counts)]

    def suspect_sources(self) -> dict[str, int]:
        """Passages holding instructions addressed to an AI assistant or the reader, per
        source (sorted); chunks written before they were marked are checked by their text."""
        counts: Counter[str] = Counter()
        unmarked: list[str] = []
        for got in pages(self.collection, CHROMA_PAGE, include=["metadatas"]):
            for i, meta in zip(got["ids"], got["metadatas"], strict=True):
                if "suspect" not in meta:
                    unmarked.append(i)
                elif meta["suspect"]:
                    counts[meta["source"]] += 1
        for text, source in self.texts_of(unmarked).values():
            if holds_instructions(text):
                counts[source] += 1
        return {s: counts[s] for s in sorted(counts)}

    def document(self, source: str) -> list[Passage]:
        """Every chunk of one document, in document order (page, then offset)."""
        got = self.collection.get(where={"source": source}, include=["documents", "metadatas"])
        passages = [Passage.from_document(Document(page_content=t, metadata=m), 0.0)
                    for t, m in zip(got["documents"], got["metadatas"], strict=True)]
        return sorted(passages, key=lambda p: (p.page or 0, p.start))

    def get(self, ids: Sequence[str]) -> list[Passage]:
        """Stored chunks by id (score 0), in the order asked."""
        got = self.collection.get(ids=list(ids), include=["documents", "metadatas"])
        by_id = {
            i: Passage.from_document(Document(page_content=t, metadata=m), 0.0)
            for i, t, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        }
        return [by_id[i] for i in ids if i in by_id]


_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _WARNED:
        _WARNED.add(message)
        log.warning(message)


def collection_names(client) -> set[str]:
    """Names of a client's collections (chromadb returns names or Collection objects)."""
    return {c if isinstance(c, str) else c.name for c in client.list_collections()}


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

