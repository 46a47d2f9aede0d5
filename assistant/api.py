"""The module-level Python API: `retrieve` and `ask` with the default settings."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from assistant.citations import Answer
from assistant.factory import build_assistant
from assistant.pipeline import Assistant
from index import Passage

_DEFAULT: Assistant | None = None
_LOCK = threading.Lock()


def default_assistant() -> Assistant:
    """The process-wide Assistant built from the environment's settings (built on first use)."""
    global _DEFAULT
    with _LOCK:
        if _DEFAULT is None:
            _DEFAULT = build_assistant()
        return _DEFAULT


def retrieve(question: str, k: int | None = None,
             sources: str | Sequence[str] | None = None) -> list[Passage]:
    """The `k` passages (1 to `MAX_K`; default: the `k` setting) that best match a question,
    best first; `sources`: the documents to search (names or paths, or one)."""
    return default_assistant().retrieve(question, k=k, sources=sources)


def ask(question: str, history: Sequence[dict] | None = None, k: int | None = None,
        sources: str | Sequence[str] | None = None) -> Answer:
    """Answer a question from the indexed documents, citing the passages used, or decline;
    `k` and `sources` as for `retrieve`."""
    return default_assistant().ask(question, history=history or [], k=k, sources=sources)
