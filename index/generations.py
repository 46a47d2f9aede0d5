"""Generations of a collection: `sourcechat reindex` builds a new one and switches to it.

The collection name people configure (`--collection`) is a pointer. The Chroma
collection of that name either holds the chunks itself (an index never
reindexed) or names, in its metadata, the generation that does
(`<name>-gen-<hex>`). Readers re-read the pointer before each question (the
store does, in `follow`); a reindex fills a new generation while the old one
keeps answering, then switches with one metadata write, so a reader sees the
old index or the new one, never a mix. A reindex that dies midway leaves an
unfinished generation nobody points at: the next reindex drops it.
"""

from __future__ import annotations

import uuid

POINTER = "active_generation"  # key in the named collection's metadata
_INFIX = "-gen-"


def new_generation(name: str) -> str:
    """A fresh Chroma name for a generation of `name`."""
    return f"{name}{_INFIX}{uuid.uuid4().hex[:8]}"


def is_generation_of(candidate: str, name: str) -> bool:
    """Whether a collection name is one of `name`'s generations."""
    return candidate.startswith(f"{name}{_INFIX}")


def pointed_at(metadata: dict | None, name: str) -> str:
    """The collection that holds `name`'s chunks, from the named collection's metadata."""
    return (metadata or {}).get(POINTER) or name


def point(client, name: str, generation: str, configuration: dict) -> None:
    """Switch `name` to `generation` (one metadata write: readers see old or new)."""
    col = client.get_or_create_collection(name, configuration=configuration,
                                          embedding_function=None)
    meta = dict(col.metadata or {})
    meta[POINTER] = generation
    col.modify(metadata=meta)
