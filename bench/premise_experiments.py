"""Premise checks (issue 16): which features tell SQuAD 2.0's impossible questions apart.

An impossible question asks about a subject the documents cover for something they do
not say ("What is one of the *least* important open questions ...?"); the relevance gate
passes it and the best sentence nearby is quoted as if it answered it. This bench
indexes every paragraph of the public SQuAD file once (one document per paragraph, as
`sourcechat eval` does), retrieves the top k passages for each question (answerable
and impossible), scores the evidence as the pipeline does, and computes candidate
premise features from the best sentence, its neighbours and its passage:

- missing terms: IDF-weighted share of the question's content terms absent from the
  best sentence / its window (one sentence either side) / its passage / all passages;
  the IDF of the rarest missing term; specific terms (capitalized names, numbers,
  rare words) absent from the window;
- answer type: the wh-word's expected type (number, date, name) absent from the best
  sentence (not counting the question's own words);
- polarity: negation, comparison and quantifier words of the question absent from the
  window, or their opposite present ("least" vs "most");
- the gate's own scores.

For each feature (and a logistic regression over them, numpy only, plus a hand-set
rule), on a random half of the articles (calibration), the threshold is the loosest
that still leaves >= --keep of the answerable questions answered end to end (gate
passed and premise check passed); the share of impossible questions that end
declined or flagged is reported for calibration and held-out halves, and over
--splits random splits. Prints one JSON object.

    .venv/bin/python bench/premise_experiments.py [--max-questions 0] [--keep 0.92]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SQUAD = ROOT / "tests" / "data" / "squad-dev-public.json"
SEED = ROOT / "tests" / "data" / "seed-questions.jsonl"

RARE_IDF = 3.0  # a term this rare (IDF over the chunks) is "specific"

_NUMBER_WORDS = ("one two three four five six seven eight nine ten eleven twelve twenty "
                 "thirty forty fifty hundred hundreds thousand thousands million millions "
                 "billion billions dozen dozens several half quarter percent").split()
_MONTHS = ("january february march april may june july august september october november "
           "december").split()
_NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(?:" + "|".join(_NUMBER_WORDS) + r")\b", re.I)
_DATE = re.compile(r"\b(?:1\d{3}|20\d{2}|\d{1,4}s|\d{1,2}(?:st|nd|rd|th))\b|\bcentur(?:y|ies)\b"
                   r"|\b(?:" + "|".join(_MONTHS) + r")\b|\b(?:BC|AD|BCE|CE)\b", re.I)
_WH = (  # (pattern on the question, expected answer type), first match wins
    (re.compile(r"\bhow (?:many|much|long|old|far|large|big|high|often)\b|\bwhat (?:percent"
                r"(?:age)?|number|amount|proportion|fraction)\b", re.I), "number"),
    (re.compile(r"\bwhen\b|\b(?:what|which|in what|in which) (?:year|century|decade|date"
                r"|month|day|period|era)\b", re.I), "date"),
    (re.compile(r"\bwho(?:m|se)?\b|\bwhere\b", re.I), "name"),
)
NEGATION = frozenset("not n't never no none nobody nothing without neither nor cannot".split())
# comparison / quantifier words, each with its opposites
OPPOSITES = {
    "least": "most", "most": "least fewest", "fewest": "most", "fewer": "more",
    "less": "more", "more": "less fewer", "smallest": "largest biggest greatest",
    "largest": "smallest", "biggest": "smallest", "greatest": "least smallest",
    "lowest": "highest", "highest": "lowest", "first": "last", "last": "first",
    "earliest": "latest last", "latest": "earliest first", "best": "worst",
    "worst": "best", "longest": "shortest", "shortest": "longest", "oldest": "newest youngest",
    "youngest": "oldest", "newest": "oldest", "only": "all some", "all": "only some",
    "some": "all only", "every": "only some", "always": "never sometimes",
    "before": "after", "after": "before", "minority": "majority", "majority": "minority",
    "increase": "decrease", "decrease": "increase", "rise": "fall decline",
    "major": "minor", "minor": "major", "lowered": "raised", "raised": "lowered",
    "ancient": "modern", "modern": "ancient", "private": "public", "public": "private",
    "win": "lose lost", "won": "lost", "lose": "win won", "lost": "won", "success": "failure",
    "failure": "success", "easy": "hard difficult", "hard": "easy", "difficult": "easy",
    "inside": "outside", "outside": "inside", "north": "south", "south": "north",
    "east": "west", "west": "east", "northern": "southern", "southern": "northern",
    "eastern": "western", "western": "eastern", "upper": "lower", "lower": "upper",
}
_TOKEN = re.compile(r"[A-Za-z]+(?:'[a-z]+)?|n't|\d[\d,.]*")


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens, with "n't" split off."""
    text = text.replace("’", "'").replace("n't", " n't")
    return [t.lower() for t in _TOKEN.findall(text)]


def names(text: str, skip_first: bool = True) -> set[str]:
    """Lower-cased capitalized words not at a sentence start (a cheap name finder)."""
    from corpus.text import STOPWORDS

    out = set()
    for m in re.finditer(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'’-]+", text):
        w = m.group(0).lower().rstrip("'’s")
        if skip_first and m.start() == 0:
            continue
        if w not in STOPWORDS and len(w) > 1:
            out.add(w)
    return out


def answer_type(question: str) -> str | None:
    """The type of answer a question's wh-word expects: number, date, name or None."""
    for pattern, kind in _WH:
        if pattern.search(question):
            return kind
    return None


def type_present(kind: str | None, sentence: str, question: str) -> bool:
    """Whether the sentence holds an answer of that type that the question does not."""
    if kind is None:
        return True
    asked = set(tokens(question))
    if kind == "number":
        found = [m.group(0).lower() for m in _NUMBER.finditer(sentence)]
    elif kind == "date":
        found = [m.group(0).lower() for m in _DATE.finditer(sentence)]
    else:
        found = list(names(sentence, skip_first=False))
    return any(f not in asked for f in found)


def polarity(question: str, window: str) -> tuple[int, int, int]:
    """(comparison/quantifier words of the question absent from the window, ... whose
    opposite is there instead, negation in the question but not in the window)."""
    q, w = set(tokens(question)), set(tokens(window))
    missing = [m for m in OPPOSITES if m in q and m not in w]
    flipped = [m for m in missing if set(OPPOSITES[m].split()) & w]
    neg = int(bool(q & NEGATION) and not (w & NEGATION))
    return len(missing), len(flipped), neg


def question_features(assistant, question: str, k: int) -> tuple[dict, dict]:
    """Premise features of one question, and what the pipeline would quote."""
    from assistant.kinds import classify
    from corpus.text import content_terms
    from index.vectors import chunk_sentences

    scorer = assistant.scorer
    idf = scorer.idf
    passages = assistant.retriever.search(question, k)
    evidence = scorer.evidence(question, passages)
    rel = scorer.relevance(question, passages, evidence)
    info = {"gate_passed": rel.score >= assistant.settings.min_relevance,
            "kind": classify(question).kind, "best": "", "quoted": ""}
    if not evidence:
        return {}, info
    best = evidence[0]
    passage = passages[best.passage]
    sents = chunk_sentences(passage.text)
    j = next((i for i, s in enumerate(sents) if s.start == best.sentence.start), 0)
    window = " ".join(s.text for s in sents[max(0, j - 1):j + 2])
    quoted = [e.sentence.text for e in evidence[:3] if e.score >= 0.9 * best.score]
    info.update(best=best.sentence.text, quoted=" ".join(quoted), source=passage.source)

    q_terms = set(content_terms(question))
    weights = {t: idf(t) for t in q_terms}
    total = sum(weights.values()) or 1.0

    def missing(text: str) -> set[str]:
        return q_terms - set(content_terms(text))

    m_sent, m_win = missing(best.sentence.text), missing(window)
    m_pass = missing(passage.text)
    m_all = q_terms - set().union(*(set(content_terms(p.text)) for p in passages))
    q_names = names(question)
    win_tokens = set(tokens(window)) | set(content_terms(window))
    q_numbers = {m.group(0) for m in re.finditer(r"\d[\d,.]*", question)}
    rare_missing = [t for t in m_win if weights[t] >= RARE_IDF]
    n_missing, n_flipped, neg = polarity(question, window)
    kind = answer_type(question)
    f = {
        "miss_share_sentence": sum(weights[t] for t in m_sent) / total,
        "miss_share_window": sum(weights[t] for t in m_win) / total,
        "miss_share_passage": sum(weights[t] for t in m_pass) / total,
        "miss_share_all_passages": sum(weights[t] for t in m_all) / total,
        "miss_idf_window": sum(weights[t] for t in m_win),
        "max_idf_missing_window": max((weights[t] for t in m_win), default=0.0),
        "rarest_term_missing_window": float(bool(q_terms) and max(q_terms, key=weights.get)
                                            in m_win),
        "n_missing_window": float(len(m_win)),
        "n_rare_missing_window": float(len(rare_missing)),
        "names_missing_window": float(sum(
            1 for n in q_names if n not in win_tokens and n not in window.lower())),
        "numbers_missing_window": float(sum(1 for n in q_numbers if n not in window)),
        "answer_type_missing": float(not type_present(kind, best.sentence.text, question)),
        "polarity_missing": float(n_missing),
        "polarity_flipped": float(n_flipped),
        "negation_added": float(neg),
        "gate_score_low": -rel.score,
        "best_dense_low": -best.dense,
        "best_lexical_low": -best.lexical,
        "sentence_lexical_low": -rel.sentence_lexical,
        "best_score_low": -best.score,
        "margin_low": -(best.score - evidence[1].score) if len(evidence) > 1 else 0.0,
        "n_terms": float(len(q_terms)),
    }
    info["missing_window"] = sorted(m_win, key=lambda t: -weights[t])
    info["answer_type"] = kind
    return f, info


# -- evaluation ------------------------------------------------------------------------------
def pick_threshold(score: np.ndarray, passed: np.ndarray, answerable: np.ndarray,
                   keep: float) -> float:
    """The lowest threshold (flag when score > t) leaving >= keep of answerable answered."""
    a_score, a_pass = score[answerable], passed[answerable]
    for t in np.unique(np.r_[score, np.inf]):
        if np.mean(a_pass & ~(a_score > t)) >= keep:
            return float(t)
    return float("inf")


def outcome(score, passed, answerable, t) -> dict:
    """Answered share of answerable, caught share of impossible (declined or flagged)."""
    answered = passed & ~(score > t)
    imp = ~answerable
    return {"answerable_answered": round(float(np.mean(answered[answerable])), 4),
            "impossible_caught": round(float(np.mean(~answered[imp])), 4),
            "impossible_flagged_after_gate": round(float(np.mean((score > t)[imp & passed])), 4)}


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (rank statistic), positive = impossible."""
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    ranks[order] = np.arange(1, len(score) + 1)
    for v in np.unique(score):  # average ranks of ties
        tie = score == v
        ranks[tie] = ranks[tie].mean()
    n_pos, n_neg = positive.sum(), (~positive).sum()
    if not n_pos or not n_neg:
        return float("nan")
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 30):
    """Logistic regression by Newton's method on standardized features; (mean, sd, w, b)."""
    mu, sd = x.mean(0), x.std(0) + 1e-9
    z = (x - mu) / sd
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        g_w = z.T @ (p - y) + l2 * w
        g_b = float(np.sum(p - y))
        s = p * (1 - p)
        h = np.zeros((x.shape[1] + 1, x.shape[1] + 1))
        h[:-1, :-1] = (z * s[:, None]).T @ z + l2 * np.eye(x.shape[1])
        h[:-1, -1] = h[-1, :-1] = z.T @ s
        h[-1, -1] = s.sum() + 1e-9
        step = np.linalg.solve(h, np.r_[g_w, g_b])
        w, b = w - step[:-1], b - step[-1]
    return mu, sd, w, b


def logistic_score(model, x: np.ndarray) -> np.ndarray:
    mu, sd, w, b = model
    return ((x - mu) / sd) @ w + b


def rule_score(x: np.ndarray, cols: list[str], rule: dict) -> np.ndarray:
    """A hand-set rule: the weighted sum of a few integer features."""
    return sum(w * x[:, cols.index(c)] for c, w in rule.items())


RULE = {"names_missing_window": 1.0, "numbers_missing_window": 1.0, "polarity_flipped": 1.0,
        "negation_added": 1.0, "rarest_term_missing_window": 1.0, "answer_type_missing": 0.5}
COMBINED = ("miss_share_window", "max_idf_missing_window", "rarest_term_missing_window",
            "n_rare_missing_window", "names_missing_window", "numbers_missing_window",
            "answer_type_missing", "polarity_missing", "polarity_flipped", "negation_added",
            "miss_share_passage", "gate_score_low", "best_dense_low", "best_lexical_low",
            "margin_low", "n_terms")


def evaluate_split(x, cols, passed, answerable, articles, cal_titles, keep) -> dict:
    """Per feature, the hand rule and the logistic regression: calibrate, then held out."""
    cal = np.isin(articles, list(cal_titles))
    hold = ~cal
    out = {}
    scores = {c: x[:, i] for i, c in enumerate(cols)}
    scores["rule"] = rule_score(x, cols, RULE)
    idx = [cols.index(c) for c in COMBINED]
    # the model learns on questions that pass the gate (the only ones it would see)
    train = cal & passed
    model = fit_logistic(x[train][:, idx], (~answerable[train]).astype(float))
    scores["logistic"] = logistic_score(model, x[:, idx])
    for name, s in scores.items():
        t = pick_threshold(s[cal], passed[cal], answerable[cal], keep)
        gated = cal & passed
        out[name] = {"threshold": round(t, 4),
                     "auc_after_gate_cal": round(auc(s[gated], ~answerable[gated]), 3),
                     "calibration": outcome(s[cal], passed[cal], answerable[cal], t),
                     "held_out": outcome(s[hold], passed[hold], answerable[hold], t)}
    out["_logistic_model"] = model
    return out


def _r(v) -> float:
    return round(float(v), 4)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--squad", default=str(SQUAD))
    ap.add_argument("--max-questions", type=int, default=1600,
                    help="sample this many questions (0: all; ~0.4 s each on 2 busy cores)")
    ap.add_argument("--keep", type=float, default=0.92,
                    help="share of answerable questions that must stay answered")
    ap.add_argument("--splits", type=int, default=20, help="random article splits to average")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--examples", type=int, default=8)
    args = ap.parse_args()

    from assistant import Settings
    from assistant.eval_run import eval_documents, fresh_assistant
    from assistant.evaluation import load_eval
    from assistant.pipeline import DOCUMENT_LEVEL
    from index import index_documents

    raw = json.loads(Path(args.squad).read_text(encoding="utf-8"))
    plausible = {qa["id"]: [a["text"] for a in qa.get("plausible_answers", [])]
                 for art in raw["data"] for p in art["paragraphs"] for qa in p["qas"]}
    data = load_eval(args.squad)
    rng = random.Random(args.seed)
    questions = list(data.questions)
    if args.max_questions:
        questions = rng.sample(questions, min(args.max_questions, len(questions)))

    settings = Settings(llm="extractive")
    tmp = Path(tempfile.mkdtemp(prefix="sourcechat-premise-"))
    t0 = time.perf_counter()
    try:
        a = fresh_assistant(settings, tmp / "squad", "premise")
        index_documents(eval_documents(data), a.store, chunk_size=settings.chunk_size,
                        chunk_overlap=settings.chunk_overlap, batch_size=settings.batch_size)
        a.retrieve("warm up")
        t_index = time.perf_counter() - t0
        print(f"indexed {len(data.documents)} paragraphs in {t_index:.0f} s", file=sys.stderr)
        rows, infos, keep_q = [], [], []
        for i, q in enumerate(questions, 1):
            f, info = question_features(a, q.question, settings.k)
            if not f:
                continue
            if info["kind"] in DOCUMENT_LEVEL:  # answered by documents.py, not the gate
                info["gate_passed"] = a.ask(q.question, backend="extractive").found
            rows.append(f)
            infos.append(info)
            keep_q.append(q)
            if i % 500 == 0:
                print(f"  {i}/{len(questions)} questions", file=sys.stderr, flush=True)
        t_features = time.perf_counter() - t0 - t_index

        seed = [json.loads(line) for line in SEED.read_text().splitlines() if line.strip()]
        b = fresh_assistant(settings, tmp / "seed", "premise-seed")
        b.ensure_indexed()
        seed_rows = [question_features(b, s["question"], settings.k) for s in seed]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    cols = list(rows[0])
    x = np.array([[r[c] for c in cols] for r in rows])
    passed = np.array([i["gate_passed"] for i in infos])
    answerable = np.array([q.answerable for q in keep_q])
    articles = np.array([q.article for q in keep_q])
    imp = ~answerable

    def decoy(i: int, field: str) -> bool:
        text = infos[i][field].lower()
        return any(p.lower() in text for p in plausible.get(keep_q[i].id, []) if p)

    today = {"answerable_answered": round(float(passed[answerable].mean()), 4),
             "impossible_answered": round(float(passed[imp].mean()), 4),
             "impossible_answered_quoting_decoy": round(float(np.mean(
                 [decoy(i, "quoted") for i in np.flatnonzero(imp & passed)])), 4)}

    titles = sorted(data.articles)
    split_rng = random.Random(args.seed)
    main_titles = split_rng.sample(titles, len(titles) // 2)
    main = evaluate_split(x, cols, passed, answerable, articles, main_titles, args.keep)
    model = main.pop("_logistic_model")

    repeated: dict[str, dict[str, list[float]]] = {}
    for _ in range(args.splits):
        cal_titles = split_rng.sample(titles, len(titles) // 2)
        res = evaluate_split(x, cols, passed, answerable, articles, cal_titles, args.keep)
        res.pop("_logistic_model")
        for name, r in res.items():
            d = repeated.setdefault(name, {"answered": [], "caught": []})
            d["answered"].append(r["held_out"]["answerable_answered"])
            d["caught"].append(r["held_out"]["impossible_caught"])
    over_splits = {name: {"held_out_answerable_answered_mean": _r(np.mean(d["answered"])),
                          "held_out_answerable_answered_min": _r(np.min(d["answered"])),
                          "held_out_impossible_caught_mean": _r(np.mean(d["caught"])),
                          "held_out_impossible_caught_min": _r(np.min(d["caught"]))}
                   for name, d in repeated.items()}

    idx = [cols.index(c) for c in COMBINED]
    mu, sd, w, b0 = model
    coef = {c: round(float(v), 3) for c, v in zip(COMBINED, w, strict=True)}
    lg = logistic_score(model, x[:, idx])
    t_lg = main["logistic"]["threshold"]
    hold = ~np.isin(articles, main_titles)

    def example(i: int) -> dict:
        return {"question": keep_q[i].question, "article": keep_q[i].article,
                "best_sentence": infos[i]["best"][:300], "missing": infos[i]["missing_window"],
                "answer_type": infos[i]["answer_type"],
                "fired": [c for c in COMBINED if x[i, cols.index(c)] > 0
                          and not c.endswith("_low") and c != "n_terms"],
                "score": round(float(lg[i]), 2), "decoy_quoted": decoy(i, "quoted")}

    ex_rng = random.Random(args.seed + 1)
    caught = [i for i in np.flatnonzero(hold & imp & passed) if lg[i] > t_lg]
    missed = [i for i in np.flatnonzero(hold & imp & passed) if lg[i] <= t_lg]
    false_alarm = [i for i in np.flatnonzero(hold & answerable & passed) if lg[i] > t_lg]
    pick = lambda xs: [example(i) for i in ex_rng.sample(xs, min(args.examples, len(xs)))]  # noqa: E731

    seed_flags = []
    for s, (f, info) in zip(seed, seed_rows, strict=True):
        if not f:
            continue
        sc = float(logistic_score(model, np.array([[f[c] for c in COMBINED]]))[0])
        rs = float(sum(wt * f[c] for c, wt in RULE.items()))
        seed_flags.append({"id": s["id"], "answerable": s["answerable"],
                           "gate_passed": bool(info["gate_passed"]),
                           "logistic_flag": sc > t_lg,
                           "rule_flag": rs > main["rule"]["threshold"],
                           "score": round(sc, 2)})

    print(json.dumps({
        "questions": {"total": len(keep_q), "answerable": int(answerable.sum()),
                      "impossible": int(imp.sum()), "sampled": bool(args.max_questions)},
        "seconds": {"index": round(t_index), "features": round(t_features)},
        "keep_answerable": args.keep, "today": today,
        "split": {"calibration_articles": sorted(main_titles),
                  "held_out_articles": sorted(set(titles) - set(main_titles))},
        "per_feature": main, "over_splits": over_splits,
        "logistic": {"features": list(COMBINED), "standardized_weights": coef,
                     "bias": round(float(b0), 3),
                     "mean": [round(float(v), 4) for v in mu],
                     "sd": [round(float(v), 4) for v in sd]},
        "rule": RULE,
        "held_out_logistic": {
            "caught_with_decoy_quoted": round(float(np.mean([decoy(i, "quoted")
                                                             for i in caught] or [0])), 3),
            "missed_with_decoy_quoted": round(float(np.mean([decoy(i, "quoted")
                                                             for i in missed] or [0])), 3)},
        "examples": {"caught": pick(caught), "missed": pick(missed),
                     "false_alarms": pick(false_alarm)},
        "seed": seed_flags,
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
