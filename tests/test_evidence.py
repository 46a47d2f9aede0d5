"""The evidence scorer's sentence-vector cache under the web chat's threads (fast: fake
embeddings)."""

from __future__ import annotations

import sys
import threading

from langchain_core.embeddings import DeterministicFakeEmbedding

from assistant.evidence import EvidenceScorer
from index import Passage

WEIGHTS = (1.0, 0.236, 0.108)


def _passage(n: int) -> Passage:
    text = " ".join(f"Sentence {n}-{j} tells about topic {j}." for j in range(6))
    return Passage(text=text, source=f"/docs/{n}.txt", page=None, start=0, end=len(text),
                   score=1.0, id=f"chunk-{n}")


def test_the_cache_is_cleared_while_other_threads_read_it():
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    scorer = EvidenceScorer(DeterministicFakeEmbedding(size=8), gate_weights=WEIGHTS)
    stop = threading.Event()
    errors: list[BaseException] = []
    scored = []

    def read(offset: int):
        try:
            for n in range(offset, offset + 300):  # new sentences each time: embedded, cached
                scored.append(len(scorer.evidence("Which topic?", [_passage(n)])))
        except BaseException as err:
            errors.append(err)

    def clear():
        while not stop.is_set():
            scorer._cache.clear()  # what a full cache does, from another user's thread

    clearer = threading.Thread(target=clear)
    readers = [threading.Thread(target=read, args=(i * 1000,)) for i in range(4)]
    try:
        clearer.start()
        for t in readers:
            t.start()
        for t in readers:
            t.join()
    finally:
        stop.set()
        clearer.join()
        sys.setswitchinterval(interval)
    assert errors == []
    assert scored == [6] * 1200


def test_a_full_cache_starts_over_and_still_scores(monkeypatch):
    monkeypatch.setattr(EvidenceScorer, "cache_limit", 10)
    scorer = EvidenceScorer(DeterministicFakeEmbedding(size=8), gate_weights=WEIGHTS)
    first = scorer.evidence("Which topic?", [_passage(1)])
    for n in range(2, 6):
        scorer.evidence("Which topic?", [_passage(n)])
    assert len(scorer._cache) <= 10
    assert scorer.evidence("Which topic?", [_passage(1)]) == first
