"""`llamacpp:PATH.gguf`: a GGUF chat model run in-process by llama-cpp-python (optional extra).

llama-cpp-python builds from source; on CPUs whose native build crashes at
generation, build it with
`CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from assistant.local_models import LocalChatModel
from corpus.errors import BackendError

_LOCK = threading.RLock()


@lru_cache(maxsize=2)
def _load(path: str, n_ctx: int):
    try:
        from llama_cpp import Llama
    except ImportError:
        raise BackendError(
            "The llamacpp backend needs llama-cpp-python: pip install 'sourcechat[llamacpp]' "
            "(see the README for the build flags)") from None
    if not Path(path).is_file():
        raise BackendError(f"No GGUF file at {path}: give llamacpp:/path/to/model.gguf")
    try:
        return Llama(model_path=path, n_ctx=n_ctx, verbose=False)
    except (ValueError, RuntimeError) as err:
        raise BackendError(f"llama.cpp cannot load {path}: {err}") from None


class LlamaCppChatModel(LocalChatModel):
    """A GGUF model through llama-cpp-python's chat completion; greedy, streaming."""

    model_path: str
    n_ctx: int = 4096

    @property
    def _llm_type(self) -> str:
        return "sourcechat-llamacpp"

    def _pieces(self, chat: list[dict[str, str]],
                stop: list[str] | None) -> Iterator[tuple[str, str | None]]:
        with _LOCK:  # one generation at a time: a llama.cpp context is not thread-safe
            llm = _load(str(Path(self.model_path).expanduser()), self.n_ctx)
            for event in llm.create_chat_completion(chat, stream=True, temperature=0.0,
                                                    max_tokens=self.max_new_tokens, stop=stop):
                choice = event["choices"][0]
                yield choice["delta"].get("content") or "", choice.get("finish_reason")
