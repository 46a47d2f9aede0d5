"""A read-only index, as people meet it (a shared, mounted one): the real `sourcechat`
command in a subprocess, a real Chroma index built by `sourcechat ingest`, then made
read-only. Reading answers from it; writing says so in one line; nothing in it changes.

Two ways to make it read-only, each a real failure of the kernel's, not a fake: a
read-only bind mount in a private mount namespace (`unshare -m`, root: EROFS), and
permissions (the data dir chmod'ed read-only, the command run as `nobody` when the tests
run as root, whom permissions do not stop: EACCES). The index is on disk (a Chroma
server keeps its own files), so these run the same under SOURCECHAT_TEST_CHROMA=server.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

HARBOUR = ("The harbour of Quuxville was built in 1887 by the Quuxville Harbour Board. "
           "It handles ten thousand ships a year.\n")
LIGHTHOUSE = ("The Quuxville lighthouse is painted red and white. Its lamp can be seen "
              "from forty kilometres at sea.\n")
FERRY = ("The Quuxville ferry to Barnholm leaves at seven every morning from pier four. "
         "The crossing takes ninety minutes.\n")
MOUNT_RO = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"'
SETPRIV = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
ADVICE = "(set SOURCECHAT_DATA_DIR to a writable folder, or ask its owner)"
NOT_INHERITED = ("SOURCECHAT_CHROMA_URL", "SOURCECHAT_CHROMA_TOKEN", "SOURCECHAT_DEBUG",
                 "SOURCECHAT_MODEL_CACHE_DIR")  # the index is on disk, in this data dir


def _works(command: list[str]) -> bool:
    try:
        return subprocess.run(command, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _mount_available() -> bool:
    """Root may bind-mount a folder read-only in a mount namespace of its own."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    with tempfile.TemporaryDirectory() as folder:
        return _works(["unshare", "-m", "sh", "-c", MOUNT_RO, folder, "sh", "-c",
                       f"! touch {folder}/probe"]) and not os.listdir(folder)


def _permissions_available() -> bool:
    """Permissions stop anyone but root; root runs the command as `nobody`."""
    return os.geteuid() != 0 or bool(shutil.which("setpriv")) and _works(
        [*SETPRIV, sys.executable, "-c", "pass"])


WAYS = {"mount": _mount_available(), "permissions": _permissions_available()}
FIRST = next((w for w, ok in WAYS.items() if ok), None)  # the fast suite runs this one
REASON = {"mount": "it is on a read-only file system", "permissions": "permission denied"}


def _way(name: str):
    marks = [] if name == FIRST else [pytest.mark.slow]
    if not WAYS[name]:
        marks.append(pytest.mark.skip(reason=(
            "a read-only bind mount needs root and `unshare -m`" if name == "mount" else
            "running as `nobody` needs `setpriv` (the tests run as root, whom permissions "
            "do not stop)")))
    return pytest.param(name, marks=marks)


ALL_WAYS = [_way("mount"), _way("permissions")]


class Index:
    """A data dir with a real index in a world-readable temp folder (`nobody` reads it),
    its documents, and a temp dir of its own (TMPDIR: the private copies go there)."""

    def __init__(self, way: str):
        self.way = way
        self.root = Path(tempfile.mkdtemp(prefix="sourcechat-ro-test-"))
        self.root.chmod(0o755)
        self.data = self.root / "data"
        self.docs = self.root / "docs"
        self.temp = self.root / "tmp"
        self.cache = self.root / "cache"  # the user cache dir (XDG_CACHE_HOME)
        for folder in (self.data, self.docs, self.temp, self.cache):
            folder.mkdir()
        for shared in (self.temp, self.cache):
            shared.chmod(0o1777)
        (self.docs / "harbour.txt").write_text(HARBOUR)
        (self.docs / "lighthouse.txt").write_text(LIGHTHOUSE)

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
        root = str(Path(__file__).resolve().parents[1])  # this checkout, as `nobody` too
        env.update(SOURCECHAT_DATA_DIR=str(self.data), TMPDIR=str(self.temp),
                   XDG_CACHE_HOME=str(self.cache),
                   PYTHONPATH=os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")])))
        return env

    def prefix(self) -> list[str]:
        """What runs a command on the read-only index: in a namespace where the data dir
        is mounted read-only, or as `nobody` (as root), or as it is."""
        if self.way == "mount":
            return ["unshare", "-m", "sh", "-c", MOUNT_RO, str(self.data)]
        return SETPRIV if os.geteuid() == 0 else []

    def run(self, *args: str, read_only: bool = True) -> subprocess.CompletedProcess:
        """`sourcechat ARGS` (`python -m ui`), on the read-only index unless told."""
        command = [*(self.prefix() if read_only else []), sys.executable, "-m", "ui", *args]
        return subprocess.run(command, env=self.env(), capture_output=True, text=True,
                              timeout=600, cwd=self.root)

    def lock(self) -> None:
        """Make the data dir read-only for the `permissions` way (the mount is per run)."""
        if self.way == "permissions":
            _chmod_tree(self.data, dirs=0o555, files=0o444)

    def unlock(self) -> None:
        _chmod_tree(self.data, dirs=0o755, files=0o644)

    def state(self) -> dict[str, tuple]:
        """Every file and folder of the data dir: kind, bytes (hashed), size, mtime."""
        out = {}
        for path in sorted(self.data.rglob("*")):
            info = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
            out[str(path.relative_to(self.data))] = (path.is_dir(), digest, info.st_size,
                                                     info.st_mtime_ns)
        return out


def _chmod_tree(folder: Path, dirs: int, files: int) -> None:
    for path in [folder, *folder.rglob("*")]:
        path.chmod(dirs if path.is_dir() else files)


@pytest.fixture(scope="module", params=ALL_WAYS)
def index(request):
    """An index of the two documents built by `sourcechat ingest`, then made read-only."""
    built = Index(request.param)
    done = built.run("ingest", "--quiet", str(built.docs), read_only=False)
    assert done.returncode == 0, done.stderr
    built.lock()
    yield built
    built.unlock()
    shutil.rmtree(built.root, ignore_errors=True)


def test_questions_are_answered_from_a_read_only_index_and_nothing_in_it_changes(index):
    before = index.state()
    assert before  # chroma/, records.sqlite3, keyword/: what reading must not touch
    harbour = str(index.docs / "harbour.txt")

    asked = index.run("ask", "--llm", "extractive", "When was the harbour built?")
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.startswith("The harbour of Quuxville was built in 1887 by the "
                                   "Quuxville Harbour Board [1].\n")
    assert "  [1] harbour.txt (chars 0-" in asked.stdout

    asked = index.run("ask", "--llm", "extractive", "--json", "What colour is the lighthouse?")
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["status"] == "answered" and "red and white" in answer["answer"]
    assert [c["source"] for c in answer["citations"]] == [str(index.docs / "lighthouse.txt")]

    listed = index.run("sources", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == [
        {"source": harbour, "title": "harbour.txt", "chunks": 1},
        {"source": str(index.docs / "lighthouse.txt"), "title": "lighthouse.txt", "chunks": 1}]

    status = index.run("status")
    assert status.returncode == 0, status.stderr
    assert status.stdout == ("2 chunks in Chroma, 2 recorded, 2 in the keyword index, 2 sources, "
                             "embedding model all-MiniLM-L6-v2: consistent\n")
    assert status.stderr == ""

    assert index.state() == before
    assert os.listdir(index.temp) == []  # each process removed its private copy


def test_writers_say_in_one_line_that_the_data_dir_is_not_writable(index):
    before = index.state()
    new = index.docs / "new.txt"
    new.write_text("A brand new document about the Quuxville ferry timetable.\n")
    line = (f"error: The data dir {index.data} is not writable: {REASON[index.way]} "
            f"{ADVICE}\n")
    for args in (["ingest", str(new)], ["ingest"], ["remove", "harbour.txt"], ["reindex"],
                 ["status", "--repair"]):
        done = index.run(*args)
        assert (done.returncode, done.stdout, done.stderr) == (1, "", line), args
    assert index.state() == before
    assert os.listdir(index.temp) == []


@pytest.mark.parametrize("way", ALL_WAYS)
def test_an_empty_read_only_data_dir_gets_no_sample_and_says_nothing_is_indexed(way):
    from assistant.prompts import prompt

    empty = Index(way)
    try:
        empty.lock()
        done = empty.run("ask", "--llm", "extractive", "Who is Kanae Doi?")
        assert done.returncode == 0, done.stderr
        assert done.stdout == prompt("empty") + "\n"
        assert list(empty.data.iterdir()) == []  # no sample ingested, no file made
        assert os.listdir(empty.temp) == []
    finally:
        empty.unlock()
        shutil.rmtree(empty.root, ignore_errors=True)


@pytest.mark.slow
def test_the_web_chat_answers_from_a_read_only_index_and_refuses_to_add(index):
    from gradio_client import Client

    from tests.serving import running_serve

    before = index.state()
    with running_serve(index.root, "--llm", "extractive",
                       env={**index.env(), **dict.fromkeys(NOT_INHERITED)},
                       prefix=index.prefix()) as url:
        client = Client(url, verbose=False)
        first = client.predict("When was the harbour built?", conversation="new",
                               api_name="/ask")
        assert first["status"] == "answered" and "built in 1887" in first["answer"]
        again = client.predict("What colour is it painted?", conversation=first["conversation"],
                               api_name="/ask")  # kept: its history is the first turn
        assert again["conversation"] == first["conversation"]
        with urllib.request.urlopen(url, timeout=30) as page:
            assert "Documents cannot be added or removed here." in page.read().decode()
    log = (index.root / "serve.log").read_text()
    kept = index.cache / "sourcechat" / "chats"
    assert (f"sourcechat: the data dir {index.data} is not writable ({REASON[index.way]}): "
            "answering questions only (documents cannot be added or removed); conversations "
            f"are kept in {kept}/data-") in log
    assert len(list(kept.glob("data-*/chats.sqlite"))) == 1
    assert index.state() == before


# A long-running reader: the Python API in one process, asked over stdin, one JSON line
# answered per line ("ask QUESTION" or "sources").
READER = """
import json, sys
from assistant import default_assistant

assistant = default_assistant()
for line in sys.stdin:
    command, _, question = line.rstrip("\\n").partition(" ")
    if command == "ask":
        answer = assistant.ask(question)
        print(json.dumps({"status": answer.status, "text": answer.text}), flush=True)
    else:
        print(json.dumps([s for s, _, _ in assistant.sources()]), flush=True)
"""
FOLLOWED = 120.0  # a readiness wait for the reader to follow the owner, not a time limit


class Reader:
    """A Python process reading the read-only index, kept running between questions."""

    def __init__(self, index: Index):
        self.proc = subprocess.Popen(
            [*index.prefix(), sys.executable, "-c", READER], cwd=index.root, text=True,
            env={**index.env(), "SOURCECHAT_LLM": "extractive"}, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE)

    def send(self, line: str):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        out = self.proc.stdout.readline()
        assert out, f"the reader exited ({self.proc.wait()})"
        return json.loads(out)

    def until(self, line: str, done) -> object:
        """Send `line` until its reply is `done` (the owner's change is read)."""
        deadline = time.monotonic() + FOLLOWED
        while not done(reply := self.send(line)) and time.monotonic() < deadline:
            time.sleep(0.5)
        return reply

    def close(self) -> int:
        self.proc.stdin.close()
        return self.proc.wait(timeout=120)


def _copies(index: Index) -> list[str]:
    return sorted(p.name for p in index.temp.glob("sourcechat-index-*"))


@pytest.mark.parametrize("way", ALL_WAYS)
def test_a_running_reader_follows_what_the_owner_adds_and_removes(way):
    owned = Index(way)
    reader = None
    try:
        built = owned.run("ingest", "--quiet", str(owned.docs), read_only=False)
        assert built.returncode == 0, built.stderr
        owned.lock()
        reader = Reader(owned)
        question = "When does the Quuxville ferry to Barnholm leave?"
        assert reader.send(f"ask {question}")["status"] == "declined"
        assert len(_copies(owned)) == 1

        ferry = owned.docs / "ferry.txt"
        ferry.write_text(FERRY)
        added = owned.run("ingest", "--quiet", str(ferry), read_only=False)  # the owner
        assert added.returncode == 0, added.stderr
        answer = reader.until(f"ask {question}", lambda a: a["status"] == "answered")
        assert answer["status"] == "answered", answer
        assert answer["text"].startswith("The Quuxville ferry to Barnholm leaves at seven "
                                         "every morning from pier four")
        # the copy it replaced goes once nothing reads it
        reader.until("sources", lambda _: len(_copies(owned)) == 1)
        assert len(_copies(owned)) == 1

        removed = owned.run("remove", "harbour.txt", read_only=False)
        assert removed.returncode == 0, removed.stderr
        expected = [str(ferry), str(owned.docs / "lighthouse.txt")]
        assert reader.until("sources", lambda s: s == expected) == expected
        assert reader.send("ask When was the harbour built?")["status"] == "declined"
        reader.until("sources", lambda _: len(_copies(owned)) == 1)
        assert len(_copies(owned)) == 1

        assert reader.close() == 0
        reader = None
        assert _copies(owned) == []  # removed at exit
    finally:
        if reader is not None:
            reader.proc.kill()
        owned.unlock()
        shutil.rmtree(owned.root, ignore_errors=True)
