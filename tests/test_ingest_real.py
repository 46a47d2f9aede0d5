"""Ingestion with the real pieces: the console script, MiniLM, Chroma on disk.

A run killed with SIGKILL mid-way is completed by the next with the very ids of a clean
run; a folder of bad files beside good ones is ingested with one line per bad file and
nothing lost; the chat keeps answering while an ingest runs in the same process.
"""

from __future__ import annotations

import io
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_QUESTION
from tests.files import make_pdf
from tests.stores import client_for, env_for

pytestmark = pytest.mark.slow

NAMES = ["Marta", "Oskar", "Ingrid", "Tobias", "Lucia", "Anselm", "Greta", "Rafael", "Yusuf",
         "Nadia", "Pieter", "Elena", "Bruno", "Sanne", "Kofi", "Mirela", "Henrik", "Aiko",
         "Dario", "Freya", "Tomasz", "Leila", "Viktor", "Ines", "Matteo", "Saoirse", "Emil",
         "Zofia", "Anton", "Carmen"]
ANIMALS = ["ocelot", "tapir", "axolotl", "pangolin", "okapi", "quokka", "narwhal", "ibis",
           "marmot", "gecko", "lemur", "bison", "heron", "lynx", "manatee", "gibbon", "kiwi",
           "walrus", "iguana", "puffin", "badger", "jackal", "oriole", "stoat", "yak", "egret",
           "caracal", "dugong", "weasel", "toucan"]
FILLER = ("The weather that season was mild and the markets were busy. Neighbours talked about "
          "the harvest, the new bridge and the price of bread. Children walked to school along "
          "the river while the bells rang at eight. ")


def _fact(i: int) -> str:
    return f"{NAMES[i]} keeps a pet {ANIMALS[i]} named Pip{i} in a garden shed."


def _write_folder(root: Path, n: int) -> Path:
    docs = root / "docs"
    docs.mkdir(parents=True)
    for i in range(n):
        body = (FILLER * 5) + "\n\n" + _fact(i) + "\n\n" + (FILLER * 5).replace("mild", f"mild{i}")
        (docs / f"letter {i:02d}.txt").write_text(body)
    return docs


def _cli(data: Path, *args: str, env: dict | None = None, wrap: list[str] | None = None,
         **kw) -> subprocess.Popen:
    full_env = {**os.environ, **env_for(data), **(env or {})}
    return subprocess.Popen([*(wrap or []), sys.executable, "-m", "ui", *args],
                            env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def _run(data: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    proc = _cli(data, *args, **kw)
    out, err = proc.communicate(timeout=900)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _recorded(data: Path) -> int:
    db = data / "records.sqlite3"
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as con:
            return con.execute("SELECT COUNT(*) FROM records").fetchone()[0]
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0


def _all_ids(data: Path) -> tuple[set[str], set[str]]:
    client = client_for(data)
    got = client.get_collection("sourcechat").get(include=["uris"])
    with_vectors = {i for i, uri in zip(got["ids"], got["uris"], strict=True) if uri}
    return set(got["ids"]), with_vectors


def _kill_midway(data: Path, docs: Path, at: int, rng: random.Random) -> None:
    proc = _cli(data, "ingest", str(docs), "--quiet")
    while _recorded(data) < at:
        if proc.poll() is not None:
            pytest.fail(f"the ingest finished before {at} chunks were recorded: "
                        f"{proc.stderr.read()}")
        time.sleep(0.02)
    time.sleep(rng.uniform(0.0, 0.8))  # land anywhere in the next batch: embed or write
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def test_sigkill_midway_then_rerun_matches_a_clean_ingest(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCECHAT_BATCH_SIZE", "8")  # many small batches: many kill points
    docs = _write_folder(tmp_path, 30)
    clean = tmp_path / "clean"
    done = _run(clean, "ingest", str(docs), "--quiet")
    assert done.returncode == 0, done.stderr
    want_chunks, with_vectors = _all_ids(clean)
    assert with_vectors == want_chunks
    assert len(want_chunks) >= 60

    data = tmp_path / "killed"
    rng = random.Random(5)
    _kill_midway(data, docs, len(want_chunks) // 4, rng)
    # killed: the index still answers, from what it holds
    first = sorted(docs.iterdir())[0]
    ask = _run(data, "ask", "--llm", "extractive", "--json",
               "Who keeps a pet ocelot in a garden shed?")
    assert ask.returncode == 0, ask.stderr
    answer = json.loads(ask.stdout)
    assert "Marta" in answer["answer"] and answer["citations"][0]["source"] == str(first)

    _kill_midway(data, docs, len(want_chunks) * 2 // 3, rng)  # the repair run is killed too
    again = _run(data, "ingest", str(docs), "--quiet")
    assert again.returncode == 0, again.stderr
    assert _all_ids(data) == (want_chunks, want_chunks)  # no duplicate, no orphan
    status = _run(data, "status", "--json")
    state = json.loads(status.stdout)
    assert status.returncode == 0 and state["consistent"], state
    assert state["chunks"] == state["records"] == state["keyword_index"] == len(want_chunks)
    # and a third run has nothing to do
    third = _run(data, "ingest", str(docs), "--quiet")
    assert "Nothing to embed: 30 file(s) unchanged" in third.stdout


def _encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(["The vault code is 4417."]))))
    writer.encrypt("hunter2")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _bad_folder(root: Path) -> tuple[Path, dict[str, str], dict[str, tuple[str, str]]]:
    """Good and bad files side by side: ({bad name: reason}, {good name: (question, answer)})."""
    import docx

    docs = root / "inbox"
    (docs / "sub").mkdir(parents=True)
    good = {
        "plain.txt": ("Who keeps a pet okapi?", "Greta"),
        "notes with spaces ünïcödé.md": ("Who keeps a pet quokka?", "Anselm"),
        "latin1.txt": ("Where does Yusuf drink his café au lait?", "Montréal"),
        "utf16.txt": ("Who keeps a pet narwhal?", "Rafael"),
        "report.docx": ("Who keeps a pet pangolin?", "Tobias"),
        "sub/scan.pdf": ("Who keeps a pet axolotl?", "Ingrid"),
    }
    (docs / "plain.txt").write_text("Greta keeps a pet okapi in the orchard. " + FILLER)
    (docs / "notes with spaces ünïcödé.md").write_text(
        "# Quokka notes\n\nAnselm keeps a pet quokka on the balcony. " + FILLER)
    (docs / "latin1.txt").write_bytes(
        ("Yusuf drinks his café au lait in Montréal every morning. " + FILLER).encode("latin-1"))
    (docs / "utf16.txt").write_bytes(
        ("Rafael keeps a pet narwhal in an aquarium. " + FILLER).encode("utf-16"))
    d = docx.Document()
    d.add_paragraph("Tobias keeps a pet pangolin in the library. " + FILLER)
    d.save(docs / "report.docx")
    (docs / "sub" / "scan.pdf").write_bytes(make_pdf(["Ingrid keeps a pet axolotl in a tank."]))

    bad = {
        "corrupt.pdf": "corrupt or unreadable PDF",
        "locked.pdf": "encrypted PDF",
        "binary.txt": "looks like a binary file",
        "empty.txt": "no text found",
        "huge.txt": "too large (50.0 MB; the limit is 20 MB",
        "sub/plain again.txt": "same content as",
    }
    (docs / "corrupt.pdf").write_bytes(b"%PDF-1.4\n1 0 obj <<< broken \x00\xff" * 50)
    (docs / "locked.pdf").write_bytes(_encrypted_pdf())
    (docs / "binary.txt").write_bytes(bytes(range(256)) * 64)
    (docs / "empty.txt").write_bytes(b"")
    line = b"A line of a very large log file that nobody should embed whole.\n"
    (docs / "huge.txt").write_bytes(line * (50 * 2**20 // len(line) + 1))
    (docs / "sub" / "plain again.txt").write_bytes((docs / "plain.txt").read_bytes())
    (docs / "sub" / "loop").symlink_to(docs, target_is_directory=True)  # a symlink loop
    locked = docs / "secret.txt"
    locked.write_text("Nobody may read this. " + FILLER)
    locked.chmod(0)
    bad["secret.txt"] = "permission denied"
    return docs, bad, good


def test_a_folder_of_bad_files_beside_good_ones(tmp_path):
    from assistant import Settings, build_assistant
    from corpus import SAMPLE_DIR

    data = tmp_path / "data"
    first = _run(data, "ingest", "--quiet")  # the sample corpus, indexed before
    assert first.returncode == 0, first.stderr
    docs, bad, good = _bad_folder(tmp_path)
    # root reads any file: drop the capabilities that let it, so 000 really is unreadable
    wrap = (["setpriv", "--bounding-set=-dac_override,-dac_read_search",
             "--inh-caps=-dac_override,-dac_read_search"] if os.geteuid() == 0 else [])
    run = _run(data, "ingest", str(docs), "--quiet", env={"SOURCECHAT_MAX_FILE_MB": "20"},
               wrap=wrap)
    assert run.returncode == 2, run.stderr  # partial: some files failed, the rest indexed
    lines = [ln for ln in run.stderr.splitlines() if ln.startswith("skipped: ")]
    for name, reason in bad.items():
        mine = [ln for ln in lines if f"{docs.resolve()}/{name}:" in ln]
        assert len(mine) == 1 and reason in mine[0], (name, lines)
    assert len(lines) == len(bad)  # one line each, and nothing else (the loop is no error)
    assert f"{len(good)} file(s) indexed" in run.stdout

    a = build_assistant(Settings(data_dir=data, llm="extractive"))
    sources = {Path(s).name: n for s, _, n in a.sources()}
    assert set(sources) == {Path(n).name for n in good} | {
        p.name for p in Path(str(SAMPLE_DIR)).iterdir() if p.suffix == ".txt"}
    for name, (question, expected) in good.items():
        answer = a.ask(question)
        assert answer.found and expected in answer.text, (name, answer.text)
        assert Path(answer.citations[0].passage.source).name == Path(name).name
    sample = a.ask(SAMPLE_QUESTION)
    assert sample.found and "93,000" in sample.text  # nothing indexed before was lost


def test_the_chat_keeps_answering_during_an_ingest(tmp_path):
    from assistant import Settings, build_assistant

    a = build_assistant(Settings(data_dir=tmp_path / "data", llm="extractive", batch_size=8))
    a.ensure_indexed()
    docs = _write_folder(tmp_path, 30)
    errors: list[BaseException] = []
    midway, answered = threading.Event(), threading.Event()

    def hold_midway(done, total, name):  # half the files read, some batches written
        if done >= total // 2 and not midway.is_set():
            midway.set()
            answered.wait(timeout=600)  # the reader asks while this ingest is unfinished

    def run_ingest():
        try:
            a.ingest([docs], progress=False, on_progress=hold_midway)
        except BaseException as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    writer = threading.Thread(target=run_ingest)
    writer.start()
    assert midway.wait(timeout=600)
    answers = during = 0
    while writer.is_alive() or answers < 3:
        answer = a.ask(SAMPLE_QUESTION)  # raises if a read breaks during the writes
        assert answer.found and "93,000" in answer.text
        a.retrieve(f"Who keeps a pet {ANIMALS[answers % 30]}?")
        answers += 1
        during += writer.is_alive()
        if answers == 3:
            answered.set()
    writer.join()
    assert not errors and during >= 3  # answered while the ingest was writing
    new = a.ask("Who keeps a pet tapir in a garden shed?")
    assert new.found and "Oskar" in new.text
