"""Representative sentences of a whole document, chosen without a model.

Used for summaries, overviews and key points with `extractive` and the small
embedded model (which cannot summarize reliably), for the one line per document
of a collection overview, and for the sides of a comparison. Every part of the
document is considered: the document is cut into as many consecutive parts as
points wanted, and each part gives its most central sentence (closest to the
part's and the document's mean sentence vector, and to the question's subject
when it has one) unless it repeats one already chosen. The result is in
document order, each sentence with the passage it came from, so it is cited.
The sentence vectors are the ones stored at ingest: no embedding at question time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from corpus.injection import overlaps, planted
from corpus.text import Sentence, content_terms, words
from index.passages import Passage
from index.vectors import chunk_sentences

MIN_WORDS, MAX_WORDS = 6, 80   # shorter lines are titles or bylines; longer ones run-ons
REDUNDANT = 0.85               # cosine above which a sentence repeats one already chosen
# score weights: closeness to the part's and the document's mean, to the subject; the
# document's signature terms (frequent in it, rare elsewhere); a bonus for a part's opening
PART, DOCUMENT, SUBJECT, SIGNATURE, LEAD = 0.45, 0.35, 0.3, 0.3, 0.04
OPENING = 0.1     # the document's first sentences (its topic sentence, usually): halved per rank
DANGLING = 0.15   # a sentence opening with a pronoun ("He then...") reads badly out of context
_PRONOUN = re.compile(r"^[\"“‘(]?(he|she|it|they|this|these|those|his|her|its|their|them|"
                      r"him|such|there|then|thus|however|also|finally)\b", re.I)


@dataclass(frozen=True)
class Picked:
    """A chosen sentence: the passage (index into the given list) and the sentence in it."""

    passage: int
    sentence: Sentence


def points_for(n_sentences: int, most: int) -> int:
    """How many points a document gets: a few for a short one, up to `most` for a long one."""
    return max(1, min(most, n_sentences, round(math.sqrt(n_sentences)) + 2))


def candidates(passages: Sequence[Passage], strict: bool = True
               ) -> list[tuple[int, int, Sentence]]:
    """(passage index, sentence index in its chunk, sentence) for each distinct sentence worth
    quoting, in document order (overlapping chunks repeat a sentence: kept once); instructions
    addressed to an AI assistant or the reader are no point of the document. A document
    with none (slides, lists, text without full stops) gets every distinct sentence."""
    seen: set[tuple] = set()
    out = []
    for i, p in enumerate(passages):
        flagged = planted(p.text) if strict else []
        for j, s in enumerate(chunk_sentences(p.text)):
            key = (p.source, p.page, p.start + s.start)
            if key in seen or not content_terms(s.text):
                continue
            if strict and (not MIN_WORDS <= len(words(s.text)) <= MAX_WORDS
                           or len(content_terms(s.text)) < 3
                           or overlaps([(s.start, s.end)], flagged)):
                continue
            seen.add(key)
            out.append((i, j, s))
    return out if out or not strict else candidates(passages, strict=False)


def representative(passages: Sequence[Passage],
                   vectors: Callable[[Sequence[Passage]], dict[str, np.ndarray]],
                   most: int, subject: np.ndarray | None = None,
                   idf: Callable[[str], float] | None = None,
                   opening: float = OPENING) -> list[Picked]:
    """Up to `most` representative sentences of one document's passages (document order).

    `idf` (the collection's inverse document frequency) weighs the document's signature
    terms: a sentence holding the terms the document uses often and others rarely
    ("Turing machine" in an article on complexity theory) is a better point.
    """
    cands = candidates(passages)
    if not cands:
        return []
    mats = vectors(passages)
    rows = []
    for i, j, _ in cands:
        mat = mats.get(passages[i].id)
        rows.append(mat[j] if mat is not None and j < len(mat) else None)
    dim = next((r.shape[0] for r in rows if r is not None), 0)
    if dim == 0:
        return [Picked(i, s) for i, _, s in cands[:most]]
    vecs = np.stack([r if r is not None else np.zeros(dim, np.float32) for r in rows])
    vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-9)
    doc = _unit(vecs.mean(axis=0))
    subj = _unit(subject) if subject is not None else None
    sig = _signature([s.text for _, _, s in cands], idf)
    prior = np.array([opening * 0.5 ** k - DANGLING * bool(_PRONOUN.match(s.text))
                      for k, (_, _, s) in enumerate(cands)], dtype=np.float32)
    n = points_for(len(cands), most)
    bounds = np.linspace(0, len(cands), n + 1).round().astype(int)
    chosen: list[int] = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        if b <= a:
            continue
        part = _unit(vecs[a:b].mean(axis=0))
        score = PART * (vecs[a:b] @ part) + DOCUMENT * (vecs[a:b] @ doc)
        if subj is not None:
            score = score + SUBJECT * (vecs[a:b] @ subj)
        score = score + SIGNATURE * sig[a:b] + prior[a:b]
        score[0] += LEAD
        for k in np.argsort(-score):
            idx = a + int(k)
            if all(float(vecs[idx] @ vecs[c]) < REDUNDANT for c in chosen):
                chosen.append(idx)
                break
    return [Picked(cands[c][0], cands[c][2]) for c in sorted(chosen)]


def _signature(texts: Sequence[str], idf: Callable[[str], float] | None) -> np.ndarray:
    """Each sentence's share of the document's signature-term weight (tf-idf of its terms
    in the document), scaled so the best sentence scores 1."""
    terms = [set(content_terms(t)) for t in texts]
    if idf is None or not texts:
        return np.zeros(len(texts), dtype=np.float32)
    tf: dict[str, int] = {}
    for ts in terms:
        for t in ts:
            tf[t] = tf.get(t, 0) + 1
    weight = {t: (n - 1) * idf(t) for t, n in tf.items()}  # a term used once signs nothing
    raw = np.array([sum(weight[t] for t in ts) / math.sqrt(len(ts) + 4) for ts in terms],
                   dtype=np.float32)
    return raw / max(float(raw.max()), 1e-9)


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / max(float(np.linalg.norm(v)), 1e-9)
