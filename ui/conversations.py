"""The web chat's memory: conversations and answer feedback, per login, in SQLite.

One file in the data dir (`chats.sqlite`; for a data dir this process cannot write, in
the user's cache dir: `chats_file`) holds every conversation (its title, the
documents it is limited to, and each turn: the question, the answer as `ask --json`
data, and what the chat showed) and every thumbs up or down. Every read and write names
its owner (the login, "" without logins): one owner never lists, opens, exports, renames
or deletes another's conversation — to them it does not exist.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
import uuid
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from corpus.errors import SourcechatError
from index.readonly import private_dir, unwritable

FILE_NAME = "chats.sqlite"
TITLE_CHARS = 60          # a conversation's title: its first question, cut to this
RATINGS = ("up", "down")
REASONS = ("wrong source", "not supported", "incomplete", "should have declined",
           "should have answered")
SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, title TEXT NOT NULL,
    sources TEXT NOT NULL DEFAULT '[]', created REAL NOT NULL, updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS conversations_owner ON conversations(owner, updated);
CREATE TABLE IF NOT EXISTS turns (
    conversation TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    n INTEGER NOT NULL, question TEXT NOT NULL, answer TEXT NOT NULL,
    shown TEXT NOT NULL, created REAL NOT NULL, panel TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (conversation, n));
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, conversation TEXT,
    turn INTEGER, question TEXT NOT NULL, answer TEXT NOT NULL, rating TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '', created REAL NOT NULL);
"""


def chats_file(data_dir: str | Path) -> Path:
    """Where the web chat over `data_dir` keeps conversations and feedback: in it, or,
    when this process cannot write it (a read-only index), in a folder of the user's own
    for that data dir."""
    if unwritable(data_dir) is None:
        return Path(data_dir) / FILE_NAME
    return private_dir("chats", data_dir) / FILE_NAME


class NoSuchConversation(SourcechatError):
    """A conversation id this owner does not have (another's is reported the same way)."""


@dataclass(frozen=True)
class Turn:
    """One question and its answer (`ask --json` data) and the chat's rendering of it
    (its messages, and its sources view)."""

    n: int
    question: str
    answer: dict
    shown: list[dict]
    panel: str = ""


@dataclass(frozen=True)
class Conversation:
    """A conversation: title, the documents it is limited to (() = all), its turns."""

    id: str
    title: str
    sources: tuple[str, ...] = ()
    updated: float = 0.0
    turns: list[Turn] = field(default_factory=list)


def title_of(question: str) -> str:
    """A title from a first question: one line, at most TITLE_CHARS characters."""
    text = " ".join(question.split())
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1].rstrip() + "…"


class ChatStore:
    """Conversations and feedback in one SQLite file (a connection per call: the web
    chat's handlers run on several threads)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.execute("PRAGMA journal_mode = WAL")  # kept in the file: set once
            db.executescript(SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(turns)")}
            if "panel" not in columns:  # a file from before the sources view was kept
                db.execute("ALTER TABLE turns ADD COLUMN panel TEXT NOT NULL DEFAULT ''")

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA foreign_keys = ON")
        return db

    # -- conversations ---------------------------------------------------------------------
    def create(self, owner: str, title: str, sources: Sequence[str] = ()) -> str:
        """A new conversation; returns its id."""
        cid = uuid.uuid4().hex
        now = time.time()
        with closing(self._connect()) as db, db:
            db.execute("INSERT INTO conversations VALUES (?, ?, ?, ?, ?, ?)",
                       (cid, owner, title_of(title) or "New chat", json.dumps(list(sources)),
                        now, now))
        return cid

    def list(self, owner: str) -> list[Conversation]:
        """The owner's conversations, most recently used first (without their turns)."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT id, title, sources, updated FROM conversations "
                              "WHERE owner = ? ORDER BY updated DESC", (owner,)).fetchall()
        return [Conversation(i, t, tuple(json.loads(s)), u) for i, t, s, u in rows]

    def get(self, owner: str, cid: str) -> Conversation:
        """One of the owner's conversations with its turns."""
        with closing(self._connect()) as db:
            row = self._row(db, owner, cid)
            turns = db.execute("SELECT n, question, answer, shown, panel FROM turns WHERE "
                               "conversation = ? ORDER BY n", (cid,)).fetchall()
        return Conversation(cid, row[0], tuple(json.loads(row[1])), row[2],
                            [Turn(n, q, json.loads(a), json.loads(s), p)
                             for n, q, a, s, p in turns])

    def rename(self, owner: str, cid: str, title: str) -> None:
        """Give a conversation a new title (one line; an empty title is refused)."""
        title = " ".join((title or "").split())
        if not title:
            raise SourcechatError("A conversation's title cannot be empty: type one.")
        with closing(self._connect()) as db, db:
            self._row(db, owner, cid)
            db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title[:200], cid))

    def set_sources(self, owner: str, cid: str, sources: Sequence[str]) -> None:
        """Limit a conversation to these documents (empty: all of them)."""
        with closing(self._connect()) as db, db:
            self._row(db, owner, cid)
            db.execute("UPDATE conversations SET sources = ? WHERE id = ?",
                       (json.dumps(list(sources)), cid))

    def add_turn(self, owner: str, cid: str, question: str, answer: dict,
                 shown: list[dict], panel: str = "") -> int:
        """Append a question and its answer; returns the turn's number (1-based)."""
        now = time.time()
        with closing(self._connect()) as db, db:
            db.execute("BEGIN IMMEDIATE")  # two answers at once: numbered one after the other
            self._row(db, owner, cid)
            n = db.execute("SELECT COALESCE(MAX(n), 0) + 1 FROM turns WHERE conversation = ?",
                           (cid,)).fetchone()[0]
            db.execute("INSERT INTO turns (conversation, n, question, answer, shown, created, "
                       "panel) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (cid, n, question, json.dumps(answer), json.dumps(shown), now, panel))
            db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, cid))
        return n

    def delete(self, owner: str, cid: str) -> None:
        """Delete a conversation and its turns (its feedback stays, as evaluation data)."""
        with closing(self._connect()) as db, db:
            self._row(db, owner, cid)
            db.execute("DELETE FROM conversations WHERE id = ?", (cid,))

    def _row(self, db: sqlite3.Connection, owner: str, cid: str) -> tuple:
        row = db.execute("SELECT title, sources, updated FROM conversations WHERE id = ? "
                         "AND owner = ?", (cid, owner)).fetchone()
        if row is None:
            raise NoSuchConversation("No such conversation: it was deleted, or it is not "
                                     "yours. Start a new chat.")
        return row

    # -- feedback --------------------------------------------------------------------------
    def add_feedback(self, owner: str, question: str, answer: dict, rating: str,
                     reason: str = "", cid: str | None = None, turn: int | None = None) -> int:
        """Store a thumbs up or down on an answer, with an optional reason."""
        if rating not in RATINGS:
            raise SourcechatError(f"Feedback is one of {', '.join(RATINGS)}, not {rating!r}.")
        if reason and reason not in REASONS:
            raise SourcechatError(f"Unknown feedback reason {reason!r}: use one of "
                                  f"{', '.join(REASONS)}.")
        with closing(self._connect()) as db, db:
            cur = db.execute("INSERT INTO feedback (owner, conversation, turn, question, "
                             "answer, rating, reason, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             (owner, cid, turn, question, json.dumps(answer), rating, reason,
                              time.time()))
            return int(cur.lastrowid)

    def feedback(self) -> list[dict]:
        """Every feedback entry, oldest first (for `sourcechat feedback`)."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT id, owner, conversation, turn, question, answer, rating, "
                              "reason, created FROM feedback ORDER BY id").fetchall()
        return [{"id": i, "login": o, "conversation": c, "turn": t, "question": q,
                 "answer": json.loads(a), "rating": r, "reason": why,
                 "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))}
                for i, o, c, t, q, a, r, why, at in rows]


# -- export ------------------------------------------------------------------------------
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#!|~])")


def markdown_text(text: str) -> str:
    """Document or model text as inert Markdown: every character that could start a link,
    an image, HTML or code is backslash-escaped, so no viewer loads anything from it."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def export_markdown(conversation: Conversation) -> str:
    """A conversation as Markdown: each question, its answer, and each citation's
    document, page or position, and quoted supporting passage."""
    out = [f"# {markdown_text(conversation.title)}", ""]
    if conversation.sources:
        names = ", ".join(markdown_text(Path(s).name) for s in conversation.sources)
        out += [f"Limited to: {names}", ""]
    for turn in conversation.turns:
        a = turn.answer
        out += [f"## {markdown_text(turn.question)}", "",
                f"*{a.get('status', 'answered')}*", ""]
        if a.get("warning"):
            out += [f"**Warning:** {markdown_text(a['warning'])}", ""]
        out += [markdown_text(a.get("answer", "")), ""]
        for c in a.get("citations", []):
            where = f"page {c['page']}" if c.get("page") else f"chars {c['start']}–{c['end']}"
            spans = c.get("highlights") or [[0, len(c["text"])]]
            quote = " … ".join(c["text"][s:e] for s, e in spans)
            out.append(f"- \\[{c['n']}\\] {markdown_text(c.get('title') or Path(c['source']).name)}"
                       f", {where}: “{markdown_text(' '.join(quote.split()))}”")
        if a.get("citations"):
            out.append("")
    return "\n".join(out).rstrip() + "\n"
