"""The embedded model's runtimes and the llama.cpp context pool (fast: fakes for the
model; the real runtimes answer in test_end_to_end.py)."""

from __future__ import annotations

import logging
import threading

import pytest

from assistant import embedded, llamacpp
from assistant.embedded import EmbeddedChatModel
from corpus.errors import BackendError


def model(runtime: str) -> EmbeddedChatModel:
    return EmbeddedChatModel(models_dir="/nonexistent", max_new_tokens=8, runtime=runtime,
                             parallel=1)


def test_without_llama_cpp_auto_falls_back_to_transformers_saying_so_once(monkeypatch,
                                                                          caplog):
    monkeypatch.setattr(llamacpp, "available", lambda: False)
    monkeypatch.setattr(embedded, "_warned", threading.Event())
    monkeypatch.setattr(EmbeddedChatModel, "_transformers_pieces",
                        lambda self, chat, stop: iter([("From transformers.", "stop")]))
    with caplog.at_level(logging.WARNING):
        first = model("auto").invoke("Hello?").content
        second = model("auto").invoke("Hello?").content
    assert first == second == "From transformers."
    assert [r.getMessage() for r in caplog.records] == [embedded.FALLBACK]


def test_asking_for_llama_cpp_without_it_is_one_clear_line(monkeypatch):
    monkeypatch.setattr(llamacpp, "available", lambda: False)
    with pytest.raises(BackendError, match="^SOURCECHAT_EMBEDDED_RUNTIME=llamacpp, but The "
                                           "llamacpp backend needs llama-cpp-python"):
        model("llamacpp").uses_llamacpp()


def test_transformers_when_asked_even_with_llama_cpp(monkeypatch):
    monkeypatch.setattr(llamacpp, "available", lambda: True)
    assert not model("transformers").uses_llamacpp()
    assert model("auto").uses_llamacpp()


class FakeLlama:
    """A llama.cpp context whose generation waits at a barrier shared by all of them."""

    made = 0

    def __init__(self, barrier: threading.Barrier | None = None):
        FakeLlama.made += 1
        self.barrier = barrier

    def create_chat_completion(self, chat, **kwargs):
        for word in ("One", " two", " three."):
            if self.barrier is not None:
                self.barrier.wait()  # every user's stream takes a step together
            yield {"choices": [{"delta": {"content": word}, "finish_reason": None}]}
        yield {"choices": [{"delta": {}, "finish_reason": "stop"}]}


def make_pool(size: int, barrier=None) -> llamacpp.ContextPool:
    FakeLlama.made = 0
    contexts = llamacpp.ContextPool("/fake.gguf", 512, size)
    contexts._new = lambda: FakeLlama(barrier)
    contexts.use_threads = lambda llm, n: setattr(llm, "threads", n)
    return contexts


def run_users(contexts, users: int) -> list:
    results: list = []

    def user():
        try:
            results.append("".join(p for p, _ in llamacpp.generate(contexts, [], 8)))
        except threading.BrokenBarrierError as err:
            results.append(err)

    threads = [threading.Thread(target=user) for _ in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_two_users_generate_at_once_with_two_contexts():
    contexts = make_pool(2, threading.Barrier(2, timeout=120))  # only a failure waits
    assert run_users(contexts, 2) == ["One two three."] * 2
    assert FakeLlama.made == 2


def test_one_context_serializes_whole_answers():
    """The control: with one context the two streams cannot step together."""
    contexts = make_pool(1, threading.Barrier(2, timeout=1))  # can never be met
    results = run_users(contexts, 2)
    assert any(isinstance(r, threading.BrokenBarrierError) for r in results)
    assert FakeLlama.made == 1


def test_contexts_are_made_on_demand_and_reused():
    contexts = make_pool(4)
    assert run_users(contexts, 1) == ["One two three."]
    assert run_users(contexts, 1) == ["One two three."]
    assert FakeLlama.made == 1  # one user at a time never needs a second context


def test_a_stream_closed_early_frees_its_context():
    contexts = make_pool(1)
    stream = llamacpp.generate(contexts, [], 8)
    assert next(stream) == ("One", None)
    stream.close()  # the answer was stopped early (grounding), or the user left
    assert "".join(p for p, _ in llamacpp.generate(contexts, [], 8)) == "One two three."
    assert FakeLlama.made == 1


def test_threads_share_out_the_cores(monkeypatch):
    monkeypatch.setattr(llamacpp.os, "cpu_count", lambda: 8)
    assert [llamacpp.threads_per_answer(n) for n in (0, 1, 2, 3, 8, 16)] == [8, 8, 4, 2, 1, 1]


def test_a_lone_answer_gets_every_core_and_shares_them_when_a_user_comes(monkeypatch):
    monkeypatch.setattr(llamacpp.os, "cpu_count", lambda: 2)
    contexts = make_pool(2)
    first = llamacpp.generate(contexts, [], 8)
    next(first)
    assert _leased(first)[0].threads == 2
    second = llamacpp.generate(contexts, [], 8)
    next(second)  # two answers at once: one core each, the first re-balanced at its token
    next(first)
    threads = sorted(llm.threads for llm in _leased(first, second))
    assert threads == [1, 1]
    list(second)
    list(first)
    assert contexts.busy == 0


def _leased(*streams):
    """The contexts the streams hold (from their generator frames)."""
    return [stream.gi_frame.f_locals["llm"] for stream in streams]
