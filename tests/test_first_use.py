"""The sample corpus goes into a brand-new index only (fakes, fast): an index the user
emptied stays empty and says so; a question never writes to a shared collection; the
check costs no round trip after the first question."""

from __future__ import annotations

import pytest

from assistant import Assistant
from assistant.prompts import prompt
from corpus import SAMPLE_DIR
from index import ChunkStore
from tests.fakes import fake_assistant

QUESTION = "How many people migrated from Japan to North Korea?"


def make(tmp_path) -> Assistant:
    return fake_assistant(tmp_path)


def sample_sources() -> set[str]:
    return {str(p.resolve()) for p in SAMPLE_DIR.iterdir() if p.is_file()}


def test_a_brand_new_index_gets_the_sample_on_its_first_question(tmp_path):
    a = make(tmp_path)
    assert a.ask(QUESTION).citations
    assert {s for s, _, _ in a.sources()} == sample_sources()


def test_an_index_the_user_emptied_stays_empty_and_says_so(tmp_path):
    a = make(tmp_path)
    doc = tmp_path / "mine.txt"
    doc.write_text("Kiwis grow on vines in New Zealand. A vine yields 25 kilograms of fruit.")
    a.ingest([str(doc)], progress=False)
    a.remove("mine.txt")
    for ask in (a.ask, make(tmp_path).ask):  # this process, and a new one
        answer = ask(QUESTION)
        assert not answer.found and answer.text == prompt("empty")
        assert a.sources() == []
    assert make(tmp_path).retrieve(QUESTION) == []
    summary = make(tmp_path).ask("Summarize my documents.")
    assert summary.text == prompt("empty") and a.store.count() == 0


def test_a_shared_collection_someone_emptied_is_not_refilled(tmp_path, monkeypatch):
    """On a Chroma server, the first question of every other process (a web chat, a
    read-only `ask`) finds the collection used: nothing is written into it."""
    monkeypatch.setattr(ChunkStore, "shared", property(lambda self: True))
    a = make(tmp_path)
    a.ensure_indexed()  # a brand-new collection: the sample
    assert {s for s, _, _ in a.sources()} == sample_sources()
    for source in sample_sources():
        a.remove(source)
    other = make(tmp_path)
    assert other.ask(QUESTION).text == prompt("empty")
    assert other.store.count() == 0


def test_after_the_first_question_no_round_trip_checks_the_index(tmp_path, monkeypatch):
    a = make(tmp_path)
    a.ask(QUESTION)
    calls = []
    for name in ("count", "content_version"):
        original = getattr(a.store, name)
        monkeypatch.setattr(a.store, name, lambda f=original, n=name: calls.append(n) or f())
    monkeypatch.setattr(a.retriever, "keyword", None)  # it follows the collection's version
    for _ in range(3):
        assert a.ask(QUESTION).found
        a.retrieve(QUESTION)
    assert calls == []


@pytest.mark.parametrize("removed_first", [False, True])
def test_serve_seeds_only_a_new_index(tmp_path, removed_first):
    a = make(tmp_path)
    if removed_first:
        a.ensure_indexed()
        for source in list(sample_sources()):
            a.remove(source)
    make(tmp_path).ensure_indexed()
    assert (a.store.count() == 0) is removed_first


def test_a_document_question_lists_the_documents_once(tmp_path, monkeypatch):
    a = make(tmp_path)
    a.ask(QUESTION)
    calls = []
    original = a.store.sources
    monkeypatch.setattr(a.store, "sources", lambda: calls.append(1) or original())
    name = next(iter(sample_sources())).rpartition("/")[2]
    answer = a.ask("Summarize the document.", sources=[name])
    assert answer.found and answer.scope == (next(iter(sample_sources())),)
    assert len(calls) == 1  # resolving the name and answering share one listing
