"""Calibrate the premise check (Settings.premise_weights and premise_threshold) on SQuAD 2.0.

Every paragraph of the SQuAD file is indexed (one document per paragraph, as
`sourcechat eval` does). Each question is retrieved and gated as the pipeline does;
for those that pass the gate, `assistant.premise.features` gives the premise
features against the best evidence. A logistic regression (standardized features,
L2) separates the impossible questions from the answerable ones; the threshold is the
lowest that keeps at least --keep of the answerable questions answered end to end
(gate passed and not flagged).

Held-out figures: the 12 articles are split in random halves (--splits times); the
model and threshold are fitted on one half and measured on the other (the articles it
never saw). The shipped weights are then fitted on all articles. Also reported: the
seed questions (sample document) flagged at the fitted weights.

    .venv/bin/python bench/calibrate_premise.py [--max-questions 0] [--keep 0.94] \
        [--cache /tmp/premise-features.json]

Prints one JSON object; `settings` holds the values for assistant/settings.py.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SQUAD = ROOT / "tests" / "data" / "squad-dev-public.json"
SEED = ROOT / "tests" / "data" / "seed-questions.jsonl"


def question_row(assistant, question: str) -> dict:
    """As the pipeline: the kind, the gate, and (past the gate) the premise features."""
    from assistant.kinds import classify
    from assistant.pipeline import DOCUMENT_LEVEL
    from assistant.premise import features
    from corpus.text import content_terms

    kind = classify(question).kind
    if kind in DOCUMENT_LEVEL:  # answered by documents.py: no premise check
        return {"kind": kind, "passed": assistant.ask(question, backend="extractive").found,
                "f": None}
    passages = assistant.retriever.search(question, assistant.settings.k)
    evidence = assistant.scorer.evidence(question, passages)
    rel = assistant.scorer.relevance(question, passages, evidence)
    passed = bool(evidence) and rel.score >= assistant.settings.min_relevance
    if not passed:
        return {"kind": kind, "passed": False, "f": None}
    idf = assistant.scorer.idf
    context = {  # what the features read, so a changed feature needs no new retrieval
        "passages": [p.text for p in passages],
        "evidence": [[e.passage, e.sentence.text, e.sentence.start, e.sentence.end, e.dense,
                      e.lexical, e.score] for e in evidence[:2]],
        "relevance": [rel.dense, rel.lexical, rel.score, rel.sentence_lexical],
        "idf": {t: idf(t) for t in content_terms(question)} if idf else None}
    return {"kind": kind, "passed": True, "context": context,
            "f": features(question, evidence, passages, rel, idf)[0]}


def recompute(question: str, context: dict) -> dict:
    """The features of a cached row, from its context (no retrieval, no model)."""
    from assistant.evidence import Evidence, Relevance
    from assistant.premise import features
    from corpus.text import Sentence
    from index.passages import Passage

    passages = [Passage(t, f"p{i}", None, 0, len(t), 0.0, f"p{i}")
                for i, t in enumerate(context["passages"])]
    evidence = [Evidence(i, Sentence(text, a, b), d, lx, sc)
                for i, text, a, b, d, lx, sc in context["evidence"]]
    idf = context["idf"]
    return features(question, evidence, passages, Relevance(*context["relevance"]),
                    (lambda t: idf.get(t, 0.0)) if idf is not None else None)[0]


def collect(args) -> dict:
    """Rows for the SQuAD questions (sampled) and the seed questions, cached in a file."""
    from assistant import Settings
    from assistant.eval_run import eval_documents, fresh_assistant
    from assistant.evaluation import load_eval
    from index import index_documents

    if args.cache and Path(args.cache).is_file():
        return json.loads(Path(args.cache).read_text())
    data = load_eval(args.squad)
    questions = list(data.questions)
    if args.max_questions:
        questions = random.Random(args.seed).sample(questions,
                                                    min(args.max_questions, len(questions)))
    settings = Settings(llm="extractive")
    tmp = Path(tempfile.mkdtemp(prefix="sourcechat-premise-"))
    t0 = time.perf_counter()
    try:
        a = fresh_assistant(settings, tmp / "squad", "premise")
        index_documents(eval_documents(data), a.store, chunk_size=settings.chunk_size,
                        chunk_overlap=settings.chunk_overlap, batch_size=settings.batch_size)
        a.retrieve("warm up")
        rows = []
        for i, q in enumerate(questions, 1):
            rows.append({"id": q.id, "question": q.question, "article": q.article,
                         "answerable": q.answerable, **question_row(a, q.question)})
            if i % 250 == 0:
                print(f"  {i}/{len(questions)} questions, {time.perf_counter() - t0:.0f} s",
                      file=sys.stderr, flush=True)
        b = fresh_assistant(settings, tmp / "seed", "premise-seed")
        b.ensure_indexed()
        seed = [json.loads(line) for line in SEED.read_text().splitlines() if line.strip()]
        seed_rows = [{"id": s["id"], "question": s["question"],
                      "answerable": s.get("answerable", True), **question_row(b, s["question"])}
                     for s in seed]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out = {"rows": rows, "seed": seed_rows, "seconds": round(time.perf_counter() - t0, 1)}
    if args.cache:
        Path(args.cache).write_text(json.dumps(out))
    return out


def fit(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, float]:
    """Logistic regression on standardized features, returned as weights on the raw
    features (and the bias), so the product needs no scaler."""
    from sklearn.linear_model import LogisticRegression

    mu, sd = x.mean(0), x.std(0) + 1e-9
    model = LogisticRegression(C=1.0 / l2, max_iter=2000).fit((x - mu) / sd, y)
    w = model.coef_[0] / sd
    return w, float(model.intercept_[0] - np.sum(model.coef_[0] * mu / sd))


def threshold(score, passed, answerable, keep: float) -> float:
    """The lowest threshold (flag when score > t) leaving >= keep of answerable answered."""
    a_score, a_pass = score[answerable], passed[answerable]
    for t in np.unique(np.r_[score[np.isfinite(score)], np.inf]):
        if np.mean(a_pass & ~(a_score > t)) >= keep:
            return float(t)
    return float("inf")


def outcome(score, passed, answerable, t) -> dict:
    answered = passed & ~(score > t)
    return {"answerable_answered": round(float(np.mean(answered[answerable])), 4),
            "impossible_not_answered": round(float(np.mean(~answered[~answerable])), 4),
            "impossible_gate_declined": round(float(np.mean(~passed[~answerable])), 4)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--squad", default=str(SQUAD))
    ap.add_argument("--max-questions", type=int, default=0, help="sample (0: all 4,428)")
    ap.add_argument("--keep", type=float, default=0.94,
                    help="share of answerable questions that must stay answered")
    ap.add_argument("--splits", type=int, default=20)
    ap.add_argument("--l2", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", default="", help="JSON file keeping the features between runs")
    args = ap.parse_args()
    from assistant.premise import FEATURES

    data = collect(args)
    rows = data["rows"]
    for r in rows + data["seed"]:  # features as the code computes them now
        if r.get("context"):
            r["f"] = recompute(r["question"], r["context"])
    x = np.array([[r["f"][c] for c in FEATURES] if r["f"] else [0.0] * len(FEATURES)
                  for r in rows])
    passed = np.array([r["passed"] for r in rows])
    checked = np.array([r["f"] is not None for r in rows])  # lookups etc. past the gate
    answerable = np.array([r["answerable"] for r in rows])
    articles = np.array([r["article"] for r in rows])
    titles = sorted(set(articles))

    def scores(mask) -> tuple[np.ndarray, np.ndarray, float]:
        train = mask & checked
        w, b = fit(x[train], (~answerable[train]).astype(float), args.l2)
        s = np.where(checked, x @ w + b, -np.inf)
        return w, s, b

    rng = random.Random(args.seed)
    held = []
    for _ in range(args.splits):
        rng.shuffle(titles)
        cal = np.isin(articles, titles[: len(titles) // 2])
        _, s, _ = scores(cal)
        t = threshold(s[cal], passed[cal], answerable[cal], args.keep)
        held.append(outcome(s[~cal], passed[~cal], answerable[~cal], t))
    w, s, b = scores(np.ones(len(rows), bool))
    t = threshold(s, passed, answerable, args.keep)

    seed_rows = data["seed"]
    seed_x = np.array([[r["f"][c] for c in FEATURES] if r["f"] else [0.0] * len(FEATURES)
                       for r in seed_rows])
    seed_score = seed_x @ w + b
    seed_flagged = [r["id"] for r, sc in zip(seed_rows, seed_score, strict=True)
                    if r["f"] and sc > t]
    result = {
        "questions": len(rows), "answerable": int(answerable.sum()),
        "impossible": int((~answerable).sum()), "collect_seconds": data["seconds"],
        "keep": args.keep,
        "today": {"answerable_answered": round(float(passed[answerable].mean()), 4),
                  "impossible_not_answered": round(float(1 - passed[~answerable].mean()), 4)},
        "held_out_mean": {k: round(float(np.mean([h[k] for h in held])), 4) for k in held[0]},
        "held_out_min_answered": round(min(h["answerable_answered"] for h in held), 4),
        "all_articles": outcome(s, passed, answerable, t),
        "seed_flagged": seed_flagged,
        "settings": {"premise_weights": {"bias": round(b, 4),
                                         **{c: round(float(v), 4)
                                            for c, v in zip(FEATURES, w, strict=True)}},
                     "premise_threshold": round(t, 4)},
    }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
