"""The plain-torch encoder gives all-MiniLM-L6-v2's vectors bit for bit as
sentence-transformers does, and other model shapes are left to sentence-transformers."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from index import embeddings as embeddings_module
from index.embeddings import (
    DEFAULT_MODEL,
    SentenceTransformerEmbeddings,
    SentenceTransformerEncoder,
    resolve_model_path,
)
from index.encoder import BertSentenceEncoder, supports
from index.vectors import chunk_sentences

EDGE_CASES = ["", " ", "  leading and trailing  ", "Ünïcödé — “quotes” 漢字 テスト 🙂",
              "a" * 3000, "word " * 600, "\n\nnew\tlines\n", "[CLS] [SEP] [PAD] [MASK]"]


def _texts(paragraphs: int = 40) -> list[str]:
    """Paragraphs longer than the model's 256 tokens, their sentences, questions, oddities."""
    squad = json.loads((Path(__file__).parent / "data" / "squad-dev-public.json").read_text())
    texts = []
    for p in [p for a in squad["data"] for p in a["paragraphs"]][:paragraphs]:
        texts += [p["context"], *(s.text for s in chunk_sentences(p["context"]))]
        texts += [q["question"] for q in p["qas"]]
    return list(dict.fromkeys(texts + EDGE_CASES))


@pytest.fixture(scope="module")
def models():
    from sentence_transformers import SentenceTransformer

    path = resolve_model_path(DEFAULT_MODEL)
    return SentenceTransformer(path, device="cpu"), BertSentenceEncoder(path)


def _library(st, texts: list[str]) -> np.ndarray:
    """sentence-transformers' vectors, as the embeddings computed them before."""
    return st.encode(texts, batch_size=len(texts), normalize_embeddings=True,
                     convert_to_numpy=True, show_progress_bar=False).astype(np.float32)


@pytest.mark.slow
def test_vectors_are_bit_identical_to_sentence_transformers(models):
    st, ours = models
    texts = _texts()
    assert supports(resolve_model_path(DEFAULT_MODEL))
    assert ours.token_lengths(texts) == [len(ids) for ids in st.tokenizer(
        texts, truncation=True, max_length=st.max_seq_length)["input_ids"]]
    assert max(ours.token_lengths(texts)) == ours.max_seq_length == 256  # truncation is used
    rng = random.Random(0)
    for size in [1] * 60 + [2, 3, 7, 16, 33] * 4:  # single questions and padded batches
        batch = rng.sample(texts, size)
        assert np.array_equal(ours.encode(batch), _library(st, batch)), batch


@pytest.mark.slow
def test_bfloat16_autocast_vectors_are_bit_identical_too(models):
    import torch

    st, ours = models
    texts = _texts(8)
    rng = random.Random(1)
    for size in [1] * 10 + [2, 5, 12]:  # emulated (slowly) on CPUs without native bfloat16
        batch = rng.sample(texts, size)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert np.array_equal(ours.encode(batch), _library(st, batch)), batch


@pytest.mark.slow
def test_the_embeddings_agree_with_the_library_path_in_token_sized_batches(monkeypatch):
    emb = SentenceTransformerEmbeddings(DEFAULT_MODEL, batch_size=64, precision="float32")
    assert isinstance(emb.model, BertSentenceEncoder)
    texts = _texts(12)
    ours = emb.embed_array(texts)
    library = SentenceTransformerEncoder(resolve_model_path(DEFAULT_MODEL), "cpu")
    monkeypatch.setattr(embeddings_module, "_load", lambda name, device: library)
    assert np.array_equal(emb.embed_array(texts), ours)
    assert np.array_equal(np.asarray(emb.embed_documents(texts), np.float32), ours)


def test_other_model_shapes_are_left_to_sentence_transformers(tmp_path):
    from safetensors.numpy import save_file

    source = Path(resolve_model_path(DEFAULT_MODEL))

    def variant(name: str, edit=None) -> Path:
        folder = tmp_path / name
        shutil.copytree(source, folder, ignore=shutil.ignore_patterns("*.safetensors"))
        (folder / "model.safetensors").symlink_to(source / "model.safetensors")
        if edit:
            path, change = edit
            data = json.loads((folder / path).read_text())
            change(data)
            (folder / path).write_text(json.dumps(data))
        return folder

    assert supports(variant("same"))
    assert not supports(variant("cls", ("1_Pooling/config.json", lambda d: d.update(
        pooling_mode_cls_token=True, pooling_mode_mean_tokens=False))))
    assert not supports(variant("roberta", ("config.json", lambda d: d.update(
        model_type="roberta"))))
    assert not supports(variant("relative", ("config.json", lambda d: d.update(
        position_embedding_type="relative_key"))))
    assert not supports(variant("prompts", ("config_sentence_transformers.json", lambda d: d.update(
        prompts={"query": "query: "}, default_prompt_name="query"))))
    assert not supports(variant("unnormalized", ("modules.json", lambda d: d.pop())))
    half = variant("half")
    (half / "model.safetensors").unlink()
    save_file({"embeddings.word_embeddings.weight": np.zeros((4, 2), np.float16)},
              str(half / "model.safetensors"))
    assert not supports(half)  # float16 weights: sentence-transformers computes in float16
    assert not supports(tmp_path / "missing")
    assert not supports("sentence-transformers/all-mpnet-base-v2")  # a hub name: the library


class _Counting:
    """An encoder that counts what it encodes."""

    dimension, max_seq_length = 3, 8

    def __init__(self):
        self.calls: list[list[str]] = []

    def token_lengths(self, texts):
        return [len(t.split()) + 2 for t in texts]

    def encode(self, texts):
        self.calls.append(list(texts))
        return np.full((len(texts), 3), 3 ** -0.5, np.float32)


def test_a_question_is_embedded_once_per_process(monkeypatch):
    """Retrieval and the evidence scorer both embed the question: one forward pass."""
    counting = _Counting()
    monkeypatch.setattr(embeddings_module, "_load", lambda name, device: counting)
    emb = SentenceTransformerEmbeddings("any", batch_size=8, precision="float32")
    first = emb.embed_query("How many?")
    first.append(1.0)  # the caller's own copy
    assert emb.embed_query("How many?") == [float(np.float32(3 ** -0.5))] * 3 != first
    assert counting.calls == [["How many?"]]
    for n in range(emb.query_cache_size):
        emb.embed_query(f"question {n}")
    emb.embed_query("How many?")  # the oldest was forgotten
    assert counting.calls[-1] == ["How many?"]
    assert len(emb._queries) == emb.query_cache_size
