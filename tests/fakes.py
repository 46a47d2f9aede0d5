"""A fast Assistant for logic tests: LangChain's fake embeddings (and chat model, if
given), a real Chroma in the test's data dir, wired as `build_assistant` wires it."""

from __future__ import annotations

from pathlib import Path

from langchain_core.embeddings import DeterministicFakeEmbedding

from assistant import Assistant, Settings
from assistant.evidence import EvidenceScorer
from index import ChunkStore, KeywordIndex, PassageRetriever
from tests.stores import client_for


def fake_assistant(tmp_path: Path, chat=None, model: str = "fake-a", **settings) -> Assistant:
    """An Assistant over the collection 'test' in `tmp_path` (settings: keyword overrides)."""
    emb = DeterministicFakeEmbedding(size=16)
    store = ChunkStore(client_for(tmp_path), "test", emb, model)
    s = Settings(data_dir=tmp_path, **{"min_relevance": -10.0, "llm": "extractive", **settings})
    retriever = PassageRetriever(store=store, keyword=KeywordIndex(store, tmp_path / "kw"),
                                 k=s.k, dense_weight=s.dense_weight,
                                 keyword_weight=s.keyword_weight,
                                 exact_identifiers=s.exact_identifiers)
    scorer = EvidenceScorer(emb, gate_weights=s.gate_weights)
    return Assistant(s, store, retriever, chat, scorer)
