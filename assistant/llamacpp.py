"""GGUF chat models run in-process by llama-cpp-python: `llamacpp:PATH.gguf`, and the
embedded SmolLM2's default runtime (assistant/embedded.py).

A llama.cpp context generates one answer at a time, so each model file gets a small
pool of contexts (`Settings.llm_parallel`): several chat users are answered at once
instead of queueing whole answers behind one context. The cores are shared out
between the answers being generated, re-balanced at every token: one user gets them
all, two on two cores one each (llama.cpp's threads spin while they wait, so more
threads than cores would slow everyone down).

llama-cpp-python builds from source; on CPUs whose native build crashes at
generation, build it with
`CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"`.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assistant.local_models import LocalChatModel
from corpus.errors import BackendError

NOT_BUILT = ("The llamacpp backend needs llama-cpp-python: make install builds it (or pip "
             "install 'sourcechat[llamacpp]' with the README's build flags)")


def available() -> bool:
    """Whether llama-cpp-python is installed (without importing it)."""
    return importlib.util.find_spec("llama_cpp") is not None


def threads_per_answer(busy: int) -> int:
    """The cores shared out between the answers being generated (at least one each)."""
    return max(1, (os.cpu_count() or 1) // max(1, busy))


class ContextPool:
    """Up to `size` llama.cpp contexts of one GGUF file, created as demand needs them;
    a generation leases one for its whole stream."""

    def __init__(self, path: str, n_ctx: int, size: int):
        self.path, self.n_ctx, self.size = path, n_ctx, max(1, size)
        self._idle: queue.LifoQueue = queue.LifoQueue()
        self._created = 0
        self.busy = 0  # contexts generating right now
        self._lock = threading.Lock()

    def _new(self):
        try:
            from llama_cpp import Llama
        except ImportError:
            raise BackendError(NOT_BUILT) from None
        if not Path(self.path).is_file():
            raise BackendError(f"No GGUF file at {self.path}: give llamacpp:/path/to/model.gguf")
        threads = threads_per_answer(1)
        try:
            return Llama(model_path=self.path, n_ctx=self.n_ctx, n_threads=threads,
                         n_threads_batch=threads, verbose=False)
        except (ValueError, RuntimeError) as err:
            raise BackendError(f"llama.cpp cannot load {self.path}: {err}") from None

    @contextmanager
    def lease(self):
        """A context for one generation (waits when all `size` are busy)."""
        try:
            llm = self._idle.get_nowait()
        except queue.Empty:
            with self._lock:
                grow = self._created < self.size
                if grow:
                    self._created += 1
            if grow:
                try:
                    llm = self._new()
                except BaseException:
                    with self._lock:
                        self._created -= 1
                    raise
            else:
                llm = self._idle.get()
        with self._lock:
            self.busy += 1
        try:
            yield llm
        finally:
            with self._lock:
                self.busy -= 1
            self._idle.put(llm)

    def threads(self) -> int:
        """Threads each generating context should use now."""
        return threads_per_answer(self.busy)

    @staticmethod
    def use_threads(llm, threads: int) -> None:
        """Set a context's threads (for prompt processing and generation alike)."""
        import llama_cpp

        llama_cpp.llama_set_n_threads(llm.ctx, threads, threads)

    def close(self) -> None:
        """Free the idle contexts (llama.cpp's own finalizers fail at interpreter exit)."""
        while True:
            try:
                llm = self._idle.get_nowait()
            except queue.Empty:
                return
            llm.close()


_POOLS: dict[tuple[str, int, int], ContextPool] = {}
_POOLS_LOCK = threading.Lock()


@atexit.register
def _close_pools() -> None:
    for contexts in list(_POOLS.values()):
        contexts.close()


def pool(path: str, n_ctx: int, size: int) -> ContextPool:
    """The process-wide pool of a model file (created once)."""
    key = (str(Path(path).expanduser()), n_ctx, size)
    with _POOLS_LOCK:
        if key not in _POOLS:
            _POOLS[key] = ContextPool(*key)
        return _POOLS[key]


def generate(contexts: ContextPool, chat: list[dict[str, str]], max_tokens: int,
             stop: list[str] | None = None,
             repeat_penalty: float = 1.0) -> Iterator[tuple[str, str | None]]:
    """Greedy streamed chat completion: (text piece, finish reason or None). Closing the
    iterator stops the generation and frees its context for the next one."""
    with contexts.lease() as llm:
        threads = contexts.threads()
        contexts.use_threads(llm, threads)
        for event in llm.create_chat_completion(chat, stream=True, temperature=0.0,
                                                max_tokens=max_tokens, stop=stop,
                                                repeat_penalty=repeat_penalty):
            choice = event["choices"][0]
            yield choice["delta"].get("content") or "", choice.get("finish_reason")
            if (now := contexts.threads()) != threads:  # a user came or went: re-balance
                contexts.use_threads(llm, now)
                threads = now


class LlamaCppChatModel(LocalChatModel):
    """A GGUF model through llama-cpp-python's chat completion; greedy, streaming."""

    model_path: str
    parallel: int
    n_ctx: int = 4096

    @property
    def _llm_type(self) -> str:
        return "sourcechat-llamacpp"

    def _pieces(self, chat: list[dict[str, str]],
                stop: list[str] | None) -> Iterator[tuple[str, str | None]]:
        yield from generate(pool(self.model_path, self.n_ctx, self.parallel), chat,
                            self.max_new_tokens, stop)
