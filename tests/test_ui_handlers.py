"""Web chat handlers with the real assistant (no browser): chat, sources, uploads, API."""

from __future__ import annotations

import pytest

from tests.conftest import SAMPLE_QUESTION
from tests.files import make_pdf
from ui.app import Handlers, chat_history
from ui.uploads import safe_name

pytestmark = pytest.mark.slow


def _noop(*args, **kwargs):
    return None


@pytest.fixture()
def handlers(tmp_path):
    from assistant import Settings, build_assistant

    a = build_assistant(Settings(data_dir=tmp_path / "ui", llm="extractive"))
    a.ensure_indexed()
    return Handlers(a, max_upload_mb=0.01)


def test_respond_streams_answer_then_sources(handlers):
    steps = list(handlers.respond(SAMPLE_QUESTION, [], 5, "extractive"))
    messages, panel, box = steps[-1]
    assert box == ""
    assert [m["role"] for m in messages] == ["user", "assistant", "assistant"]
    assert "93,000" in messages[1]["content"] and 'href="#src-1">[1]</a>' in messages[1]["content"]
    assert messages[2]["metadata"]["title"] == "Sources (1)"
    assert 'id="src-1"' in panel and "<mark>" in panel and "93,000" in panel
    # the sources message is not sent back to the model as history
    assert [m["role"] for m in chat_history(messages)] == ["user", "assistant"]


def test_respond_declines_and_reports_errors_as_chat_messages(handlers):
    *_, (messages, panel, _) = handlers.respond("What is the capital of France?", [], 5,
                                                "extractive")
    assert "do not cover" in messages[-1]["content"]
    assert "No passage" in panel
    *_, (messages, _, _) = handlers.respond("   ", [], 5, "extractive")
    assert messages[-1]["content"].startswith("⚠️") and "empty" in messages[-1]["content"]
    *_, (messages, _, _) = handlers.respond("Hello?", [], 5, "nonsense")
    assert messages[-1]["content"] == ("⚠️ Backend 'nonsense' is not offered by this server: "
                                       "choose one of extractive, embedded.")
    *_, (messages, _, _) = handlers.respond("Hello?", [], 5, "llamacpp:/etc/passwd")
    assert "is not offered by this server" in messages[-1]["content"]


def test_uploads_good_and_bad(handlers, tmp_path):
    up = tmp_path / "in"
    up.mkdir()
    (up / "zorblat notes é.txt").write_text("The Zorblat festival is held every March.")
    (up / "virus.exe").write_bytes(b"MZ")
    (up / "empty.md").write_text("")
    (up / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (up / "big.txt").write_text("x" * 20000)  # over the 0.01 MB limit of this fixture
    (up / "paper.pdf").write_bytes(make_pdf(["Quokkas live on Rottnest Island."]))
    before = {row[0]: row[1] for row in handlers.documents()}
    files = [str(p) for p in sorted(up.iterdir())]
    status, table, _ = handlers.upload(files, progress=_noop)
    lines = status.split("\n\n")
    assert "✅ zorblat notes é.txt: added." in lines
    assert "✅ paper.pdf: added." in lines
    assert any(line.startswith("❌ virus.exe: unsupported file type") for line in lines)
    assert any(line.startswith("❌ empty.md: no text") for line in lines)
    assert any(line.startswith("❌ broken.pdf: corrupt") for line in lines)
    assert any(line.startswith("❌ big.txt:") and "limit" in line for line in lines)
    names = {row[0]: row[1] for row in table}
    assert names == {**before, "zorblat notes é.txt": 1, "paper.pdf": 1}
    *_, (messages, panel, _) = handlers.respond("When is the Zorblat festival held?", [], 5,
                                                "extractive")
    assert "March" in messages[1]["content"] and "zorblat notes é.txt" in panel
    status, table, _ = handlers.remove(str(handlers.uploads_dir / "paper.pdf"))
    assert status == "Removed paper.pdf (1 passages)."
    assert "paper.pdf" not in {row[0] for row in table}


@pytest.mark.parametrize("name,expected", [
    ("../../etc/passwd", "passwd"), ("..\\..\\win.ini", "win.ini"), (".hidden.txt", "hidden.txt"),
    ("a/b/../c d.md", "c d.md"), ("$(rm -rf).txt", "_rm -rf_.txt"), ("..", "upload"),
])
def test_safe_names(name, expected):
    assert safe_name(name) == expected


def test_api_ask_returns_the_cli_json(handlers):
    obj = handlers.api_ask(SAMPLE_QUESTION)
    assert obj["found"] is True and "93,000" in obj["answer"]
    assert obj["citations"][0]["n"] == 1


def test_a_backend_that_is_down_is_one_chat_message_and_the_chat_goes_on(tmp_path):
    import socket

    from assistant import Settings, build_assistant

    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    a = build_assistant(Settings(data_dir=tmp_path / "ui", llm="openai:some-model",
                                 llm_base_url=f"http://127.0.0.1:{port}/v1", llm_timeout=5))
    a.ensure_indexed()
    h = Handlers(a, max_upload_mb=1)
    *_, (messages, _, _) = h.respond(SAMPLE_QUESTION, [], 5, "openai:some-model")
    assert messages[-1]["content"] == (
        f"⚠️ Backend openai:some-model failed (the OpenAI-compatible server at "
        f"http://127.0.0.1:{port}/v1): cannot connect: is it running? Check "
        "SOURCECHAT_LLM_BASE_URL (--llm-base-url).")
    *_, (messages, _, _) = h.respond(SAMPLE_QUESTION, messages, 5, "extractive")
    assert "93,000" in messages[-2]["content"]  # the next question is answered
