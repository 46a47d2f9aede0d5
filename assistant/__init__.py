"""Answers with citations over the indexed documents: the public Python API.

    from assistant import ask, retrieve
    passages = retrieve("How many people migrated?", k=5)
    answer = ask("How many people migrated?", history=[])

Importing this package loads no model: models load on first use.
"""

from assistant.api import ask, default_assistant, retrieve
from assistant.citations import Answer, Citation
from assistant.factory import build_assistant
from assistant.pipeline import Assistant
from assistant.settings import Settings
from corpus.errors import SourcechatError
from index.passages import Passage

__all__ = [
    "Answer", "Assistant", "Citation", "Passage", "Settings", "SourcechatError", "ask",
    "build_assistant", "default_assistant", "retrieve",
]
