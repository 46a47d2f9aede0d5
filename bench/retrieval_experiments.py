"""Retrieval design experiments on SQuAD dev (exact scores over all chunks, numpy only).

Compares, on a random sample of answerable questions, top-k answer recall of:
chunk-level dense (MiniLM cosine), BM25 (bm25s), sentence-level dense (best
sentence cosine per chunk), and weighted sums of them. This is how the default
fusion and chunk size in docs/retrieval.md were chosen.

    .venv/bin/python bench/retrieval_experiments.py [--chunk-size N] [--overlap N]

(chunk size and overlap default to the settings').
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import numpy as np

EVAL = Path(__file__).resolve().parents[1] / "tests" / "data" / "squad-dev-public.json"


def main() -> None:
    from assistant.settings import Settings

    settings = Settings()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", default=str(EVAL))
    ap.add_argument("--chunk-size", type=int, default=settings.chunk_size)
    ap.add_argument("--overlap", type=int, default=settings.chunk_overlap)
    ap.add_argument("--questions", type=int, default=600)
    args = ap.parse_args()

    import bm25s
    from langchain_core.documents import Document
    from sentence_transformers import SentenceTransformer

    from assistant.evaluation import first_hit, load_eval
    from corpus.chunking import chunk_documents
    from corpus.text import content_terms, sentences
    from index.embeddings import resolve_model_path

    data = load_eval(args.file)
    docs = [Document(page_content=t, metadata={"source": s, "title": s, "page": None})
            for s, t in data.documents.items()]
    texts = [c.page_content for c in chunk_documents(docs, chunk_size=args.chunk_size,
                                                     chunk_overlap=args.overlap)]
    model = SentenceTransformer(resolve_model_path(settings.embedding_model), device="cpu")
    t0 = time.perf_counter()
    chunk_vecs = model.encode(texts, batch_size=64, normalize_embeddings=True)
    owner, sent_texts = [], []
    for i, text in enumerate(texts):
        for s in sentences(text):
            owner.append(i)
            sent_texts.append(s.text)
    sent_vecs = model.encode(sent_texts, batch_size=64, normalize_embeddings=True)
    owner = np.asarray(owner)
    print(f"{len(texts)} chunks, {len(sent_texts)} sentences, encoded in "
          f"{time.perf_counter() - t0:.0f} s")
    bm25 = bm25s.BM25()
    bm25.index([content_terms(t) for t in texts], show_progress=False)

    questions = list(data.answerable)
    random.Random(1).shuffle(questions)
    questions = questions[: args.questions]
    q_vecs = model.encode([q.question for q in questions], batch_size=64,
                          normalize_embeddings=True)
    results: dict[str, list] = {}
    for qi, q in enumerate(questions):
        dense = chunk_vecs @ q_vecs[qi]
        best_sentence = np.full(len(texts), -1.0)
        np.maximum.at(best_sentence, owner, sent_vecs @ q_vecs[qi])
        terms = content_terms(q.question)
        b = bm25.get_scores(terms) if terms else np.zeros(len(texts))
        bn = b / (b.max() + 1e-9)
        combos = {"dense (chunk)": dense, "bm25": b, "dense (best sentence)": best_sentence}
        for w in (0.3, 0.5, 0.7, 1.0):
            combos[f"chunk + {w} bm25"] = dense + w * bn
            combos[f"sentence + {w} bm25"] = best_sentence + w * bn
            combos[f"chunk + sentence + {w} bm25"] = dense + best_sentence + w * bn
        for name, scores in combos.items():
            top = np.argsort(-scores)[:10]
            results.setdefault(name, []).append(first_hit([texts[i] for i in top], q.answers))
    print(f"{'method':32s} {'r@1':>6} {'r@3':>6} {'r@5':>6} {'r@10':>6}")
    for name, ranks in results.items():
        cells = [np.mean([r is not None and r < k for r in ranks]) for k in (1, 3, 5, 10)]
        print(f"{name:32s} " + " ".join(f"{c:6.3f}" for c in cells))


if __name__ == "__main__":
    main()
