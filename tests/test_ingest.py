"""Ingest bookkeeping with a real Chroma and real records (fake embeddings): incremental runs,
changed/vanished/duplicate files, repair after a crash at each step, bad files keep old data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from corpus import chunk_documents, load_file
from index import ChunkStore, IndexRecords, KeywordIndex, check, ingest, remove_sources
from index.maintenance import writer_session
from tests import stores
from tests.stores import client_for

CHUNKING = {"chunk_size": 300, "chunk_overlap": 50}
OPTS = {**CHUNKING, "batch_size": 8, "max_file_mb": 100, "progress": False}


class CountingEmbedding(DeterministicFakeEmbedding):
    """Deterministic fake vectors, counting every text embedded."""

    embedded: int = 0

    def embed_documents(self, texts):
        self.embedded += len(texts)
        return super().embed_documents(texts)


def _store(tmp_path, name="ingtest"):
    client = client_for(tmp_path)
    records = IndexRecords(tmp_path / "records.sqlite3", name)
    return ChunkStore(client, name, CountingEmbedding(size=16), "fake", records=records)


def _folder(tmp_path, n=6):
    docs = tmp_path / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (docs / f"note {i}.txt").write_text(
            " ".join(f"Note {i} sentence {j} mentions the word kiwi{i}x{j}." for j in range(25)))
    return docs


def _ids_by_source(store):
    out: dict[str, set[str]] = {}
    for cid, _, source in zip(*store.all_texts(), strict=True):
        out.setdefault(source, set()).add(cid)
    return out


def _expected_ids(path):
    return {c.metadata["id"] for c in chunk_documents(load_file(path), **CHUNKING)}


def test_second_run_on_an_unchanged_folder_embeds_nothing(tmp_path):
    docs = _folder(tmp_path)
    store = _store(tmp_path)
    first = ingest([docs], store, **OPTS)
    assert len(first.indexed) == 6 and first.chunks_added == store.count() > 6
    embedded = store.embeddings.embedded
    second = ingest([docs], store, **OPTS)
    assert second.indexed == [] and len(second.unchanged) == 6
    assert second.chunks_added == second.chunks_removed == 0
    assert store.embeddings.embedded == embedded  # not one text embedded
    # touched (new mtime, same bytes): read and hashed, still nothing embedded
    os.utime(docs / "note 0.txt", ns=(1, 1))
    third = ingest([docs], store, **OPTS)
    assert len(third.unchanged) == 6 and store.embeddings.embedded == embedded
    assert check(store, KeywordIndex(store, None))["consistent"]


def test_a_changed_file_has_its_old_chunks_replaced(tmp_path):
    docs = _folder(tmp_path)
    store = _store(tmp_path)
    ingest([docs], store, **OPTS)
    before = _ids_by_source(store)
    target = docs / "note 2.txt"
    target.write_text(target.read_text() + " A new closing sentence about papayas.")
    report = ingest([docs], store, **OPTS)
    assert report.indexed == [str(target.resolve())]
    after = _ids_by_source(store)
    assert after[str(target.resolve())] == _expected_ids(target.resolve())
    assert report.chunks_removed == len(before[str(target.resolve())] - after[
        str(target.resolve())]) >= 1
    assert {s: i for s, i in after.items() if "note 2" not in s} == {
        s: i for s, i in before.items() if "note 2" not in s}
    assert check(store)["consistent"]


def test_sync_removes_files_that_disappeared_and_only_with_sync(tmp_path):
    docs = _folder(tmp_path)
    other = tmp_path / "other.txt"
    other.write_text("The other file is outside the synced folder. It stays.")
    store = _store(tmp_path)
    ingest([docs, other], store, **OPTS)
    (docs / "note 1.txt").unlink()
    kept = ingest([docs], store, **OPTS)
    assert kept.removed == [] and str((docs / "note 1.txt").resolve()) in _ids_by_source(store)
    synced = ingest([docs], store, **{**OPTS, "sync": True})
    assert synced.removed == [str((docs / "note 1.txt").resolve())]
    sources = set(_ids_by_source(store))
    assert str((docs / "note 1.txt").resolve()) not in sources
    assert str(other.resolve()) in sources and len(sources) == 6
    assert check(store)["consistent"]


def test_duplicate_files_are_indexed_once(tmp_path):
    docs = _folder(tmp_path, n=2)
    (docs / "copy.txt").write_bytes((docs / "note 0.txt").read_bytes())
    store = _store(tmp_path)
    report = ingest([docs], store, **OPTS)
    assert report.duplicates == [(str((docs / "note 0.txt").resolve()),
                                  str((docs / "copy.txt").resolve()))]
    assert len(_ids_by_source(store)) == 2
    # once the copy is gone (and synced), the original is indexed
    (docs / "copy.txt").unlink()
    report = ingest([docs], store, **{**OPTS, "sync": True})
    assert str((docs / "note 0.txt").resolve()) in report.indexed
    assert sorted(_ids_by_source(store)) == sorted(str(p.resolve()) for p in docs.iterdir())


def test_a_bad_version_of_an_indexed_file_keeps_the_old_chunks(tmp_path):
    docs = _folder(tmp_path, n=2)
    store = _store(tmp_path)
    ingest([docs], store, **OPTS)
    before = _ids_by_source(store)
    (docs / "note 1.txt").write_bytes(b"\x00\x01binary\x00" * 100)
    big = docs / "big.txt"
    big.write_bytes(b"x" * (2 * 2**20))
    report = ingest([docs], store, **{**OPTS, "max_file_mb": 1})
    reasons = {e.path: e.reason for e in report.errors}
    assert "binary" in reasons[str((docs / "note 1.txt").resolve())]
    assert "indexed passage(s) are kept" in reasons[str((docs / "note 1.txt").resolve())]
    assert reasons[str(big.resolve())].startswith("too large (2.0 MB; the limit is 1 MB")
    assert _ids_by_source(store) == before


def test_remove_sources_deletes_chunks_sentences_and_records(tmp_path):
    docs = _folder(tmp_path, n=3)
    store = _store(tmp_path)
    ingest([docs], store, **OPTS)
    gone = str((docs / "note 0.txt").resolve())
    n = len(_ids_by_source(store)[gone])
    assert remove_sources(store, [gone]) == n
    assert gone not in _ids_by_source(store)
    assert store.records.file(gone) is None and not store.records.list_keys(group_ids=[gone])
    assert check(store)["consistent"]
    assert len(ingest([docs], store, **OPTS).indexed) == 1  # it comes back when asked


@pytest.mark.parametrize("crash", ["written_not_recorded", "deleted_not_forgotten",
                                   "recorded_file_lost_chunks"])
def test_the_next_run_repairs_what_a_crash_left(tmp_path, crash):
    docs = _folder(tmp_path)
    clean = _store(tmp_path / "clean")
    ingest([docs], clean, **OPTS)
    want = _ids_by_source(clean)

    store = _store(tmp_path)
    ingest([docs], store, **OPTS)
    victim = str((docs / "note 3.txt").resolve())
    ids = sorted(_ids_by_source(store)[victim])
    store.records.begin_run(12345)  # the killed run never reached end_run...
    store.records.mark_pending([victim])  # ...and had marked what it was writing
    if crash == "written_not_recorded":  # chunks upserted, killed before the records update
        stray = load_file(docs / "note 3.txt")[0]
        stray.page_content = "A half-written version of note 3 about durians."
        store.add_documents(list(chunk_documents([stray], **CHUNKING)))
    elif crash == "deleted_not_forgotten":  # cleanup deleted vectors, killed before delete_keys
        store.delete(ids[:1])
    elif crash == "recorded_file_lost_chunks":
        store.delete(ids)
    assert not check(store)["consistent"]

    report = ingest([docs], store, **OPTS)
    assert report.repaired >= 1
    assert _ids_by_source(store) == want
    state = check(store, KeywordIndex(store, None))
    assert state["consistent"] and state["chunks"] == sum(map(len, want.values()))
    every = sorted(store.all_ids())
    assert len(store.chunk_vectors(every)) == len(every)  # each chunk has its sentence vectors


def test_writers_take_turns(tmp_path):
    store = _store(tmp_path)
    lock = store.records.writer_lock()
    assert lock.acquire(timeout=0) and lock.is_locked
    other = IndexRecords(tmp_path / "records.sqlite3", "ingtest").writer_lock()
    from filelock import Timeout

    with pytest.raises(Timeout):
        other.acquire(timeout=0.1)
    lock.release()
    other.acquire(timeout=0)
    other.release()


@pytest.mark.skipif(stores.SERVER, reason="a Chroma server takes writers while web chats "
                    "read: there is no lock to honour")
def test_cli_will_not_write_an_index_that_a_web_chat_has_open(tmp_path, capsys):
    from assistant import Settings
    from assistant.factory import serving_lock
    from ui.cli import main

    lock = serving_lock(Settings())  # what `sourcechat serve` holds while it runs
    lock.acquire()
    try:
        assert main(["ingest", str(tmp_path)]) == 1
        assert main(["remove", "x.txt"]) == 1
    finally:
        lock.release()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and all("Documents tab" in ln for ln in lines)


def test_an_index_built_before_records_is_adopted_not_deleted(tmp_path):
    docs = _folder(tmp_path, n=2)
    other = tmp_path / "other.txt"
    other.write_text("Indexed long ago, before records existed. It must survive.")
    store = _store(tmp_path)
    store.add_documents(list(chunk_documents(load_file(other.resolve()), **CHUNKING)))
    assert not store.records.has_keys()  # as an index from an older version
    ingest([docs], store, **OPTS)
    assert str(other.resolve()) in _ids_by_source(store)
    assert check(store)["consistent"]


def test_a_remove_killed_midway_is_completed_by_the_next_run(tmp_path):
    docs = _folder(tmp_path, n=3)
    store = _store(tmp_path)
    ingest([docs], store, **OPTS)
    victim = str((docs / "note 1.txt").resolve())
    keys = store.records.list_keys(group_ids=[victim])
    # killed after the chunks were deleted, before their records were forgotten
    store.records.begin_run(999)
    store.records.mark_pending([victim])
    store.records.drop_files([victim])
    store.delete(keys)
    report = ingest([docs], store, **OPTS)
    assert report.repaired and victim in report.indexed  # read again, not "unchanged"
    assert _ids_by_source(store)[victim] == _expected_ids(Path(victim))
    assert check(store)["consistent"]


def test_an_edited_file_is_no_twin_of_its_old_copy(tmp_path):
    docs = _folder(tmp_path, n=1)
    a, b = docs / "a.txt", docs / "b.txt"
    a.write_text("Same words in both files, for now.")
    b.write_text("Same words in both files, for now.")
    store = _store(tmp_path)
    ingest([docs], store, **OPTS)
    a.write_text("The first file now says something else entirely.")
    os.utime(a, ns=(10**18, 10**18))
    report = ingest([docs], store, **OPTS)
    assert report.duplicates == []
    assert {Path(s).name for s in _ids_by_source(store)} == {"note 0.txt", "a.txt", "b.txt"}


def test_a_run_remembers_what_it_had_pending(tmp_path):
    records = IndexRecords(tmp_path / "records.sqlite3", "runs")
    assert records.begin_run(1) is None  # nothing died before
    records.mark_pending(["a.txt", "b.txt", "a.txt"])
    again = IndexRecords(tmp_path / "records.sqlite3", "runs")  # the next process
    assert again.begin_run(2) == ["a.txt", "b.txt"]  # run 1 died with these in flight
    again.end_run()
    assert again.begin_run(3) is None and again.pending() == []
    again.end_run()
    assert again.begin_run(4) is None
    assert IndexRecords(tmp_path / "records.sqlite3", "runs").begin_run(5) == []


def test_writers_on_two_hosts_share_a_server_and_repair_only_their_own(tmp_path):
    """Each host has its own data dir (records); a crash and repair on one host, its
    `--sync` and `status --repair`, never touch the other host's chunks."""
    from index import repair

    proc, url = stores.start_server(tmp_path / "server")
    try:
        def writer(name):
            records = IndexRecords(tmp_path / name / "records.sqlite3", "shared")
            return ChunkStore(stores.client_at(url), "shared", CountingEmbedding(size=16), "fake",
                              records)

        a, b = writer("a"), writer("b")
        assert a.shared and b.shared
        docs_a, docs_b = _folder(tmp_path / "a"), _folder(tmp_path / "b", n=3)
        ingest([docs_b], b, **OPTS)
        theirs = {s: ids for s, ids in _ids_by_source(b).items() if s.startswith(str(docs_b))}
        assert len(theirs) == 3
        ingest([docs_a], a, **OPTS)

        victim = str((docs_a / "note 2.txt").resolve())
        a.records.begin_run(4242)  # host A dies half-way through writing one of its files
        a.records.mark_pending([victim])
        stray = load_file(docs_a / "note 2.txt")[0]
        stray.page_content = "A half-written note about durians."
        a.add_documents(list(chunk_documents([stray], **CHUNKING)))

        report = ingest([docs_a], a, sync=True, **OPTS)
        assert report.repaired == 1 and not report.removed
        now = _ids_by_source(a)
        assert {s: now[s] for s in theirs} == theirs  # host B's chunks, untouched
        assert now[victim] == _expected_ids(Path(victim))  # the stray chunk is gone
        assert repair(a) == 0 and repair(b) == 0
        assert {s: _ids_by_source(b)[s] for s in theirs} == theirs
        assert check(a, KeywordIndex(a, None))["consistent"]
        assert check(b, KeywordIndex(b, None))["consistent"]
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_writer_session_that_fails_is_repaired_by_the_next(tmp_path):
    """The one lock-repair-write session: a block that raises leaves its run unfinished (and
    the lock free); the next session deletes what it wrote unrecorded and ends cleanly."""
    store = _store(tmp_path)
    ingest([_folder(tmp_path, n=2)], store, **OPTS)
    kept = store.all_ids()
    stray = load_file(_folder(tmp_path / "other", n=1) / "note 0.txt")
    with pytest.raises(RuntimeError), writer_session(store) as repaired:
        assert repaired == 0
        store.records.mark_pending([stray[0].metadata["source"]])  # as every writer does
        store.add_documents(list(chunk_documents(stray, **CHUNKING)))
        raise RuntimeError("killed midway")
    written = store.all_ids() - kept
    assert store.records.has_run() and len(written) > 0
    assert not store.records.writer_lock().is_locked
    with writer_session(store) as repaired:
        assert repaired == len(written)
        assert store.all_ids() == kept  # repaired before the block runs
    assert not store.records.has_run()
    assert check(store)["consistent"]
