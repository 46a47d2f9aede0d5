"""Uploads never silently replace another document (fast: fake embeddings, real Chroma)."""

from __future__ import annotations

from pathlib import Path

from tests.fakes import fake_assistant
from ui.uploads import accept

FIRST = "The first report says the harvest was 25 kilograms of kiwis."
SECOND = "The second report says the bridge opened in 1932 over the river."


class Upload(str):
    """What Gradio hands the handler: a temp path with the user's file name."""

    orig_name: str


def upload(tmp_path: Path, folder: str, name: str, text: str) -> Upload:
    path = tmp_path / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    up = Upload(path)
    up.orig_name = name
    return up


def test_same_name_other_content_is_kept_beside_it(tmp_path):
    uploads = tmp_path / "uploads"
    first, msg = accept(upload(tmp_path, "alice", "report.txt", FIRST), uploads, 1)
    assert first.name == "report.txt" and msg == "report.txt: added."
    second, msg = accept(upload(tmp_path, "bob", "report.txt", SECOND), uploads, 1)
    assert second.name == "report (2).txt"
    assert "kept as report (2).txt" in msg and "Replace" in msg
    assert first.read_text() == FIRST and second.read_text() == SECOND
    third, _ = accept(upload(tmp_path, "carol", "report.txt", "A third one, 7 pages."), uploads, 1)
    assert third.name == "report (3).txt"


def test_same_name_same_content_is_the_same_document(tmp_path):
    uploads = tmp_path / "uploads"
    accept(upload(tmp_path, "alice", "report.txt", FIRST), uploads, 1)
    again, msg = accept(upload(tmp_path, "bob", "report.txt", FIRST), uploads, 1)
    assert again.name == "report.txt" and "already added" in msg
    assert sorted(p.name for p in uploads.iterdir()) == ["report.txt"]  # no staging left


def test_replace_when_asked(tmp_path):
    uploads = tmp_path / "uploads"
    accept(upload(tmp_path, "alice", "report.txt", FIRST), uploads, 1)
    path, msg = accept(upload(tmp_path, "alice2", "report.txt", SECOND), uploads, 1,
                       replace=True)
    assert path.name == "report.txt" and path.read_text() == SECOND
    assert msg == "report.txt: replaced the earlier report.txt."


def test_every_loader_suffix_is_accepted(tmp_path):
    path, msg = accept(upload(tmp_path, "a", "notes.markdown", "# Notes\n\nKiwis are green."),
                       tmp_path / "uploads", 1)
    assert path is not None, msg


def test_through_the_handler_both_documents_keep_their_passages(tmp_path):
    from ui.app import Handlers

    a = fake_assistant(tmp_path)
    store = a.store
    h = Handlers(a, max_upload_mb=1)
    quiet = {"progress": lambda *a, **k: None}
    h.upload([upload(tmp_path, "alice", "report.txt", FIRST)], **quiet)
    status, table, _ = h.upload([upload(tmp_path, "bob", "report.txt", SECOND)], **quiet)
    assert "kept as report (2).txt" in status
    assert sorted(row[0] for row in table) == ["report (2).txt", "report.txt"]
    texts = {p.text for p in store.get(list(store.all_texts()[0]))}
    assert any("harvest" in t for t in texts) and any("bridge" in t for t in texts)
    status, table, _ = h.upload([upload(tmp_path, "bob", "report.txt", SECOND)], True, **quiet)
    assert "replaced" in status
    texts = {p.text for p in store.get(list(store.all_texts()[0]))}
    assert not any("harvest" in t for t in texts)  # the replaced one's passages are gone
