"""The two bounded-piece helpers: slices of a list, pages of a Chroma collection."""

from __future__ import annotations

from index.batching import batches, pages


class _FakeCollection:
    """A collection's `get(limit, offset, include)` over a list of ids, recording calls."""

    def __init__(self, n: int):
        self.ids = [f"c{i}" for i in range(n)]
        self.calls: list[tuple[int, int, list[str]]] = []

    def get(self, *, limit: int, offset: int, include: list[str]) -> dict:
        self.calls.append((limit, offset, include))
        return {"ids": self.ids[offset:offset + limit]}


def test_batches_cover_the_sequence_in_order_with_a_short_last_slice():
    assert list(batches(list(range(7)), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batches(list(range(6)), 3)) == [[0, 1, 2], [3, 4, 5]]
    assert list(batches([], 3)) == []
    assert list(batches("abcde", 2)) == ["ab", "cd", "e"]


def test_pages_read_every_row_once_over_several_pages():
    col = _FakeCollection(7)
    got = list(pages(col, 3, include=["metadatas"]))
    assert [g["ids"] for g in got] == [["c0", "c1", "c2"], ["c3", "c4", "c5"], ["c6"]]
    assert col.calls == [(3, 0, ["metadatas"]), (3, 3, ["metadatas"]), (3, 6, ["metadatas"])]


def test_pages_of_an_exact_multiple_end_with_an_empty_page():
    col = _FakeCollection(6)
    assert [g["ids"] for g in pages(col, 3, include=[])] == [
        ["c0", "c1", "c2"], ["c3", "c4", "c5"], []]
    assert [offset for _, offset, _ in col.calls] == [0, 3, 6]
    empty = _FakeCollection(0)
    assert [g["ids"] for g in pages(empty, 3, include=[])] == [[]]
