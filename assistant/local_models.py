"""What the in-process chat models share (embedded SmolLM2, llama.cpp GGUF files).

A subclass turns a chat (role/content dicts) into text pieces; this base makes them
LangChain chunks (with the finish reason when the model gives one), reports each
token to the callbacks, and builds the whole answer from the stream.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

ROLES = {"human": "user", "ai": "assistant", "system": "system"}


def chat_messages(messages: list[BaseMessage]) -> list[dict[str, str]]:
    """LangChain messages as the role/content dicts of a chat template."""
    return [{"role": ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]


class LocalChatModel(BaseChatModel):
    """A chat model run in this process: greedy, streaming, `max_new_tokens` per answer."""

    max_new_tokens: int

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
        for piece, reason in self._pieces(chat_messages(messages), stop):
            if piece or reason:  # the reason ("stop"/"length") tells a cut answer apart
                chunk = ChatGenerationChunk(message=AIMessageChunk(
                    content=piece,
                    response_metadata={"finish_reason": reason} if reason else {}))
                if run_manager and piece:
                    run_manager.on_llm_new_token(piece, chunk=chunk)
                yield chunk
