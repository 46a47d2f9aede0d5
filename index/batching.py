"""Reading and writing in bounded pieces: slices of a list, pages of a Chroma collection.

Chroma and SQLite both cap what one call may carry (rows per `get`, bound
parameters per statement); every caller that may exceed a cap goes through
these two helpers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

CHROMA_PAGE = 5000  # rows per chromadb get(), update() or delete() call


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of `items`, each at most `size` long (none for an empty sequence)."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def pages(collection, size: int, **query) -> Iterator[dict]:
    """Every row of a Chroma collection, as successive `get(limit=size, offset=...)` results.

    `query` is passed to each `get` (e.g. `include=[...]`); the last page is the first
    one shorter than `size` (it may be empty).
    """
    offset = 0
    while True:
        got = collection.get(limit=size, offset=offset, **query)
        yield got
        if len(got["ids"]) < size:
            return
        offset += size
