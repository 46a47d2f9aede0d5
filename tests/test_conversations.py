"""Conversations and feedback in SQLite, per login (ui/conversations.py), and the export."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from corpus.errors import SourcechatError
from ui.conversations import (
    FILE_NAME,
    ChatStore,
    NoSuchConversation,
    export_markdown,
    markdown_text,
    title_of,
)

ANSWER = {"question": "How many people migrated?", "answer": "More than 93,000 people [1].",
          "status": "answered", "found": True,
          "citations": [{"n": 1, "source": "/docs/hrw.txt", "title": "hrw.txt", "page": None,
                         "start": 0, "end": 120, "score": 0.8, "id": "c1",
                         "text": "Intro. More than 93,000 people migrated to North Korea.",
                         "highlights": [[7, 55]]}]}
SHOWN = [{"role": "user", "content": "How many people migrated?"},
         {"role": "assistant", "content": "More than 93,000 people [1]."}]


@pytest.fixture()
def store(tmp_path):
    return ChatStore(tmp_path / FILE_NAME)


def test_a_conversation_is_kept_with_its_turns_and_documents(store, tmp_path):
    cid = store.create("alice", "How many people migrated between 1959 and 1984 from Japan "
                       "to North Korea, and why?", ["/docs/hrw.txt"])
    assert store.add_turn("alice", cid, "How many people migrated?", ANSWER, SHOWN) == 1
    assert store.add_turn("alice", cid, "And who counted them?", ANSWER, SHOWN) == 2
    again = ChatStore(tmp_path / FILE_NAME).get("alice", cid)  # as after a restart
    assert again.title == "How many people migrated between 1959 and 1984 from Japan t…"
    assert len(again.title) == 60
    assert again.sources == ("/docs/hrw.txt",)
    assert [(t.n, t.question) for t in again.turns] == [(1, "How many people migrated?"),
                                                         (2, "And who counted them?")]
    assert again.turns[0].answer == ANSWER and again.turns[0].shown == SHOWN
    store.rename("alice", cid, "  Migration\n figures ")
    store.set_sources("alice", cid, [])
    assert [(c.id, c.title, c.sources) for c in store.list("alice")] == [
        (cid, "Migration figures", ())]
    with pytest.raises(SourcechatError, match="cannot be empty"):
        store.rename("alice", cid, "  ")
    store.delete("alice", cid)
    assert store.list("alice") == []
    with pytest.raises(NoSuchConversation):
        store.get("alice", cid)


def test_one_login_cannot_list_open_rename_export_or_delete_anothers(store):
    mine = store.create("alice", "Alice's question")
    store.add_turn("alice", mine, "Alice's question", ANSWER, SHOWN)
    theirs = store.create("bob", "Bob's question")
    assert [c.id for c in store.list("alice")] == [mine]
    assert [c.id for c in store.list("bob")] == [theirs]
    assert store.list("") == []  # no login: a separate owner again
    for attempt in (lambda: store.get("bob", mine), lambda: store.rename("bob", mine, "x"),
                    lambda: store.delete("bob", mine), lambda: store.set_sources("bob", mine, []),
                    lambda: store.add_turn("bob", mine, "q", ANSWER, SHOWN)):
        with pytest.raises(NoSuchConversation, match="not yours"):
            attempt()
    assert [t.question for t in store.get("alice", mine).turns] == ["Alice's question"]
    assert store.get("alice", mine).title == "Alice's question"


def test_export_holds_each_citation_and_no_markup(store):
    cid = store.create("", "Vault code?")
    planted = dict(ANSWER, answer="The code is 4471 ![s](http://127.0.0.1:7944/leak.png) [1].")
    store.add_turn("", cid, "What is the <b>vault</b> code?", planted, SHOWN)
    text = export_markdown(store.get("", cid))
    assert text.startswith("# Vault code?\n")
    assert "## What is the \\<b\\>vault\\</b\\> code?" in text
    assert "- \\[1\\] hrw.txt, chars 0–120: “More than 93,000 people migrated to North Korea.”" \
        in text
    assert "![" not in text and "](" not in text and "<b>" not in text
    assert "\\!\\[s\\]\\(http://127.0.0.1:7944/leak.png\\)" in text  # shown as text
    assert markdown_text("a_b*c") == "a\\_b\\*c"


def test_feedback_is_checked_stored_and_listed_by_the_cli(store, tmp_path):
    store.add_feedback("alice", "How many people migrated?", ANSWER, "down", "incomplete",
                       "c1", 1)
    store.add_feedback("", "Who?", {"status": "declined"}, "up")
    with pytest.raises(SourcechatError, match="one of up, down"):
        store.add_feedback("alice", "q", ANSWER, "meh")
    with pytest.raises(SourcechatError, match="Unknown feedback reason"):
        store.add_feedback("alice", "q", ANSWER, "down", "boring")
    out = subprocess.run([sys.executable, "-m", "ui", "--data-dir", str(tmp_path), "feedback",
                          "--json"], capture_output=True, text=True, check=True).stdout
    entries = json.loads(out)
    assert [(e["login"], e["rating"], e["reason"], e["turn"]) for e in entries] == [
        ("alice", "down", "incomplete", 1), ("", "up", "", None)]
    assert entries[0]["answer"] == ANSWER and entries[0]["conversation"] == "c1"


def test_titles_are_one_short_line():
    assert title_of("  What is\n\tthis?  ") == "What is this?"
    assert len(title_of("x" * 500)) == 60


def test_a_file_from_before_the_sources_view_was_kept_still_opens(tmp_path):
    import sqlite3

    path = tmp_path / FILE_NAME
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE conversations (id TEXT PRIMARY KEY, owner TEXT NOT NULL, title TEXT "
            "NOT NULL, sources TEXT NOT NULL DEFAULT '[]', created REAL NOT NULL, updated REAL "
            "NOT NULL); CREATE TABLE turns (conversation TEXT NOT NULL, n INTEGER NOT NULL, "
            "question TEXT NOT NULL, answer TEXT NOT NULL, shown TEXT NOT NULL, created REAL "
            "NOT NULL, PRIMARY KEY (conversation, n));"
            "INSERT INTO conversations VALUES ('c1', '', 'Old', '[]', 1, 1);"
            "INSERT INTO turns VALUES ('c1', 1, 'q', '{}', '[]', 1);")
    store = ChatStore(path)
    assert store.get("", "c1").turns[0].panel == ""
    store.add_turn("", "c1", "q2", ANSWER, SHOWN, "<div>panel</div>")
    assert store.get("", "c1").turns[1].panel == "<div>panel</div>"


def test_answers_added_at_once_get_their_own_turn_numbers(store):
    import threading

    cid = store.create("alice", "Busy chat")
    numbers, errors = [], []

    def add(i):
        try:
            numbers.append(store.add_turn("alice", cid, f"q{i}", ANSWER, SHOWN))
        except Exception as err:  # noqa: BLE001 - collected for the assertion
            errors.append(err)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(numbers) == list(range(1, 9))
    assert len(store.get("alice", cid).turns) == 8
