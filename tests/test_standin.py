"""The stand-in OpenAI-compatible server (tests/standin.py), spoken to through
langchain_openai.ChatOpenAI as the `openai:` backend does: exact replies, streaming,
length cuts, recorded requests, and the stand-alone command."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI

from assistant.prompts import format_sources, prompt
from tests.serving import free_port
from tests.standin import faithful_reply, standin_server

NORMANS = ("The Normans came from Normandy. In 1066 the Normans conquered England. "
           "England was rich.")
ROLLO = "Rollo led the Vikings. Rollo became a duke."
QUESTION = "When did the Normans conquer England?"
FAITHFUL = ("- In 1066 the Normans conquered England. [1]\n"
            "- Rollo led the Vikings. [2]")


def _messages(passages: list[str], question: str = QUESTION):
    """The messages the pipeline sends: the real prompt files."""
    return [SystemMessage(prompt("system")), HumanMessage(
        prompt("question").format(sources=format_sources(passages), question=question))]


def _model(server, max_tokens: int = 160) -> ChatOpenAI:
    """Built as assistant/backends.py builds the openai: backend."""
    return ChatOpenAI(model="standin", base_url=server.base_url, api_key="not-needed",
                      temperature=0, max_completion_tokens=max_tokens, timeout=10,
                      max_retries=0)


def _streamed(model: ChatOpenAI, messages) -> tuple[str, str, int]:
    """(text, finish_reason, number of chunks) of a streamed reply."""
    chunks = list(model.stream(messages))
    finish = next(c.response_metadata["finish_reason"] for c in chunks
                  if "finish_reason" in c.response_metadata)
    return "".join(str(c.content) for c in chunks), finish, len(chunks)


def test_faithful_quotes_each_sources_best_sentence_invoke_and_stream():
    with standin_server() as server:
        model = _model(server)
        reply = model.invoke(_messages([NORMANS, ROLLO]))
        assert reply.content == FAITHFUL
        assert reply.response_metadata["finish_reason"] == "stop"
        text, finish, n_chunks = _streamed(model, _messages([NORMANS, ROLLO]))
        assert (text, finish) == (FAITHFUL, "stop")
        assert n_chunks >= 16  # one chunk per word: it really streams
        assert len(server.requests) == 2
        first, second = server.requests
        assert first["max_completion_tokens"] == 160 and not first.get("stream")
        assert second["stream"] is True
        assert [m["role"] for m in second["messages"]] == ["system", "user"]
        assert second["messages"][1]["content"].count("\n[") == 2  # two passages shown


def test_faithful_single_source_ties_and_no_sources():
    one = prompt("question").format(sources=format_sources([NORMANS]), question=QUESTION)
    assert faithful_reply(one) == "In 1066 the Normans conquered England. [1]"
    # no content word shared: every sentence ties at 0, the earliest wins
    tie = prompt("question").format(sources=format_sources([ROLLO]), question="Why?")
    assert faithful_reply(tie) == "Rollo led the Vikings. [1]"
    # a focused excerpt's pieces (joined by " … ") are never quoted as one sentence
    excerpt = prompt("question").format(
        sources=format_sources(["Rollo led the Vikings. … In 911 Rollo became a duke."]),
        question="When did Rollo become a duke?")
    assert faithful_reply("The sources are between <sources> and </sources>.\n" + excerpt) == (
        "In 911 Rollo became a duke. [1]")
    rewrite = prompt("rewrite_question").format(
        conversation="user: Who was Rollo?\nassistant: A Viking leader.",
        question="What did he become?")
    assert faithful_reply(rewrite) == "What did he become?"
    assert faithful_reply("Hello there.\nSay something") == "Say something"


def test_length_cut_reports_length():
    with standin_server() as server:
        model = _model(server, max_tokens=4)
        reply = model.invoke(_messages([NORMANS, ROLLO]))
        assert reply.content == "- In 1066 the"
        assert reply.response_metadata["finish_reason"] == "length"
        assert _streamed(model, _messages([NORMANS, ROLLO]))[:2] == ("- In 1066 the", "length")
        assert [r["max_completion_tokens"] for r in server.requests] == [4, 4]


def test_scripted_mode_and_models_endpoint():
    script = "Rollo founded Normandy in 911 [1]. He was a Viking [2]."
    with standin_server("scripted", script) as server:
        assert _model(server).invoke("Anything?").content == script
        assert _streamed(_model(server, 3), [HumanMessage("Anything?")])[:2] == (
            "Rollo founded Normandy", "length")
        with urllib.request.urlopen(f"{server.base_url}/models") as r:
            assert json.load(r)["data"][0]["id"] == "standin"
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{server.base_url}/nowhere")
        assert err.value.code == 404
    with pytest.raises(ValueError, match="needs its text"):
        with standin_server("scripted"):
            pass


def test_standalone_command_serves_until_killed():
    port = free_port()
    script = Path(__file__).with_name("standin.py")
    proc = subprocess.Popen([sys.executable, str(script), "--port", str(port)],
                            stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url == f"http://127.0.0.1:{port}/v1"
        with urllib.request.urlopen(f"{url}/models") as r:
            assert r.status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)
