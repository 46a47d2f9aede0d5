"""`sourcechat reindex`: re-embed every chunk into a new generation, then switch to it.

Changing the embedding model no longer strands an index. The chunks (their text
and positions) are kept; only their vectors change, so nothing is read from the
original files (a file moved or deleted since is kept as it was indexed). The
old generation answers every question until the switch, which is one metadata
write (`index/generations.py`); the records are copied with the chunks, so the
next `ingest --sync` is incremental as before. The old generation is dropped
after the switch (after `grace` seconds, for readers in other processes that
may be mid-question); a reindex that dies midway leaves an unpointed generation
that the next reindex drops.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

from index.batching import CHROMA_PAGE, batches, pages
from index.generations import is_generation_of, new_generation, point
from index.maintenance import writer_session
from index.progress import stderr_progress
from index.store import HNSW, ChunkStore, collection_names

SWITCH_GRACE_S = 5.0  # on a shared Chroma server, readers elsewhere finish with the old one


@dataclass(frozen=True)
class ReindexReport:
    """What a reindex did."""

    chunks: int
    documents: int
    model: str
    previous_model: str
    generation: str
    seconds: float
    dropped: tuple[str, ...] = ()  # unfinished generations of earlier, interrupted runs

    def summary(self) -> str:
        """One line for people."""
        return (f"Reindexed {self.chunks} chunks of {self.documents} documents with "
                f"{self.model} (was {self.previous_model}) in {self.seconds:.1f} s; "
                "questions are answered from the new index now.")

    def to_dict(self) -> dict:
        """The report as JSON-ready data."""
        return {"chunks": self.chunks, "documents": self.documents, "model": self.model,
                "previous_model": self.previous_model, "generation": self.generation,
                "seconds": round(self.seconds, 2), "dropped": list(self.dropped)}


def reindex(store: ChunkStore, embeddings: Embeddings, model: str, *, batch_size: int,
            progress: bool = True, on_progress: Callable[[int, int], None] | None = None,
            grace: float = 0.0) -> ReindexReport:
    """Rebuild `store`'s chunks with `embeddings` (of `model`) in a new generation and
    switch to it; `store` follows at once. `on_progress(done, total)` counts chunks."""
    began = time.perf_counter()
    with writer_session(store, loud=progress):
        old, old_records, previous = store.collection_name, store.records, store.model_name
        dropped = drop_unfinished(store)
        name = new_generation(store.name)
        target = ChunkStore(store.client, name, embeddings, model,
                            records=store.records_for(name), records_for=store.records_for)
        total, done, sources = store.count(), 0, set()
        bar = stderr_progress() if progress else None
        with bar or nullcontext():
            task = bar.add_task("Re-embedding chunks", total=total) if bar else None
            for got in pages(store.collection, CHROMA_PAGE, include=["documents", "metadatas"]):
                docs = [Document(page_content=t, metadata=m)
                        for t, m in zip(got["documents"], got["metadatas"], strict=True)]
                sources.update(m["source"] for m in got["metadatas"])
                for part_ids, part in zip(batches(got["ids"], batch_size),
                                          batches(docs, batch_size), strict=True):
                    target.add_documents(part, ids=part_ids)
                    done += len(part)
                    if bar:
                        bar.advance(task, len(part))
                    if on_progress:
                        on_progress(done, total)
        old_records.copy_to(target.records)
        point(store.client, store.name, target.collection_name, HNSW)
    store.follow()
    if grace:
        time.sleep(grace)
    retire(store, old, old_records)
    return ReindexReport(done, len(sources), model, previous, target.collection_name,
                         time.perf_counter() - began, tuple(dropped))


def drop_unfinished(store: ChunkStore) -> list[str]:
    """Drop generations of `store.name` nobody points at (left by a reindex that died)."""
    dropped = sorted(n for n in collection_names(store.client)
                     if is_generation_of(n, store.name) and n != store.collection_name)
    for name in dropped:
        store.client.delete_collection(name)
        store.records_for(name).drop()
    return dropped


def retire(store: ChunkStore, old: str, old_records) -> None:
    """Drop a generation no longer pointed at: the collection (or, for the named
    collection, which keeps the pointer, its chunks) and its records."""
    if old == store.collection_name:
        return
    if old == store.name:
        col = store.client.get_collection(old)
        ids = [i for got in pages(col, CHROMA_PAGE, include=[]) for i in got["ids"]]
        for part in batches(ids, CHROMA_PAGE):
            col.delete(ids=part)
    else:
        store.client.delete_collection(old)
    old_records.drop()
