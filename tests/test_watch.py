"""A folder that stays in step: `sourcechat ingest --watch` and `sourcechat serve --watch`
as real processes, files added, saved several times quickly, renamed and deleted."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.serving import running_serve

pytestmark = pytest.mark.slow
WAIT = 240  # readiness waits, not performance limits: the machine is shared


class Lines:
    """A process's stdout lines, read on a thread (JSON objects decoded)."""

    def __init__(self, proc: subprocess.Popen):
        self.q: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc):
        for line in proc.stdout:
            if line.strip():
                self.q.put(json.loads(line))

    def next(self, timeout: float = WAIT) -> dict:
        return self.q.get(timeout=timeout)

    def none_within(self, seconds: float) -> bool:
        try:
            self.q.get(timeout=seconds)
        except queue.Empty:
            return True
        return False


def test_ingest_watch_keeps_the_index_in_step(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("Alpha notes: the quokka colony counts 212 animals.")
    env = {**os.environ, "SOURCECHAT_WATCH_DEBOUNCE_MS": "700"}
    data = ["--data-dir", str(tmp_path / "data")]
    proc = subprocess.Popen([sys.executable, "-m", "ui", *data, "ingest", "--watch", "--json",
                             str(folder)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        lines = Lines(proc)
        first = lines.next()
        assert first["indexed"] == [str(folder / "a.txt")]
        time.sleep(1)  # let the watcher start before the first change
        (folder / "b.txt").write_text("Beta notes: the ferry leaves at 9:30.")
        assert lines.next()["indexed"] == [str(folder / "b.txt")]
        for i in range(3):  # three quick saves: one re-index
            (folder / "c.txt").write_text(f"Gamma notes, draft {i}: the pier is 300 m long.")
            time.sleep(0.1)
        saved = lines.next()
        assert saved["indexed"] == [str(folder / "c.txt")]
        assert lines.none_within(3.0), "quick saves of one file were indexed more than once"
        (folder / "b.txt").rename(folder / "b2.txt")
        renamed = lines.next()
        assert renamed["indexed"] == [str(folder / "b2.txt")]
        assert renamed["removed"] == [str(folder / "b.txt")]
        (folder / "a.txt").unlink()
        deleted = lines.next()
        assert deleted["removed"] == [str(folder / "a.txt")] and deleted["indexed"] == []
        assert deleted["chunks_in_index"] == 2  # b2 and c, one passage each, no leftovers
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    listed = subprocess.run([sys.executable, "-m", "ui", *data, "sources", "--json"],
                            capture_output=True, text=True, check=True).stdout
    assert sorted(Path(d["source"]).name for d in json.loads(listed)) == ["b2.txt", "c.txt"]
    ask = subprocess.run([sys.executable, "-m", "ui", *data, "ask", "--json",
                          "How long is the pier?"], capture_output=True, text=True, check=True)
    assert "draft 2" in json.loads(ask.stdout)["answer"]  # the last save, once


def test_watch_needs_folders(tmp_path):
    out = subprocess.run([sys.executable, "-m", "ui", "--data-dir", str(tmp_path / "d"),
                          "ingest", "--watch", str(tmp_path / "nope.txt")],
                         capture_output=True, text=True)
    assert out.returncode == 1
    assert out.stderr.strip() == (f"error: --watch: {tmp_path / 'nope.txt'} is not a folder; "
                                  "give folders to watch.")


def test_serve_watch_answers_what_lands_in_the_folder(tmp_path, model_cache):
    from gradio_client import Client

    folder = tmp_path / "inbox"
    folder.mkdir()
    env = {"SOURCECHAT_DATA_DIR": str(tmp_path / "data"), "SOURCECHAT_WATCH_DEBOUNCE_MS": "500",
           "SOURCECHAT_MODEL_CACHE_DIR": str(model_cache)}
    with running_serve(tmp_path, "--llm", "extractive", "--watch", str(folder),
                       env=env) as url:
        client = Client(url, verbose=False)
        log = tmp_path / "serve.log"
        deadline = time.monotonic() + WAIT
        while "watching 1 folder" not in log.read_text():
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
        (folder / "memo.txt").write_text("The Zorblat festival moves to October this year.")
        while True:  # answered once the watcher has indexed it; the chat answers meanwhile
            got = client.predict("When is the Zorblat festival this year?", api_name="/ask")
            if got["found"]:
                break
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(1)
        assert "October" in got["answer"]
        assert got["citations"][0]["source"] == str(folder / "memo.txt")
