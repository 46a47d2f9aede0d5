"""Access control on a real `sourcechat serve`: logins required, and uploads stay inside."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_QUESTION
from tests.serving import running_serve

pytestmark = pytest.mark.slow


def _status(url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_without_a_login_the_page_and_the_api_refuse(tmp_path):
    from gradio_client import Client

    creds = tmp_path / "logins.txt"
    creds.write_text("# team\nbob:pa:ss,word\n")
    with running_serve(tmp_path, "--llm", "extractive", "--auth", "alice:s3cret",
                       "--auth-file", str(creds)) as url:
        # the page is only a login form: its config and the API answer 401
        code, page = _status(url + "/")
        assert code == 200 and '"auth_required":true' in page and "93,000" not in page
        for path in ("/config", "/gradio_api/info", "/gradio_api/file=/etc/passwd"):
            code, body = _status(url + path)
            assert code == 401 and "Not authenticated" in body, path
        code, body = _status(url + "/gradio_api/call/ask", json.dumps(
            {"data": [SAMPLE_QUESTION]}).encode(), {"Content-Type": "application/json"})
        assert code == 401
        with pytest.raises(Exception):  # noqa: B017 - gradio_client's error type varies
            Client(url, verbose=False).predict(SAMPLE_QUESTION, api_name="/ask")
        wrong = urllib.parse.urlencode({"username": "alice", "password": "nope"}).encode()
        assert _status(url + "/login", wrong)[0] == 400

        # with a login (from --auth or from the file) the API answers, cited
        for user, password in (("alice", "s3cret"), ("bob", "pa:ss,word")):
            got = Client(url, auth=(user, password), verbose=False).predict(
                SAMPLE_QUESTION, api_name="/ask")
            assert got["found"] and "93,000" in got["answer"], got
            assert "93,000" in got["citations"][0]["text"]

        # a kept conversation through the API: its login continues it, another cannot
        alice = Client(url, auth=("alice", "s3cret"), verbose=False)
        first = alice.predict(SAMPLE_QUESTION, conversation="new", api_name="/ask")
        cid = first["conversation"]
        again = alice.predict("Who wrote the letter?", conversation=cid, api_name="/ask")
        assert again["conversation"] == cid
        bob = Client(url, auth=("bob", "pa:ss,word"), verbose=False)
        with pytest.raises(Exception, match="not yours"):  # noqa: B017 - gradio_client's type
            bob.predict("Who wrote the letter?", conversation=cid, api_name="/ask")


def test_crafted_upload_names_stay_inside(tmp_path):
    """Through the real server (Gradio's upload route) and through our upload handler,
    a file name like ../../etc/passwd lands inside the uploads folder, renamed."""
    import httpx

    from assistant import Settings, build_assistant
    from ui.app import Handlers

    crafted = ["../../etc/passwd.txt", "..\\..\\boot.ini.txt", "/abs/olute.md", ".hidden.txt"]
    with running_serve(tmp_path, "--llm", "extractive", "--auth", "alice:s3cret") as url:
        with httpx.Client(base_url=url, timeout=60) as http:
            refused = http.post("/gradio_api/upload", files=[("files", ("x.txt", b"hi"))])
            assert refused.status_code == 401  # no upload without a login either
            assert http.post("/login", data={"username": "alice",
                                             "password": "s3cret"}).status_code == 200
            got = http.post("/gradio_api/upload", files=[
                ("files", (name, f"Upload {i} is about the quokka colony.".encode()))
                for i, name in enumerate(crafted)])
            assert got.status_code == 200, got.text
            for stored in map(Path, got.json()):  # one plain name in gradio's cache folder
                assert ".." not in stored.parts and stored.resolve() == stored, stored
                assert stored.parent.parent.name == "gradio", stored
    assert not Path("/etc/passwd.txt").exists() and not Path("/abs").exists()

    class Upload(str):  # what a client that keeps the original name hands the handler
        orig_name: str

    a = build_assistant(Settings(data_dir=tmp_path / "h", llm="extractive"))
    h = Handlers(a, max_upload_mb=1)
    files = []
    for i, name in enumerate(crafted):
        p = tmp_path / f"plain{i}.txt"
        p.write_text(f"Upload {i} is about the quokka colony number {i}.")
        f = Upload(str(p))
        f.orig_name = name
        files.append(f)
    status, _, _ = h.upload(files, progress=lambda *a, **k: None)
    stored = sorted(p.name for p in h.uploads_dir.iterdir())
    assert stored == ["boot.ini.txt", "hidden.txt", "olute.md",
                      "passwd.txt"], stored
    assert all(p.resolve().parent == h.uploads_dir.resolve() for p in h.uploads_dir.iterdir())
    assert status.count("added.") == 4
