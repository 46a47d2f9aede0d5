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
- the gate's own scores;
- with --lm, a reading by the embedded SmolLM2-135M (llama.cpp): per question token,
  log p(token | evidence, question so far) and its PMI with the evidence (the same
  minus log p(token | question so far)), aggregated over the question's content words
  (`lm_features`); readings are cached per question id (--lm-cache).

For each feature (and a logistic regression over them, numpy only, plus a hand-set
rule), on a random half of the articles (calibration), the threshold is the loosest
that still leaves >= --keep of the answerable questions answered end to end (gate
passed and premise check passed); the share of impossible questions that end
declined or flagged is reported for calibration and held-out halves, and over
--splits random splits. Prints one JSON object.

    .venv/bin/python bench/premise_experiments.py [--max-questions 0] [--keep 0.92] \
        [--lm [--lm-variants window,passage] [--lm-threads 1]]
"""

from __future__ import annotations

import argparse
import hashlib
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

# the product's definitions (assistant/premise.py), so the bench measures what ships
from assistant.premise import (  # noqa: E402
    _DATE,
    _NUMBER,
    NEGATION,
    OPPOSITES,
    RARE_IDF,
    answer_type,
    tokens,
)


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
    w_start = len(sents[j - 1].text) + 1 if j else 0
    info["lm_contexts"] = lm_contexts(window, w_start, passage.text, best.sentence.start,
                                      best.sentence.text)
    return f, info


# -- language-model reading features (--lm) --------------------------------------------------
# SmolLM2-135M-Instruct (the embedded GGUF) run by llama.cpp reads each question twice: after
# the evidence ("Text: ...\nQuestion:") and after a neutral prefix ("Question:"). Per token
# of the question, PMI = log p(token | evidence, question so far) - log p(token | question so
# far): a word the evidence explains gains probability; an altered word ("least" where the
# text says "most", "Ireland" where it says "England") should gain little or lose some.
LM_CTX = 1024  # llama.cpp context (tokens): the longest prompt is ~450 tokens
LM_MARGINAL = "Question:"
LM_VARIANTS = {  # name: (prompt before the question, context, its maximum characters)
    "window": ("Text: {context}\nQuestion:", "window", 600),
    "passage": ("Text: {context}\nQuestion:", "passage", 1600),
}
LM_READ_VERSION = 2  # bump when what `Reader.read` stores changes
LM_LOW_PMI = 0.0  # a content word the evidence leaves (at best) no more likely counts as low


def clip(text: str, start: int, end: int, limit: int) -> str:
    """At most `limit` characters of `text` around `text[start:end]`, cut at spaces."""
    if len(text) <= limit:
        return text
    if end - start >= limit:
        return text[start:start + limit].rsplit(" ", 1)[0]
    left = max(0, start - (limit - (end - start)) // 2)
    right = min(len(text), left + limit)
    left = max(0, right - limit)
    out = text[left:right]
    if left:
        out = out.split(" ", 1)[-1]
    if right < len(text):
        out = out.rsplit(" ", 1)[0]
    return out


def lm_contexts(window: str, w_start: int, passage: str, p_start: int, sentence: str) -> dict:
    """The evidence each LM variant reads, clipped around the best sentence."""
    texts = {"window": (window, w_start), "passage": (passage, p_start)}
    out = {}
    for name, (_prompt, kind, limit) in LM_VARIANTS.items():
        text, start = texts[kind]
        out[name] = clip(text, start, start + len(sentence), limit)
    return out


class Reader:
    """Per-token log-probabilities of a question with and without evidence, cached by key.

    The cache (JSON) holds, per key, the question's token pieces, their log-probabilities
    after the neutral prefix and after each variant's prompt, the milliseconds each read
    took, and a signature of the prompts so a changed prompt is read again.
    """

    def __init__(self, cache: Path, threads: int = 2):
        self.cache_path = cache
        self.cache = json.loads(cache.read_text()) if cache.exists() else {}
        self.threads = threads
        self._llm = None
        self.new = 0

    @property
    def llm(self):
        if self._llm is None:
            from llama_cpp import Llama

            from assistant.embedded import gguf_path

            self._llm = Llama(model_path=str(gguf_path()), n_ctx=LM_CTX, logits_all=True,
                              n_threads=self.threads, n_threads_batch=self.threads,
                              verbose=False)
        return self._llm

    def _tokenize(self, text: str) -> list[int]:
        return self.llm.tokenize(text.encode(), add_bos=False, special=False)

    def log_softmax(self, prefix: str, question: list[int]) -> np.ndarray:
        """log p(v | prefix, the question's tokens before i) for each question position i
        and each vocabulary token v: an (n, vocabulary) array."""
        pre = self._tokenize(prefix)
        seq = pre + question
        self.llm.reset()
        self.llm.eval(seq)
        logits = np.asarray(self.llm.scores[len(pre) - 1:len(seq) - 1], dtype=np.float64)
        top = logits.max(1)
        return logits - (top + np.log(np.exp(logits - top[:, None]).sum(1)))[:, None]

    def read(self, key: str, question: str, contexts: dict[str, str]) -> dict:
        """The cached reading of a question; what is missing (or read with another prompt
        or question text) is computed now.

        Per variant: the log-probability of each question token after the evidence, and
        `<variant>_top`: per position, the token the evidence made likeliest, its
        log-probability with and without the evidence, and the rank of the actual token.
        """
        entry = self.cache.get(key)
        marginal = None
        if not entry or entry["question"] != question or entry["marginal_prompt"] != LM_MARGINAL:
            q = self._tokenize(" " + question.strip())
            t0 = time.perf_counter()
            marginal = self.log_softmax(LM_MARGINAL, q)
            entry = {"question": question, "marginal_prompt": LM_MARGINAL, "tokens": q,
                     "marginal": _picked(marginal, q), "sig": {}, "ms": {},
                     "pieces": [self.llm.detokenize([t]).decode("utf-8", "replace")
                                for t in q]}
            entry["ms"]["marginal"] = round(1000 * (time.perf_counter() - t0), 1)
        q = entry["tokens"]
        for name, context in contexts.items():
            prompt = LM_VARIANTS[name][0].format(context=context)
            sig = hashlib.sha1(f"{LM_READ_VERSION}\n{prompt}".encode()).hexdigest()
            if entry["sig"].get(name) == sig:
                continue
            t0 = time.perf_counter()
            cond = self.log_softmax(prompt, q)
            entry["ms"][name] = round(1000 * (time.perf_counter() - t0), 1)
            if marginal is None:
                marginal = self.log_softmax(LM_MARGINAL, q)
            entry[name] = _picked(cond, q)
            rows = np.arange(len(q))
            top = cond.argmax(1)
            rank = (cond > cond[rows, q][:, None]).sum(1)
            entry[f"{name}_top"] = [[int(t), round(float(cond[i, t]), 4),
                                     round(float(marginal[i, t]), 4), int(rank[i])]
                                    for i, t in enumerate(top)]
            entry["sig"][name] = sig
            self.new += 1
            if self.new % 100 == 0:
                self.save()
        self.cache[key] = entry
        return entry

    def save(self) -> None:
        self.cache_path.write_text(json.dumps(self.cache))


def _picked(log_probs: np.ndarray, question: list[int]) -> list[float]:
    """The log-probability of each actual question token."""
    return [round(float(v), 4) for v in log_probs[np.arange(len(question)), question]]


def lm_words(pieces: list[str]) -> list[tuple[str, list[int]]]:
    """Group token pieces into words: a piece starting with a space, or switching between
    letters/digits and punctuation, starts a new word; (word, piece indices)."""
    words: list[tuple[str, list[int]]] = []
    last_alnum = None
    for i, p in enumerate(pieces):
        alnum = any(c.isalnum() for c in p)
        if words and not p.startswith(" ") and alnum == last_alnum:
            words[-1] = (words[-1][0] + p, words[-1][1] + [i])
        else:
            words.append((p, [i]))
        last_alnum = alnum
    return [(w.strip(), idx) for w, idx in words]


def lm_content(word: str) -> bool:
    """A word the premise rests on: not a stopword / wh-word, unless it is a negation or a
    comparison/quantifier word (the words impossible questions most often change)."""
    from corpus.text import STOPWORDS

    toks = tokens(word)
    return any(t in NEGATION or t in OPPOSITES or t not in STOPWORDS for t in toks)


def lm_features(entry: dict, variants: tuple[str, ...]) -> dict:
    """Reading features of one question per variant (higher = more likely impossible).

    Word features run over the question's content words (`lm_content`), a word's value
    being the sum over its token pieces; token features run over every question token.
    """
    pieces = entry["pieces"]
    marg = np.array(entry["marginal"])
    words = [(w, idx) for w, idx in lm_words(pieces) if lm_content(w)] or lm_words(pieces)
    content = [i for _w, idx in words for i in idx]
    f = {}
    for name in variants:
        cond = np.array(entry[name])
        pmi = cond - marg
        top = np.array(entry[f"{name}_top"])  # (token, its log p, ... without evidence, rank)
        gap = top[:, 1] - cond  # how much likelier the evidence made another token
        w_pmi = np.array([pmi[idx].sum() for _w, idx in words])
        w_cond = np.array([cond[idx].sum() for _w, idx in words])
        worst = int(np.argmin(w_cond))
        f.update({
            f"lm_{name}_pmi_min_low": -float(w_pmi.min()),
            f"lm_{name}_pmi_mean_low": -float(w_pmi.mean()),
            f"lm_{name}_n_low_pmi": float(np.sum(w_pmi < LM_LOW_PMI)),
            f"lm_{name}_cond_min_low": -float(w_cond.min()),
            f"lm_{name}_pmi_at_worst_low": -float(w_pmi[worst]),
            f"lm_{name}_pmi_total_low": -float(pmi.sum()),
            f"lm_{name}_cond_mean_low": -float(cond.mean()),
            f"lm_{name}_rank_max": float(np.log1p(top[:, 3]).max()),
            f"lm_{name}_gap_max": float(gap.max()),
            f"lm_{name}_gap_max_content": float(gap[content].max()),
        })
    return f


def lm_cost(entries: list[dict], variants: tuple[str, ...]) -> dict:
    """Median milliseconds per question: each read, and the neutral read plus one variant."""
    out = {}
    for part in ["marginal", *variants]:
        out[part] = _r(np.median([e["ms"][part] for e in entries]))
    for name in variants:
        out[f"marginal+{name}"] = _r(np.median([e["ms"]["marginal"] + e["ms"][name]
                                               for e in entries]))
    return out


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


# the reading features the `logistic_lm` model adds (the best four by AUC after the gate)
LM_COMBINED = ("lm_window_pmi_min_low", "lm_window_cond_min_low", "lm_window_pmi_at_worst_low",
               "lm_window_gap_max_content")


def evaluate_split(x, cols, passed, answerable, articles, cal_titles, keep,
                   models: dict[str, tuple[str, ...]]) -> dict:
    """Per feature, the hand rule and each logistic regression: calibrate, then held out."""
    cal = np.isin(articles, list(cal_titles))
    hold = ~cal
    out = {}
    scores = {c: x[:, i] for i, c in enumerate(cols)}
    scores["rule"] = rule_score(x, cols, RULE)
    # the models learn on questions that pass the gate (the only ones they would see)
    train = cal & passed
    fitted = {}
    for name, feats in models.items():
        idx = [cols.index(c) for c in feats]
        fitted[name] = fit_logistic(x[train][:, idx], (~answerable[train]).astype(float))
        scores[name] = logistic_score(fitted[name], x[:, idx])
    for name, s in scores.items():
        t = pick_threshold(s[cal], passed[cal], answerable[cal], keep)
        gated = cal & passed
        out[name] = {"threshold": round(t, 4),
                     "auc_after_gate_cal": round(auc(s[gated], ~answerable[gated]), 3),
                     "calibration": outcome(s[cal], passed[cal], answerable[cal], t),
                     "held_out": outcome(s[hold], passed[hold], answerable[hold], t)}
    out["_models"] = fitted
    return out


def _r(v) -> float:
    return round(float(v), 4)


def collect(args) -> dict:
    """Index the SQuAD paragraphs, compute every question's features (and the seed
    questions'), as the pipeline would see them; the gate decides what counts as passed."""
    from assistant import Settings
    from assistant.eval_run import eval_documents, fresh_assistant
    from assistant.evaluation import load_eval
    from assistant.pipeline import DOCUMENT_LEVEL
    from index import index_documents

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
    return {"data": data, "rows": rows, "infos": infos, "questions": keep_q, "seed": seed,
            "seed_rows": seed_rows, "seconds": {"index": round(t_index),
                                                "features": round(t_features)}}


def add_lm(reader: Reader, variants: tuple[str, ...], keys: list[str], texts: list[str],
           rows: list[dict], infos: list[dict]) -> list[dict]:
    """Add the reading features to the rows of questions the gate passes (zeros for the
    others: declined already, never scored); the readings used, for their cost."""
    entries = []
    for i, (key, text, f, info) in enumerate(zip(keys, texts, rows, infos, strict=True), 1):
        if not (f and info["gate_passed"]):
            f.update(dict.fromkeys(lm_feature_names(variants), 0.0) if f else {})
            continue
        entry = reader.read(key, text, {n: info["lm_contexts"][n] for n in variants})
        f.update(lm_features(entry, variants))
        pmi = np.array(entry[variants[0]]) - np.array(entry["marginal"])
        info["lm_low_words"] = sorted(
            ((w, round(float(pmi[idx].sum()), 2)) for w, idx in lm_words(entry["pieces"])
             if lm_content(w)), key=lambda wp: wp[1])[:3]
        entries.append(entry)
        if i % 200 == 0:
            print(f"  read {i}/{len(rows)}", file=sys.stderr, flush=True)
    reader.save()
    return entries


def lm_feature_names(variants: tuple[str, ...]) -> tuple[str, ...]:
    """The names `lm_features` gives for these variants."""
    fake = {"pieces": [" a"], "marginal": [0.0]}
    for n in variants:
        fake.update({n: [0.0], f"{n}_top": [[0, 0.0, 0.0, 0]]})
    return tuple(lm_features(fake, variants))


def model_report(model, feats: tuple[str, ...]) -> dict:
    """A fitted logistic regression's standardized weights, bias and scaling."""
    mu, sd, w, b0 = model
    return {"features": list(feats),
            "standardized_weights": {c: round(float(v), 3)
                                     for c, v in zip(feats, w, strict=True)},
            "bias": round(float(b0), 3), "mean": [round(float(v), 4) for v in mu],
            "sd": [round(float(v), 4) for v in sd]}


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
    ap.add_argument("--lm", action="store_true",
                    help="add the language-model reading features (SmolLM2 via llama.cpp)")
    ap.add_argument("--lm-cache", default="/tmp/premise_lm_cache.json",
                    help="per-question readings, reused across runs")
    ap.add_argument("--lm-variants", default="window",
                    help=f"comma-separated evidence variants to read: {', '.join(LM_VARIANTS)}")
    ap.add_argument("--lm-threads", type=int, default=2,
                    help="llama.cpp threads (1 when another job keeps a core busy: two "
                         "threads then wait on each other, 20-50x slower)")
    args = ap.parse_args()

    raw = json.loads(Path(args.squad).read_text(encoding="utf-8"))
    plausible = {qa["id"]: [a["text"] for a in qa.get("plausible_answers", [])]
                 for art in raw["data"] for p in art["paragraphs"] for qa in p["qas"]}
    got = collect(args)
    data, rows, infos, keep_q = got["data"], got["rows"], got["infos"], got["questions"]
    seed, seed_rows = got["seed"], got["seed_rows"]
    models = {"logistic": COMBINED}
    lm_report = {}
    if args.lm:
        variants = tuple(args.lm_variants.split(","))
        reader = Reader(Path(args.lm_cache), threads=args.lm_threads)
        t0 = time.perf_counter()
        entries = add_lm(reader, variants, [q.id for q in keep_q],
                         [q.question for q in keep_q], rows, infos)
        add_lm(reader, variants, [f"seed:{s['id']}" for s in seed],
               [s["question"] for s in seed], [f for f, _ in seed_rows],
               [i for _, i in seed_rows])
        got["seconds"]["lm"] = round(time.perf_counter() - t0)
        lm_report = {"questions_read": len(entries), "read_now": reader.new,
                     "threads": args.lm_threads,
                     "median_ms_per_question": lm_cost(entries, variants),
                     "prompts": {n: LM_VARIANTS[n][0] for n in variants},
                     "marginal_prompt": LM_MARGINAL,
                     "context_chars": {n: LM_VARIANTS[n][2] for n in variants}}
        models.update({"logistic_lm": COMBINED + LM_COMBINED, "lm_only": LM_COMBINED})
    shown = "logistic_lm" if args.lm else "logistic"

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
    main = evaluate_split(x, cols, passed, answerable, articles, main_titles, args.keep,
                          models)
    fitted = main.pop("_models")

    repeated: dict[str, dict[str, list[float]]] = {}
    for _ in range(args.splits):
        cal_titles = split_rng.sample(titles, len(titles) // 2)
        res = evaluate_split(x, cols, passed, answerable, articles, cal_titles, args.keep,
                             models)
        res.pop("_models")
        for name, r in res.items():
            d = repeated.setdefault(name, {"answered": [], "caught": []})
            d["answered"].append(r["held_out"]["answerable_answered"])
            d["caught"].append(r["held_out"]["impossible_caught"])
    over_splits = {name: {"held_out_answerable_answered_mean": _r(np.mean(d["answered"])),
                          "held_out_answerable_answered_min": _r(np.min(d["answered"])),
                          "held_out_impossible_caught_mean": _r(np.mean(d["caught"])),
                          "held_out_impossible_caught_min": _r(np.min(d["caught"]))}
                   for name, d in repeated.items()}

    feats = models[shown]
    idx = [cols.index(c) for c in feats]
    lg = logistic_score(fitted[shown], x[:, idx])
    t_lg = main[shown]["threshold"]
    hold = ~np.isin(articles, main_titles)

    def example(i: int) -> dict:
        ex = {"question": keep_q[i].question, "article": keep_q[i].article,
              "best_sentence": infos[i]["best"][:300], "missing": infos[i]["missing_window"],
              "answer_type": infos[i]["answer_type"],
              "fired": [c for c in COMBINED if x[i, cols.index(c)] > 0
                        and not c.endswith("_low") and c != "n_terms"],
              "score": round(float(lg[i]), 2), "decoy_quoted": decoy(i, "quoted")}
        if args.lm:
            ex["lm_low_pmi_words"] = infos[i].get("lm_low_words", [])
        return ex

    ex_rng = random.Random(args.seed + 1)
    caught = [i for i in np.flatnonzero(hold & imp & passed) if lg[i] > t_lg]
    missed = [i for i in np.flatnonzero(hold & imp & passed) if lg[i] <= t_lg]
    false_alarm = [i for i in np.flatnonzero(hold & answerable & passed) if lg[i] > t_lg]
    pick = lambda xs: [example(i) for i in ex_rng.sample(xs, min(args.examples, len(xs)))]  # noqa: E731

    seed_flags = []
    for s, (f, info) in zip(seed, seed_rows, strict=True):
        if not f:
            continue
        sc = {name: float(logistic_score(fitted[name], np.array([[f.get(c, 0.0)
                                                                 for c in models[name]]]))[0])
              for name in models}
        rs = float(sum(wt * f[c] for c, wt in RULE.items()))
        flags = {f"{name}_flag": sc[name] > main[name]["threshold"] for name in models}
        seed_flags.append({"id": s["id"], "answerable": s["answerable"],
                           "gate_passed": bool(info["gate_passed"]), **flags,
                           "rule_flag": rs > main["rule"]["threshold"],
                           "score": round(sc[shown], 2)})

    report = {
        "questions": {"total": len(keep_q), "answerable": int(answerable.sum()),
                      "impossible": int(imp.sum()), "sampled": bool(args.max_questions)},
        "seconds": got["seconds"],
        "keep_answerable": args.keep, "today": today,
        "split": {"calibration_articles": sorted(main_titles),
                  "held_out_articles": sorted(set(titles) - set(main_titles))},
        "per_feature": main, "over_splits": over_splits,
        **{name: model_report(fitted[name], models[name]) for name in models},
        "rule": RULE,
        f"held_out_{shown}": {
            "caught_with_decoy_quoted": round(float(np.mean([decoy(i, "quoted")
                                                             for i in caught] or [0])), 3),
            "missed_with_decoy_quoted": round(float(np.mean([decoy(i, "quoted")
                                                             for i in missed] or [0])), 3)},
        "examples": {"caught": pick(caught), "missed": pick(missed),
                     "false_alarms": pick(false_alarm)},
        "seed": seed_flags,
    }
    if args.lm:
        report["lm"] = lm_report
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
