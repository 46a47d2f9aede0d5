"""A chunk's sentences and their vectors as stored: sentence ids and the float16 codec.

Each chunk row carries its own sentence vectors, float16, as a `data:` URI in
Chroma's `uris` field (stored beside the row, never indexed, returned only when
asked for). Row j of a chunk's matrix is its j-th sentence in `chunk_sentences`
order, whose id is `sentence_id(chunk_id, j)`.
"""

from __future__ import annotations

import base64

import numpy as np

from corpus.text import Sentence, sentences

_URI = "data:application/x-float16;shape={n},{d};base64,"


def chunk_sentences(text: str) -> list[Sentence]:
    """The sentences of a chunk as stored (a chunk with no sentence end is one sentence)."""
    return sentences(text) or [Sentence(text, 0, len(text))]


def sentence_id(chunk_id: str, j: int) -> str:
    """Id of a chunk's j-th sentence (0-based, in `chunk_sentences` order)."""
    return f"{chunk_id}:{j}"


def encode_vectors(matrix: np.ndarray) -> str:
    """A chunk's sentence vectors as a `data:` URI (float16, row-major)."""
    mat = np.asarray(matrix, dtype=np.float16)
    return _URI.format(n=mat.shape[0], d=mat.shape[1]) + base64.b64encode(
        mat.tobytes()).decode("ascii")


def decode_vectors(uri: str) -> np.ndarray:
    """The float32 matrix an `encode_vectors` URI holds."""
    head, _, data = uri.partition(";base64,")
    n, d = (int(x) for x in head.rpartition("shape=")[2].split(","))
    return np.frombuffer(base64.b64decode(data), dtype=np.float16).reshape(n, d).astype(
        np.float32)
