"""What the in-process chat models share (embedded SmolLM2, llama.cpp GGUF files).

A subclass turns a chat (role/content dicts) into text pieces; this base makes them
LangChain chunks (with the finish reason when the model gives one), reports each
token to the callbacks, and builds the whole answer from the stream.

Generation is greedy, so the same request always gets the same answer: the pieces
of recent requests are kept (`CACHED_REQUESTS`) and replayed, which spares many
users asking the same question about the same documents a model run each. A
stream the consumer stopped early is kept as far as it went; a longer read of the
same request replays that part and then generates, passing over the pieces
already replayed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

ROLES = {"human": "user", "ai": "assistant", "system": "system"}
CACHED_REQUESTS = 512  # recent requests whose answers are replayed (a few KB each)


def chat_messages(messages: list[BaseMessage]) -> list[dict[str, str]]:
    """LangChain messages as the role/content dicts of a chat template."""
    return [{"role": ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]


class LocalChatModel(BaseChatModel):
    """A chat model run in this process: greedy, streaming, `max_new_tokens` per answer."""

    max_new_tokens: int
    _cache: OrderedDict = PrivateAttr(default_factory=OrderedDict)
    _cache_lock: Any = PrivateAttr(default_factory=threading.Lock)

    def _pieces(self, chat: list[dict[str, str]],
                stop: list[str] | None) -> Iterator[tuple[str, str | None]]:
        """(text, finish reason or None) as the model produces them."""
        raise NotImplementedError

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None,
                  **kwargs: Any) -> ChatResult:
        text = "".join(chunk.text for chunk in self._stream(messages, stop, run_manager))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        for piece, reason in self._cached_pieces(chat_messages(messages), stop):
            if piece or reason:  # the reason ("stop"/"length") tells a cut answer apart
                chunk = ChatGenerationChunk(message=AIMessageChunk(
                    content=piece,
                    response_metadata={"finish_reason": reason} if reason else {}))
                if run_manager and piece:
                    run_manager.on_llm_new_token(piece, chunk=chunk)
                yield chunk

    def _cached_pieces(self, chat: list[dict[str, str]],
                       stop: list[str] | None) -> Iterator[tuple[str, str | None]]:
        """`_pieces`, replaying what an earlier identical request produced."""
        key = (repr(chat), self.max_new_tokens, tuple(stop or ()))
        with self._cache_lock:
            pieces, complete = self._cache.get(key, ((), False))
            if pieces:
                self._cache.move_to_end(key)
        yield from pieces
        if complete:
            return
        produced: list[tuple[str, str | None]] = []
        finished = False
        try:
            for n, piece in enumerate(self._pieces(chat, stop)):
                produced.append(piece)
                if n >= len(pieces):  # greedy: the first ones are those replayed
                    yield piece
            finished = True
        finally:  # finished, or stopped by the consumer: keep what was produced
            if finished or len(produced) > len(pieces):
                with self._cache_lock:
                    self._cache[key] = (tuple(produced), finished)
                    self._cache.move_to_end(key)
                    while len(self._cache) > CACHED_REQUESTS:
                        self._cache.popitem(last=False)
