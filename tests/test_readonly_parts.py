"""The pieces of reading a read-only index, in process (fast; the real read-only data
dir, mounted or chmod'ed, is tests/test_readonly.py): records read into memory without
a write, the keyword index built without saving, Chroma's private copy (made, read,
removed, swept after a crash), and every writer refused in one line."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import chromadb
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import DeterministicFakeEmbedding

from assistant.settings import Settings
from corpus.errors import NotWritableError
from index import ChunkStore, IndexRecords, KeywordIndex, index_documents
from index.private_copy import PrivateCopy, chroma_copy, remove_copies
from index.readonly import OPENED_READ_ONLY, unwritable
from index.reindex import reindex
from tests.fakes import fake_assistant

_DEFAULTS = Settings.model_fields
SIZES = {f: _DEFAULTS[f].default for f in ("chunk_size", "chunk_overlap", "batch_size")}
ADVICE = "(set SOURCECHAT_DATA_DIR to a writable folder, or ask its owner)"


def _files(folder: Path) -> dict[str, str]:
    """Every file under `folder` by its path, with a hash of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _disk_store(folder: Path, name: str = "readonly") -> ChunkStore:
    client = chromadb.PersistentClient(path=str(folder),
                                       settings=chromadb.Settings(anonymized_telemetry=False))
    return ChunkStore(client, name, DeterministicFakeEmbedding(size=8), "fake")


def _doc(source: str, text: str) -> Document:
    return Document(page_content=text, metadata={"source": source, "title": source,
                                                 "page": None})


@pytest.fixture
def temp_dir(tmp_path, monkeypatch):
    """This test's own temp dir (where the private copies go)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    yield folder
    remove_copies()


def test_a_writable_folder_and_one_that_can_be_made_have_no_reason(tmp_path):
    assert unwritable(tmp_path) is None
    assert unwritable(tmp_path / "new" / "data") is None
    (tmp_path / "file").write_text("x")
    assert unwritable(tmp_path / "file" / "data") == (
        f"it cannot be made: {tmp_path / 'file'} is not a folder")


def test_read_only_records_read_a_live_writers_wal_and_write_nothing(tmp_path):
    path = tmp_path / "records.sqlite3"
    writer = IndexRecords(path, "c")  # still open: what it wrote is in its WAL
    writer.update(["k1", "k2"], group_ids=["a.txt", "b.txt"])
    assert Path(f"{path}-wal").stat().st_size > 0
    before = _files(tmp_path)

    reader = IndexRecords(path, "c", read_only=True)
    assert reader.read_only and not writer.read_only
    assert reader.all_keys() == {"k1", "k2"}
    assert reader.group_counts() == {"a.txt": 1, "b.txt": 1}
    with pytest.raises(NotWritableError) as refused:
        reader.writer_lock()
    assert str(refused.value) == (f"The data dir {tmp_path} is not writable: "
                                  f"{OPENED_READ_ONLY} {ADVICE}")
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.update(["k3"])  # the records themselves refuse too
    writer.update(["k3"], group_ids=["c.txt"])
    assert "k3" not in reader.all_keys()  # read once, as the Chroma copy is
    after = _files(tmp_path)
    assert {k: v for k, v in after.items() if not k.endswith(("-wal", "-shm"))} == {
        k: v for k, v in before.items() if not k.endswith(("-wal", "-shm"))}
    assert not list(tmp_path.glob("*.lock"))


def test_read_only_records_of_an_index_never_written_are_empty_and_make_no_file(tmp_path):
    folder = tmp_path / "index"
    folder.mkdir()
    reader = IndexRecords(folder / "records.sqlite3", "c", read_only=True)
    assert reader.all_keys() == set() and not reader.has_run()
    assert list(folder.iterdir()) == []


def test_a_keyword_index_that_may_not_save_builds_in_memory_and_reads_a_saved_one(tmp_path):
    store = _disk_store(tmp_path / "chroma")
    index_documents([_doc("a", "Zorblat festival in March."), _doc("b", "Quokkas live on "
                     "Rottnest.")], store, **SIZES)
    unsaved = KeywordIndex(store, tmp_path / "kw", save=False)
    assert [i for i, _ in unsaved.search("zorblat festival", 5)] == [
        next(iter(store.ids_for_source("a")))]
    assert not (tmp_path / "kw").exists()

    KeywordIndex(store, tmp_path / "kw").refresh()  # a writer saves this version
    saved = _files(tmp_path / "kw")
    reader = KeywordIndex(store, tmp_path / "kw", save=False)
    reader._build = lambda version: pytest.fail("the saved index was rebuilt")
    assert reader.count() == 2 and reader.search("quokkas", 5)
    assert _files(tmp_path / "kw") == saved


def test_chroma_reads_a_private_copy_and_writes_there_only(tmp_path, temp_dir):
    folder = tmp_path / "chroma"
    store = _disk_store(folder)
    index_documents([_doc("a", "Zorblat festival in March."), _doc("b", "Quokkas live on "
                     "Rottnest.")], store, **SIZES)
    original = _files(folder)

    copy = Path(chroma_copy(str(folder)))
    assert copy.parent == temp_dir
    reader = _disk_store(copy)
    assert reader.count() == 2 and {s for s, _, _ in reader.sources()} == {"a", "b"}
    assert reader.get(sorted(store.all_ids())) == store.get(sorted(store.all_ids()))
    index_documents([_doc("c", "Written to the copy.")], reader, **SIZES)
    assert reader.count() == 3 and store.count() == 2
    assert _files(folder) == original

    remove_copies()
    assert list(temp_dir.iterdir()) == []


def test_a_copy_left_by_a_process_that_died_is_removed_by_the_next_one(tmp_path, temp_dir):
    folder = tmp_path / "chroma"
    index_documents([_doc("a", "Zorblat festival in March.")], _disk_store(folder), **SIZES)
    mine = Path(chroma_copy(str(folder)))  # alive: held by this process
    killed = subprocess.run(
        [sys.executable, "-c", "import os, sys; from index.private_copy import chroma_copy; "
         "print(chroma_copy(sys.argv[1]), flush=True); os._exit(9)", str(folder)],
        env={**os.environ, "TMPDIR": str(temp_dir),
             "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        capture_output=True, text=True, timeout=300)
    left = Path(killed.stdout.strip())
    assert killed.returncode == 9 and left.is_dir() and left.parent == temp_dir

    remove_copies()
    chroma_copy(str(folder))  # the next reader sweeps the dead one, never a live one
    assert not left.exists() and not mine.exists() and len(list(temp_dir.iterdir())) == 1


def test_a_private_copy_is_made_again_when_the_owner_writes_and_kept_while_read(
        tmp_path, temp_dir):
    data = tmp_path / "data"
    owner = _disk_store(data / "chroma")
    index_documents([_doc("a", "Zorblat festival in March.")], owner, **SIZES)
    copy = PrivateCopy(data, _client, every=0)
    reader = ChunkStore(copy.client, "readonly", DeterministicFakeEmbedding(size=8), "fake")
    first = copy.folder
    assert [s for s, _, _ in reader.sources()] == ["a"]
    assert not copy.follow(reader.reopen)  # nothing changed: no copy made

    index_documents([_doc("b", "Quokkas live on Rottnest.")], owner, **SIZES)
    with copy.reading():  # a question under way keeps the copy it started on
        assert copy.follow(reader.reopen)
        assert [s for s, _, _ in reader.sources()] == ["a", "b"]  # its next call: new
        assert sorted(p.name for p in temp_dir.iterdir()) == sorted(
            Path(f).name for f in (first, copy.folder))
    assert [p.name for p in temp_dir.iterdir()] == [Path(copy.folder).name]  # then it goes

    reindex(owner, owner.embeddings, "fake", batch_size=8, progress=False)  # a new generation
    assert copy.follow(reader.reopen)
    assert reader.sources() == owner.sources()
    assert reader.collection_name == owner.collection_name != "readonly"
    assert not copy.follow(reader.reopen)  # nothing changed; the replaced copy goes
    assert [p.name for p in temp_dir.iterdir()] == [Path(copy.folder).name]


class Clock:
    """A clock the test moves (PrivateCopy's looks and grace period read it)."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _owner_and_copy(data: Path, clock: Clock, open_client=None):
    owner = _disk_store(data / "chroma")
    index_documents([_doc("a", "Zorblat festival in March.")], owner, **SIZES)
    copy = PrivateCopy(data, open_client or _client, every=5.0, clock=clock)
    reader = ChunkStore(copy.client, "readonly", DeterministicFakeEmbedding(size=8), "fake")
    return owner, copy, reader


def test_the_owner_is_looked_for_every_few_seconds_and_a_replaced_copy_kept_that_long(
        tmp_path, temp_dir):
    clock = Clock()
    owner, copy, reader = _owner_and_copy(tmp_path / "data", clock)
    first = copy.folder
    index_documents([_doc("b", "Quokkas live on Rottnest.")], owner, **SIZES)
    clock.now = 4.9
    assert not copy.follow(reader.reopen)  # not looked yet
    clock.now = 5.0
    assert copy.follow(reader.reopen) and [s for s, _, _ in reader.sources()] == ["a", "b"]
    clock.now = 9.9
    with copy.reading():  # a call outside a question may still be on the old client
        pass
    assert Path(first).is_dir()
    clock.now = 10.0
    with copy.reading():
        pass
    assert not Path(first).exists()
    assert [p.name for p in temp_dir.iterdir()] == [Path(copy.folder).name]


def test_a_copy_the_owner_wrote_to_meanwhile_is_dropped_and_made_again(
        tmp_path, temp_dir, monkeypatch):
    import index.private_copy as private_copy

    clock = Clock()
    owner, copy, reader = _owner_and_copy(tmp_path / "data", clock)
    index_documents([_doc("b", "Quokkas live on Rottnest.")], owner, **SIZES)
    real_copy = private_copy.chroma_copy
    writes = iter([_doc("c", "The ferry leaves at nine.")])

    def copy_while_the_owner_writes(folder):
        made = real_copy(folder)
        for doc in writes:  # the first copy only: the owner writes while it is made
            index_documents([doc], owner, **SIZES)
        return made

    monkeypatch.setattr(private_copy, "chroma_copy", copy_while_the_owner_writes)
    clock.now = 5.0
    assert not copy.follow(reader.reopen)  # torn: dropped, the old copy serves
    assert [s for s, _, _ in reader.sources()] == ["a"]
    assert len(list(temp_dir.iterdir())) == 1
    clock.now = 10.0
    assert copy.follow(reader.reopen)  # the next look copies a settled index
    assert [s for s, _, _ in reader.sources()] == ["a", "b", "c"]


def test_a_copy_that_cannot_be_made_leaves_the_old_one_serving_until_the_owner_writes(
        tmp_path, temp_dir):
    clock = Clock()
    opened = []

    def open_client(path: str):
        opened.append(path)
        if len(opened) == 2:
            raise OSError("No space left on device")
        return _client(path)

    owner, copy, reader = _owner_and_copy(tmp_path / "data", clock, open_client)
    index_documents([_doc("b", "Quokkas live on Rottnest.")], owner, **SIZES)
    clock.now = 5.0
    assert not copy.follow(reader.reopen)
    assert [s for s, _, _ in reader.sources()] == ["a"]  # the previous state serves
    assert [p.name for p in temp_dir.iterdir()] == [Path(copy.folder).name]  # no leftover
    clock.now = 10.0
    assert not copy.follow(reader.reopen) and len(opened) == 2  # not tried again for nothing
    index_documents([_doc("c", "The ferry leaves at nine.")], owner, **SIZES)
    clock.now = 15.0
    assert copy.follow(reader.reopen) and len(opened) == 3
    assert [s for s, _, _ in reader.sources()] == ["a", "b", "c"]


def _client(path: str):
    return chromadb.PersistentClient(path=path,
                                     settings=chromadb.Settings(anonymized_telemetry=False))


def _read_only(a):
    """The assistant as build_assistant wires it over a data dir it cannot write."""
    a.store.records = IndexRecords(Path(a.settings.data_dir) / "records.sqlite3", "test",
                                   read_only=True)
    return a


def test_every_writer_of_a_read_only_index_is_refused_in_one_line(tmp_path):
    doc = tmp_path / "doc.txt"
    doc.write_text("Zorblat festival in March.")
    writable = fake_assistant(tmp_path)
    writable.ingest([str(doc)], progress=False)
    a = _read_only(fake_assistant(tmp_path))
    line = f"The data dir {tmp_path} is not writable: {OPENED_READ_ONLY} {ADVICE}"
    for write in (lambda: a.ingest([str(doc)], progress=False), lambda: a.ingest(),
                  lambda: a.remove("doc.txt"), lambda: a.reindex(progress=False),
                  lambda: a.watch([str(tmp_path)])):
        with pytest.raises(NotWritableError) as refused:
            write()
        assert str(refused.value) == line
    assert [s for s, _, _ in a.sources()] == [str(doc.resolve())]
    answer = a.ask("When is the Zorblat festival?")  # read, cited
    assert [c.passage.source for c in answer.citations] == [str(doc.resolve())]


def test_a_brand_new_read_only_index_gets_no_sample(tmp_path):
    from assistant.prompts import prompt

    a = _read_only(fake_assistant(tmp_path))
    a.ensure_indexed()
    assert a.sources() == [] and a.ask("Who is Kanae Doi?").text == prompt("empty")


def test_the_web_chat_refuses_an_upload_before_storing_it(tmp_path):
    from ui.app import ERROR_MARK, FAILED_MARK, NOTE_MARK, Handlers

    upload = tmp_path / "up.txt"
    upload.write_text("An uploaded document about the Quuxville ferry.")
    h = Handlers(_read_only(fake_assistant(tmp_path)))
    line = f"The data dir {tmp_path} is not writable: {OPENED_READ_ONLY} {ADVICE}"
    assert h.notice() == f"{NOTE_MARK} Documents cannot be added or removed here. {line}"
    status, table, _ = h.upload([str(upload)], progress=lambda *a, **k: None)
    assert status == f"{FAILED_MARK} {line}" and table == []
    assert not (tmp_path / "uploads").exists()
    assert h.remove("up.txt")[0] == f"{ERROR_MARK} {line}"
    assert Handlers(fake_assistant(tmp_path)).notice() == ""
