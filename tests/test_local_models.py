"""The in-process models' shared streaming (fast: a scripted model, no weights)."""

from __future__ import annotations

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import HumanMessage, SystemMessage

from assistant.local_models import LocalChatModel, chat_messages


class Scripted(LocalChatModel):
    pieces: list[tuple[str, str | None]]
    seen: list = []

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _pieces(self, chat, stop):
        self.seen.append((chat, stop))
        yield from self.pieces


class Tokens(BaseCallbackHandler):
    def __init__(self):
        self.tokens = []

    def on_llm_new_token(self, token, **kwargs):
        self.tokens.append(token)


SCRIPT = [("Paris ", None), ("", None), ("is the capital [1].", None), ("", "length")]


def test_messages_become_role_dicts():
    assert chat_messages([SystemMessage("rules"), HumanMessage("q?")]) == [
        {"role": "system", "content": "rules"}, {"role": "user", "content": "q?"}]


def test_pieces_stream_as_chunks_with_the_finish_reason():
    model = Scripted(pieces=SCRIPT, max_new_tokens=8, seen=[])
    chunks = list(model.stream([HumanMessage("q?")], stop=["\n\n"]))
    texts = [c.content for c in chunks if c.content]
    assert texts == ["Paris ", "is the capital [1]."]
    reasons = [c.response_metadata.get("finish_reason") for c in chunks]
    assert [r for r in reasons if r] == ["length"]
    assert reasons.index("length") == 2  # empty pieces are dropped, the reason is kept
    assert model.seen == [([{"role": "user", "content": "q?"}], ["\n\n"])]


def test_the_whole_answer_is_the_stream_joined_and_its_tokens_reported():
    model = Scripted(pieces=SCRIPT, max_new_tokens=8, seen=[])
    tokens = Tokens()
    reply = model.invoke([HumanMessage("q?")], config={"callbacks": [tokens]})
    assert reply.content == "Paris is the capital [1]."
    assert tokens.tokens == ["Paris ", "is the capital [1]."]


class Counting(LocalChatModel):
    """A greedy model that says 'word0 word1 ...' and counts its runs."""

    runs: list = []

    @property
    def _llm_type(self) -> str:
        return "counting"

    def _pieces(self, chat, stop):
        self.runs.append(chat[-1]["content"])
        for i in range(5):
            yield f"word{i} ", None
        yield "", "stop"


def test_the_same_request_is_answered_once_and_replayed():
    model = Counting(max_new_tokens=8, runs=[])
    first = model.invoke([HumanMessage("q?")]).content
    again = model.invoke([HumanMessage("q?")]).content
    other = model.invoke([HumanMessage("another?")]).content
    assert first == again == other == "word0 word1 word2 word3 word4 "
    assert model.runs == ["q?", "another?"]
    assert Counting(max_new_tokens=16, runs=[]).invoke([HumanMessage("q?")]).content  # own cache


def test_a_stream_stopped_early_is_replayed_then_continued():
    model = Counting(max_new_tokens=8, runs=[])
    stream = model.stream([HumanMessage("q?")])
    assert [next(stream).content, next(stream).content] == ["word0 ", "word1 "]
    stream.close()  # the consumer stopped (a grounding check failed, the user left)
    assert "".join(c.content for c in model.stream([HumanMessage("q?")])) == \
        "word0 word1 word2 word3 word4 "
    assert model.runs == ["q?", "q?"]  # continued for real once, never a piece twice
    model.invoke([HumanMessage("q?")])
    assert model.runs == ["q?", "q?"]  # now complete: replayed
