"""Upgrading an index written in an older layout, in place and without re-embedding.

Layout 1 kept sentence vectors in a companion collection (`<name>.sentences`,
one row per sentence); layout 2 keeps them in their chunk's row
(`index/vectors.py`). Ingest upgrades before it writes (`adopt`).
"""

from __future__ import annotations

import numpy as np

from index.batching import CHROMA_PAGE, batches
from index.store import ChunkStore, collection_names
from index.vectors import chunk_sentences, encode_vectors, sentence_id

_LEGACY = ".sentences"  # layout 1: sentence vectors in a companion collection


def upgrade_layout(store: ChunkStore) -> int:
    """Move sentence vectors from a layout-1 companion collection into their chunks' rows
    (no re-embedding), then drop that collection; returns the chunks upgraded."""
    legacy_name = store.collection_name + _LEGACY
    if legacy_name not in collection_names(store.client):
        return 0
    legacy = store.client.get_collection(legacy_name)
    all_ids, texts, _ = store.all_texts()
    upgraded = 0
    for part_ids, part_texts in zip(batches(all_ids, CHROMA_PAGE), batches(texts, CHROMA_PAGE),
                                    strict=True):
        wanted = {i: [sentence_id(i, j) for j in range(len(chunk_sentences(t)))]
                  for i, t in zip(part_ids, part_texts, strict=True)}
        flat = [sid for sids in wanted.values() for sid in sids]
        stored: dict[str, np.ndarray] = {}
        for sids in batches(flat, CHROMA_PAGE):
            got = legacy.get(ids=sids, include=["embeddings"])
            stored.update(zip(got["ids"], got["embeddings"], strict=True))
        ids, uris = [], []
        for cid, sids in wanted.items():
            if sids and all(sid in stored for sid in sids):  # else: scored by re-encoding
                ids.append(cid)
                uris.append(encode_vectors(np.stack([stored[sid] for sid in sids])))
        if ids:
            store.collection.update(ids=ids, uris=uris)
            upgraded += len(ids)
    store.client.delete_collection(legacy_name)
    return upgraded
