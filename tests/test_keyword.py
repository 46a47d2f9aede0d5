"""The BM25 index follows Chroma: same ids after adds and removes, across processes."""

from __future__ import annotations

import threading
import time

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding

from assistant.settings import Settings
from index import ChunkStore, KeywordIndex, PassageRetriever, index_documents, remove_sources
from index.keyword import TOKENIZER, tokenize
from index.migrate import upgrade_layout
from index.vectors import chunk_sentences, sentence_id
from tests.stores import client_for

_DEFAULTS = Settings.model_fields  # the defaults' one home
SIZES = {f: _DEFAULTS[f].default for f in ("chunk_size", "chunk_overlap", "batch_size")}
FUSION = {f: _DEFAULTS[f].default for f in ("dense_weight", "keyword_weight", "exact_identifiers")}


def _store(path, name="kwtest"):
    client = client_for(path)
    return ChunkStore(client, name, DeterministicFakeEmbedding(size=8), "fake")


def _doc(source, text):
    return Document(page_content=text, metadata={"source": source, "title": source,
                                                 "page": None})


def test_keyword_index_stays_in_step_with_the_store(tmp_path):
    store = _store(tmp_path)
    kw = KeywordIndex(store, tmp_path / "kw")
    index_documents([_doc("a", "Zorblat festival in March."), _doc("b", "Quokkas on Rottnest.")],
                    store, **SIZES)
    assert kw.count() == store.count() == 2
    hits = kw.search("When is the Zorblat festival?", 5)
    assert [store.get([i])[0].source for i, _ in hits] == ["a"]
    assert {i for i, _ in kw.search("zorblat quokkas", 5)} == set(store.all_texts()[0])

    remove_sources(store, ["a"])
    assert kw.search("Zorblat", 5) == []
    assert kw.count() == 1
    # a second process (a fresh object) loads the saved index of the same version
    other = KeywordIndex(_store(tmp_path), tmp_path / "kw")
    assert other.count() == 1
    saved = [f"t{TOKENIZER}-v-{store.content_version()}"]
    assert [p.name for p in (tmp_path / "kw").iterdir()] == saved


def test_searches_during_a_rebuild_use_the_previous_version_not_a_queue(tmp_path):
    store = _store(tmp_path)
    kw = KeywordIndex(store, None)
    index_documents([_doc("a", "The Zorblat festival is in March.")], store, **SIZES)
    assert len(kw.search("zorblat", 5)) == 1
    index_documents([_doc("b", "A second Zorblat festival is in May.")], store, **SIZES)
    kw._lock.acquire()  # another caller is rebuilding for the new version
    try:
        got = []  # answers without waiting for that rebuild, from what it had
        searcher = threading.Thread(target=lambda: got.append(kw.search("zorblat", 5)))
        searcher.start()
        searcher.join(60)  # a deadlock guard, not a speed limit
        assert not searcher.is_alive(), "the search queued behind the rebuild"
        stale = got[0]
    finally:
        kw._lock.release()
    assert [store.get([i])[0].source for i, _ in stale] == ["a"]
    assert {store.get([i])[0].source for i, _ in kw.search("zorblat", 5)} == {"a", "b"}

    empty = KeywordIndex(store, None)  # nothing to fall back on: it waits for the index
    assert {store.get([i])[0].source for i, _ in empty.search("zorblat", 5)} == {"a", "b"}


def test_a_followed_index_catches_up_by_itself(tmp_path):
    store = _store(tmp_path)
    kw = KeywordIndex(store, None)
    index_documents([_doc("a", "The Zorblat festival is in March.")], store, **SIZES)
    kw.follow(every=0.05)
    try:
        assert len(kw.search("zorblat", 5)) == 1
        index_documents([_doc("b", "A second Zorblat festival is in May.")], store, **SIZES)
        for _ in range(1200):  # the follower rebuilds; no search waits for it
            if len(kw.search("zorblat", 5)) == 2:
                break
            time.sleep(0.05)
        assert {store.get([i])[0].source for i, _ in kw.search("zorblat", 5)} == {"a", "b"}
    finally:
        kw.stop_following()


def test_a_rebuild_tokenizes_only_new_chunks_and_scores_as_a_full_build(tmp_path,
                                                                       monkeypatch):
    from index import keyword as keyword_module

    store = _store(tmp_path)
    kw = KeywordIndex(store, tmp_path / "kw")
    index_documents([_doc(f"s{i}", f"Zorblat note {i} on quokkas, festival {i}.")
                     for i in range(20)], store, **SIZES)
    kw.refresh()
    seen: list[str] = []
    real = keyword_module.tokenize
    monkeypatch.setattr(keyword_module, "tokenize", lambda text: seen.append(text) or real(text))
    index_documents([_doc("new", "A new Zorblat text with wombats.")], store, **SIZES)
    remove_sources(store, ["s3"])
    query = "zorblat wombats festival 7 3"
    got = kw.search(query, 30)
    assert [t for t in seen if t != query] == ["A new Zorblat text with wombats."]
    scratch = KeywordIndex(store, None)  # built from nothing
    full = scratch.search(query, 30)
    assert [i for i, _ in got] == [i for i, _ in full] and len(got) == 20
    assert np.allclose([s for _, s in got], [s for _, s in full])
    for word in ("zorblat", "wombats", "festival", "3", "unseen"):
        term = (tokenize(word) or [word])[0]
        assert kw.idf(term) == scratch.idf(term)

    seen.clear()  # a new process starts from the index the last one saved
    index_documents([_doc("newer", "Wombats again.")], store, **SIZES)
    other = KeywordIndex(store, tmp_path / "kw")
    assert other.count() == 21 and seen == ["Wombats again."]


def test_an_index_saved_by_another_tokenizer_is_rebuilt_not_loaded(tmp_path, monkeypatch):
    from index import keyword as keyword_module

    store = _store(tmp_path)
    index_documents([_doc("a", "Ticket #1377 failed with E1370."),
                     _doc("b", "Ticket #1412 failed with E1377.")], store, **SIZES)
    KeywordIndex(store, tmp_path / "kw").refresh()
    version = store.content_version()
    old = tmp_path / "kw" / f"v-{version}"  # where a release before the stamp saved it
    (tmp_path / "kw" / f"t{TOKENIZER}-v-{version}").rename(old)
    seen: list[str] = []
    real = keyword_module.tokenize
    monkeypatch.setattr(keyword_module, "tokenize", lambda text: seen.append(text) or real(text))
    fresh = KeywordIndex(store, tmp_path / "kw")
    assert fresh.count() == 2 and len(seen) == 2  # every chunk tokenized again
    assert [p.name for p in (tmp_path / "kw").iterdir()] == [f"t{TOKENIZER}-v-{version}"]
    assert [store.get([i])[0].source for i, _ in fresh.search("E1377", 5)] == ["b"]


def test_an_identifier_is_one_term_its_near_misses_share_nothing(tmp_path):
    store = _store(tmp_path)
    kw = KeywordIndex(store, None)
    index_documents([_doc("a", "Ticket #1377 failed with error E1370."),
                     _doc("b", "Ticket #1412 failed with error E1377."),
                     _doc("c", "Invoice INV-2023-0041 is paid; SKU 88-1927 shipped.")], store,
                    **SIZES)
    sources = lambda query: [store.get([i])[0].source for i, _ in kw.search(query, 5)]  # noqa: E731
    assert sources("E1377") == ["b"]  # not ticket #1377 through "1377", nor E1370 through "e"
    assert sources("ticket 1377") == ["a", "b"]
    assert sources("INV-2023-0042") == ["c"]  # its pieces (inv, 2023) still meet
    assert kw.unknown("Which ticket had E9999 or INV-2023-0042?") == ["E9999", "INV-2023-0042"]
    assert kw.unknown("Which ticket had E1377?") == []


def test_source_filter_and_unknown_terms(tmp_path):
    store = _store(tmp_path)
    kw = KeywordIndex(store, tmp_path / "kw")
    index_documents([_doc("a", "apples and pears"), _doc("b", "apples and plums")], store, **SIZES)
    only_b = kw.search("apples", 5, sources=["b"])
    assert [store.get([i])[0].source for i, _ in only_b] == ["b"]
    assert kw.search("bananas", 5) == []
    assert kw.search("apples", 5, sources=["nope"]) == []
    bananas, pears, apples = (tokenize(w)[0] for w in ("bananas", "pears", "apples"))
    assert kw.idf(bananas) > kw.idf(pears) > kw.idf(apples)


def test_hybrid_retriever_finds_exact_terms_and_scales_scores(tmp_path):
    store = _store(tmp_path)
    kw = KeywordIndex(store, tmp_path / "kw")
    docs = [_doc(f"d{i}", f"Filler text number {i} about nothing.") for i in range(20)]
    docs.append(_doc("target", "The serial code XK-7731 is printed on the box."))
    index_documents(docs, store, **SIZES)
    # fake embeddings are noise in [-1, 1]: give BM25 the larger weight here
    r = PassageRetriever(store=store, keyword=kw, k=3, **{**FUSION, "keyword_weight": 2.5})
    passages = r.search("Where is XK-7731 printed?")
    assert passages[0].source == "target"
    assert all(0 < p.score <= 1 for p in passages)
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
    assert r.search("XK-7731", sources=["d1"])[0].source == "d1"


def test_chunks_holding_the_questions_identifier_rank_first(tmp_path):
    store = _store(tmp_path)
    kw = KeywordIndex(store, tmp_path / "kw")
    docs = [_doc(f"near{c}", f"Which ticket had error code E{c}? Ticket {c}: error code E{c}, "
                 "the same error code again.") for c in (1370, 1376, 1378)]
    docs += [_doc("exact", "Ticket 1412 (E1377) was closed."),
             _doc("both", "Tickets E1377 and INV-2023-0042 were merged.")]
    index_documents(docs, store, **SIZES)
    question = "Which ticket had error code E1377?"
    plain = PassageRetriever(store=store, keyword=kw, k=5,
                             **{**FUSION, "exact_identifiers": False})
    assert plain.search(question)[0].source.startswith("near")  # the near-miss wins on words
    r = PassageRetriever(store=store, keyword=kw, k=5, **FUSION)
    assert {p.source for p in r.search(question)[:2]} == {"exact", "both"}
    assert r.search("error E1377 of INV-2023-0042")[0].source == "both"  # holds both
    assert r.search(question, sources=["near1370", "exact"])[0].source == "exact"
    assert r.search(question, sources=["near1370"])[0].source == "near1370"
    # found even when no search lists it: dense only, 4 candidates of 13 chunks
    index_documents([_doc(f"other{i}", f"Ticket {i}: error code E{i}.") for i in range(8)],
                    store, **SIZES)
    r = PassageRetriever(store=store, keyword=kw, k=1, candidates=1, dense_factor=1,
                         **{**FUSION, "keyword_weight": 0.0})
    assert {r.search(question)[0].source for question in (
        "E1377", "error E1377", "ticket E1377", "code E1377?")} <= {"exact", "both"}


def test_sentence_vectors_are_stored_under_each_chunks_own_sentence_index(tmp_path):
    store = _store(tmp_path)
    docs = [_doc("a", "First one. Second one."), _doc("b", "Third one. Fourth one. Fifth.")]
    index_documents(docs, store, **SIZES)  # one batch: both chunks' sentences embedded together
    emb = store.embeddings
    for cid, text in zip(*store.all_texts()[:2], strict=True):
        sents = chunk_sentences(text)
        got = store.sentence_vectors([sentence_id(cid, j) for j in range(len(sents))])
        assert len(got) == len(sents)
        for j, s in enumerate(sents):
            # stored as float16 in the chunk's own row
            assert np.allclose(got[sentence_id(cid, j)], emb.embed_query(s.text), rtol=2e-3,
                               atol=2e-3)
    assert store.sentence_vectors([sentence_id(cid, 99), "no-such-chunk:0"]) == {}


def test_an_older_layout_is_upgraded_in_place_without_re_embedding(tmp_path):
    """Layout 1 kept sentence vectors in a companion collection: the first write moves them
    into their chunks' rows (the very same vectors) and drops it; until then, retrieval
    encodes the sentences it needs, and answers the same."""
    store = _store(tmp_path)
    kw = KeywordIndex(store, tmp_path / "kw")
    index_documents([_doc("a", "Zorblat festival in March. It is loud."),
                     _doc("b", "Quokkas live on Rottnest. They smile.")], store, **SIZES)
    ids = store.all_texts()[0]
    want = {cid: store.chunk_vectors([cid])[cid] for cid in ids}
    r = PassageRetriever(store=store, keyword=kw, k=2, **FUSION)
    before = [(p.id, p.score) for p in r.search("When is the festival?")]
    # rewrite it as layout 1: no vectors in the rows, a companion collection holds them
    legacy = store.client.get_or_create_collection("kwtest.sentences", embedding_function=None)
    for cid in ids:
        legacy.add(ids=[sentence_id(cid, j) for j in range(len(want[cid]))],
                   embeddings=want[cid], metadatas=[{"chunk_id": cid}] * len(want[cid]))
    store.collection.update(ids=ids, uris=[""] * len(ids))
    old = _store(tmp_path)  # a fresh process opens it
    assert old.chunk_vectors(ids) == {}
    old_r = PassageRetriever(store=old, keyword=KeywordIndex(old, tmp_path / "kw"), k=2,
                             **FUSION)
    assert [p.id for p in old_r.search("When is the festival?")] == [i for i, _ in before]

    assert upgrade_layout(old) == 2
    assert "kwtest.sentences" not in {c.name for c in old.client.list_collections()}
    fresh = _store(tmp_path)
    got = fresh.chunk_vectors(ids)
    assert set(got) == set(ids)
    for cid in ids:
        assert np.allclose(got[cid], want[cid], rtol=2e-3, atol=2e-3)
    assert upgrade_layout(fresh) == 0


def test_searches_score_exactly_as_bm25s(tmp_path):
    """A search sums the saved score matrix itself, so answering never imports bm25s
    (nor scipy; tests/test_startup.py checks): the very same float32 scores as bm25s's
    `get_scores`, with repeated terms and a source filter too."""
    import json
    from pathlib import Path

    import bm25s

    squad = json.loads((Path(__file__).parent / "data" / "squad-dev-public.json").read_text())
    paragraphs = [p for article in squad["data"] for p in article["paragraphs"]][:150]
    store = _store(tmp_path)
    index_documents([_doc(f"s{i % 5}", p["context"]) for i, p in enumerate(paragraphs)], store,
                    **SIZES)
    KeywordIndex(store, tmp_path / "kw").refresh()
    loaded = KeywordIndex(store, tmp_path / "kw")  # a new process: from the saved index
    snap = loaded._sync(wait=True)
    assert snap.ids and snap.matrix.chunks == len(snap.ids)
    reference = bm25s.BM25()
    reference.index(([snap.terms[i][1].tolist() for i in snap.ids], dict(snap.vocab)),
                    show_progress=False)
    questions = [q["question"] for p in paragraphs for q in p["qas"]][:300]
    questions += ["Normans Normans Normandy", "the of and"]
    mask = np.isin(snap.sources, ["s1", "s3"]).astype(np.float32)
    compared = 0
    for question in questions:
        terms = [t for t in tokenize(question) if t in snap.df]
        if not terms:
            continue
        ours = snap.matrix.scores([snap.vocab[t] for t in terms])
        assert np.array_equal(ours, reference.get_scores(terms))
        assert np.array_equal(ours * mask, reference.get_scores(terms, weight_mask=mask))
        compared += 1
    assert compared > 250
    hits = loaded.search(questions[0], 10)
    want = reference.get_scores([t for t in tokenize(questions[0]) if t in snap.df])
    assert [s for _, s in hits] == sorted((float(s) for s in want if s > 0), reverse=True)[:10]
