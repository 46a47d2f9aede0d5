"""Calibrate the relevance gate (Settings.min_relevance) on ../shared/eval/.

Two sets of (gate score, should-answer) pairs:
- the sample document with seed-questions.jsonl (answerable vs out-of-corpus);
- SQuAD 2.0 dev: half of the articles indexed (one document per paragraph);
  answerable questions of the indexed half should be answered, questions about the
  other half should be declined.
Prints, for candidate thresholds, the share of out-of-corpus questions declined and
of answerable ones wrongly declined, and the threshold that declines the most
out-of-corpus questions while wrongly declining at most --max-wrongly-declined of
the answerable ones (a wrong refusal costs the user an answer the documents hold).

    .venv/bin/python bench/calibrate_gate.py [--per-side 200] [--max-wrongly-declined 0.015]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"


def gate_scores(assistant, questions):
    out = []
    for q in questions:
        passages = assistant.retrieve(q)
        ev = assistant.scorer.evidence(q, passages)
        out.append(assistant.scorer.relevance(q, passages, ev).score)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-side", type=int, default=200)
    ap.add_argument("--max-wrongly-declined", type=float, default=0.015)
    args = ap.parse_args()
    from assistant import Settings, build_assistant

    # 1. the sample document
    a = build_assistant(Settings(data_dir=tempfile.mkdtemp(), llm="extractive"))
    a.ensure_indexed()
    seed = [json.loads(x) for x in open(EVAL / "seed-questions.jsonl") if x.strip()]
    seed_pos = gate_scores(a, [s["question"] for s in seed if s["answerable"]])
    seed_neg = gate_scores(a, [s["question"] for s in seed if not s["answerable"]])

    # 2. SQuAD: index half of the articles
    data = json.load(open(EVAL / "squad-dev-public.json"))["data"]
    rng = random.Random(0)
    articles = list(data)
    rng.shuffle(articles)
    half = len(articles) // 2
    indexed, other = articles[:half], articles[half:]
    tmp = Path(tempfile.mkdtemp())
    docs = tmp / "docs"
    docs.mkdir()
    for art in indexed:
        for i, para in enumerate(art["paragraphs"]):
            (docs / f"{art['title'][:40]}-{i}.txt").write_text(para["context"])
    b = build_assistant(Settings(data_dir=tmp / "data", llm="extractive"))
    b.ingest([str(docs)], progress=False)

    def questions(arts, answerable):
        qs = [qa["question"] for art in arts for p in art["paragraphs"] for qa in p["qas"]
              if (not qa.get("is_impossible")) == answerable]
        rng.shuffle(qs)
        return qs[: args.per_side]

    squad_pos = gate_scores(b, questions(indexed, True))
    squad_neg = gate_scores(b, questions(other, True) + questions(other, False))[: args.per_side]

    pos, neg = seed_pos + squad_pos, seed_neg + squad_neg
    rows = []
    for t in [x / 100 for x in range(20, 91, 2)]:
        declined_neg = sum(s < t for s in neg) / len(neg)
        declined_pos = sum(s < t for s in pos) / len(pos)
        seed_ok = sum(s >= t for s in seed_pos), sum(s < t for s in seed_neg)
        rows.append((t, declined_neg, declined_pos, seed_ok))
    for t, dn, dp, (sp, sn) in rows:
        print(f"threshold {t:.2f}: out-of-corpus declined {dn:.3f}, answerable wrongly declined "
              f"{dp:.3f}; seed answerable passed {sp}/{len(seed_pos)}, "
              f"seed unanswerable declined {sn}/{len(seed_neg)}")
    ok = [r for r in rows if r[2] <= args.max_wrongly_declined] or rows[:1]
    best = max(ok, key=lambda r: (r[1], -r[0]))
    print(json.dumps({"chosen_threshold": best[0], "out_of_corpus_declined": round(best[1], 3),
                      "answerable_wrongly_declined": round(best[2], 3),
                      "n_answerable": len(pos), "n_out_of_corpus": len(neg)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
