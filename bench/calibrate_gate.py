"""Calibrate the relevance gate (Settings.gate_weights and min_relevance) on SQuAD.

Features per question (see assistant/evidence.py): best sentence cosine, best
passage term coverage, best sentence-window term coverage (IDF-weighted).
Data: SQuAD 2.0 dev with half of the articles indexed (one document per
paragraph): answerable questions of the indexed half should be answered,
questions about the other half declined; plus the sample document with
seed-questions.jsonl, reported at the chosen threshold.
A logistic regression gives the weights (scaled so the cosine weight is 1); the
threshold declines the most out-of-corpus questions while wrongly declining at
most --max-wrongly-declined of the answerable ones.

    .venv/bin/python bench/calibrate_gate.py [--per-side 600] [--max-wrongly-declined 0.03]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SQUAD = ROOT / "tests" / "data" / "squad-dev-public.json"
SEED = ROOT / "tests" / "data" / "seed-questions.jsonl"


def features(assistant, questions) -> np.ndarray:
    rows = []
    for q in questions:
        r = assistant.relevance(q)
        rows.append((r.dense, r.lexical, r.sentence_lexical))
    return np.asarray(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--squad", default=str(SQUAD))
    ap.add_argument("--per-side", type=int, default=600)
    ap.add_argument("--max-wrongly-declined", type=float, default=0.03)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    from langchain_core.documents import Document
    from sklearn.linear_model import LogisticRegression

    from assistant import Settings, build_assistant
    from assistant.evaluation import load_eval
    from index import index_documents

    settings = Settings(llm="extractive")
    data = load_eval(args.squad)
    rng = random.Random(args.seed)
    titles = sorted(data.articles)
    rng.shuffle(titles)
    indexed = set(titles[: len(titles) // 2])
    a = build_assistant(settings.model_copy(update={"data_dir": Path(tempfile.mkdtemp())}))
    docs = [Document(page_content=data.documents[s], metadata={"source": s, "title": s,
                                                               "page": None})
            for t in indexed for s in data.articles[t]]
    index_documents(docs, a.store, chunk_size=settings.chunk_size,
                    chunk_overlap=settings.chunk_overlap, batch_size=settings.batch_size)
    pos = [q.question for q in data.questions if q.answerable and q.article in indexed]
    neg = [q.question for q in data.questions if q.article not in indexed]
    rng.shuffle(pos)
    rng.shuffle(neg)
    xp, xn = features(a, pos[: args.per_side]), features(a, neg[: args.per_side])

    x = np.vstack([xp, xn])
    y = np.r_[np.ones(len(xp)), np.zeros(len(xn))]
    model = LogisticRegression(C=10.0).fit(x, y)
    w = model.coef_[0] / model.coef_[0][0]
    sp, sn = xp @ w, xn @ w
    rows = []
    for t in np.unique(np.round(np.r_[sp, sn], 3)):
        rows.append((float(t), float(np.mean(sn < t)), float(np.mean(sp < t))))
    ok = [r for r in rows if r[2] <= args.max_wrongly_declined]
    threshold, declined, wrongly = max(ok, key=lambda r: (r[1], -r[0]))

    b = build_assistant(settings.model_copy(update={"data_dir": Path(tempfile.mkdtemp())}))
    b.ensure_indexed()
    seed = [json.loads(line) for line in SEED.read_text().splitlines() if line.strip()]
    seed_scores = features(b, [s["question"] for s in seed]) @ w
    for s, score in zip(seed, seed_scores, strict=True):
        verdict = "answer " if score >= threshold else "decline"
        print(f"  seed {s['id']} {verdict} {score:.3f}  {s['question']}")
    print(json.dumps({
        "gate_weights": [round(float(v), 3) for v in w], "min_relevance": round(threshold, 3),
        "squad_out_of_corpus_declined": round(declined, 3),
        "squad_answerable_wrongly_declined": round(wrongly, 3),
        "seed_answerable_passed": int(sum(sc >= threshold for s, sc in zip(
            seed, seed_scores, strict=True) if s["answerable"])),
        "seed_unanswerable_declined": int(sum(sc < threshold for s, sc in zip(
            seed, seed_scores, strict=True) if not s["answerable"])),
        "n": {"answerable": len(xp), "out_of_corpus": len(xn)},
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
