"""The premise check: does the best evidence state what the question asks about?

The relevance gate declines questions about subjects the documents never mention. A
question about a covered subject can still ask for something the documents do not say
("What is one of the *least* important open questions?" where the text says *most*;
"Who realized that only *some* bodies ...?" where it says *all*): the gate passes it,
and quoting the nearest sentence would read as an answer. After the gate, lookups,
lists and explanations are checked here: explainable features of the question against
its best evidence sentence and that sentence's neighbours ("window"), combined by a
logistic score whose weights and threshold are settings, fitted on SQuAD 2.0's
impossible and answerable questions by `bench/calibrate_premise.py`.

Above the threshold the answer is `partial`: it says what the documents do not state
(the feature that fired names it: a word whose opposite is written, an added "not", a
name or number the text lacks) and then quotes what they do say, cited.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from assistant.citations import ANSWERED, PARTIAL
from assistant.evidence import Evidence, Relevance
from corpus.text import STOPWORDS, content_terms
from index.passages import Passage
from index.vectors import chunk_sentences

RARE_IDF = 3.0      # a question term this rare over the chunks is "specific"
NAME_PREFIX = 5     # a name counts as present when a word of the text starts the same way

NEGATION = frozenset("not n't never no none nobody nothing without neither nor cannot".split())
# comparison and quantifier words, each with its opposites (read from raw tokens: the
# content terms drop most of them as stopwords)
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
_NUMBER_WORDS = ("one two three four five six seven eight nine ten eleven twelve twenty "
                 "thirty forty fifty hundred hundreds thousand thousands million millions "
                 "billion billions dozen dozens several half quarter percent").split()
_MONTHS = ("january february march april may june july august september october november "
           "december").split()
_NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(?:" + "|".join(_NUMBER_WORDS) + r")\b", re.I)
_DATE = re.compile(r"\b(?:1\d{3}|20\d{2}|\d{1,4}s|\d{1,2}(?:st|nd|rd|th))\b|\bcentur(?:y|ies)\b"
                   r"|\b(?:" + "|".join(_MONTHS) + r")\b|\b(?:BC|AD|BCE|CE)\b", re.I)
_WH = (  # (pattern on the question, expected answer type); the first match wins
    (re.compile(r"\bhow (?:many|much|long|old|far|large|big|high|often)\b|\bwhat (?:percent"
                r"(?:age)?|number|amount|proportion|fraction)\b", re.I), "number"),
    (re.compile(r"\bwhen\b|\b(?:what|which|in what|in which) (?:year|century|decade|date"
                r"|month|day|period|era)\b", re.I), "date"),
    (re.compile(r"\bwho(?:m|se)?\b|\bwhere\b", re.I), "name"),
)
_TOKEN = re.compile(r"[A-Za-z]+(?:'[a-z]+)?|n't|\d[\d,.]*")
_QUESTION_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
# -est words that are superlatives (not "interest", "forest", "protest", ...)
_SUPERLATIVE = re.compile(r"(?!(?:inter|requ|for|prot|sugg|cont|harv|conqu|inqu|dig|arr|inv"
                          r"|mod|hon|w|r|t|gu|qu|n|ch|pri|manif|b|l|m)est$)[a-z]{2,}est")

# The features, in the order of the weights; each is higher when the premise is less
# likely stated. The first five are the ones an explanation can name.
FEATURES = (
    "negation_added",          # the question says not/never/no...; the window does not
    "polarity_flipped",        # a comparison word of the question is absent, its opposite there
    "numbers_missing",         # numbers of the question absent from the window
    "names_missing",           # capitalized names of the question absent from the window
    "rare_missing",            # specific terms (IDF >= RARE_IDF) absent from the window
    "polarity_missing",        # comparison/quantifier words of the question absent
    "max_idf_missing",         # IDF of the rarest question term absent from the window
    "miss_share_window",       # IDF-weighted share of the question's terms absent (window)
    "miss_share_passage",      # ... absent from the best sentence's whole passage
    "answer_type_missing",     # no number for "how many", no date for "when", no name for "who"
    "gate_score",              # the relevance gate's score
    "best_dense",              # the best sentence's cosine with the question
    "margin",                  # how far the best sentence leads the second
    "n_terms",                 # content terms in the question
    "name_swapped",            # a name of the question is missing and the window names another
    "one_word_changed",        # one specific word missing, the question's other terms all there
    "negation_asked",          # the question has a negation at all
    "superlative_asked",       # the question has a superlative or comparative word
    "bigram_share",            # share of the question's word pairs found together in the window
    "best_lexical",            # share of the question's terms in the best sentence
)


@dataclass(frozen=True)
class Premise:
    """The check's verdict on one question: `status` is ANSWERED or PARTIAL; `score` the
    logistic score (flagged above the threshold); `reason` what the evidence does not
    state, in words ("it says “most”, not “least”"), empty when answered."""

    status: str
    score: float
    reason: str = ""
    features: Mapping[str, float] | None = None


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens, with "n't" split off."""
    text = text.replace("’", "'").replace("n't", " n't")
    return [t.lower() for t in _TOKEN.findall(text)]


def names(text: str) -> list[str]:
    """Capitalized words not at a sentence start, as written (a cheap name finder)."""
    out = []
    for m in re.finditer(r"(?<![.!?:]\s)(?<!^)\b[A-Z][\w'’-]+", text):
        w = re.sub(r"['’]s?$", "", m.group(0))
        if w.lower() not in STOPWORDS and len(w) > 1 and w not in out:
            out.append(w)
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
        found = [n.lower() for n in names(" " + sentence)]
    return any(f not in asked for f in found)


def window_of(evidence: Evidence, passages: Sequence[Passage]) -> str:
    """The best sentence with one sentence either side, from its passage."""
    text = passages[evidence.passage].text
    sents = chunk_sentences(text)
    j = next((i for i, s in enumerate(sents) if s.start == evidence.sentence.start), None)
    if j is None:
        return evidence.sentence.text
    return " ".join(s.text for s in sents[max(0, j - 1):j + 2])


def _name_present(name: str, window: str, window_words: set[str]) -> bool:
    low = name.lower()
    if low in window.lower():
        return True
    prefix = low[:NAME_PREFIX]
    return len(low) > NAME_PREFIX and any(w.startswith(prefix) for w in window_words)


@dataclass(frozen=True)
class Findings:
    """What the question asks that the window does not state, for the explanation."""

    negation: str = ""                       # the question's negation word
    flipped: tuple[str, str] | None = None   # (asked, written instead)
    numbers: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()              # specific terms, rarest first


def features(question: str, evidence: Sequence[Evidence], passages: Sequence[Passage],
             relevance: Relevance, idf: Callable[[str], float] | None
             ) -> tuple[dict[str, float], Findings]:
    """The premise features of a question against its evidence (best first), and the
    findings that explain them."""
    best = evidence[0]
    window = window_of(best, passages)
    passage = passages[best.passage].text
    q_tokens, w_tokens = tokens(question), set(tokens(window))
    q_terms = set(content_terms(question))
    w_terms = set(content_terms(window))
    weight = {t: (idf(t) if idf else 1.0) for t in q_terms}
    total = sum(weight.values()) or 1.0
    m_win = q_terms - w_terms
    m_pass = q_terms - set(content_terms(passage))
    rare = sorted((t for t in m_win if weight[t] >= RARE_IDF), key=lambda t: -weight[t])

    negation = next((t for t in q_tokens if t in NEGATION), "")
    negation_added = bool(negation) and not (w_tokens & NEGATION)
    comparisons = [t for t in dict.fromkeys(q_tokens) if t in OPPOSITES and t not in w_tokens]
    flipped = next(((t, o) for t in comparisons for o in OPPOSITES[t].split() if o in w_tokens),
                   None)
    numbers = [n for n in dict.fromkeys(_QUESTION_NUMBER.findall(question)) if n not in window]
    w_words = {w.lower() for w in re.findall(r"\w+", window)}
    missing_names = [n for n in names(question) if not _name_present(n, window, w_words)]
    f = {
        "negation_added": float(negation_added),
        "polarity_flipped": float(flipped is not None),
        "numbers_missing": float(len(numbers)),
        "names_missing": float(len(missing_names)),
        "rare_missing": float(len(rare)),
        "polarity_missing": float(len(comparisons)),
        "max_idf_missing": max((weight[t] for t in m_win), default=0.0),
        "miss_share_window": sum(weight[t] for t in m_win) / total,
        "miss_share_passage": sum(weight[t] for t in m_pass) / total,
        "answer_type_missing": float(not type_present(answer_type(question),
                                                      best.sentence.text, question)),
        "gate_score": relevance.score,
        "best_dense": best.dense,
        "margin": best.score - evidence[1].score if len(evidence) > 1 else 0.0,
        "n_terms": float(len(q_terms)),
    }
    other_names = [n for n in names(" " + window) if n.lower() not in question.lower()]
    specific = len(rare) + len(numbers) + len(missing_names)
    present = (len(q_terms) - len(m_win)) / len(q_terms) if q_terms else 0.0
    q_content = [t for t in q_tokens if t not in STOPWORDS or t in OPPOSITES]
    pairs = list(zip(q_content, q_content[1:], strict=False))
    w_list = tokens(window)
    w_pairs = set(zip(w_list, w_list[1:], strict=False))
    f.update({
        "name_swapped": float(bool(missing_names) and bool(other_names)),
        "one_word_changed": float(len(m_win) == 1 and specific >= 1 and present >= 0.75),
        "negation_asked": float(bool(negation)),
        "superlative_asked": float(any(t in OPPOSITES or _SUPERLATIVE.fullmatch(t)
                                       for t in q_tokens)),
        "bigram_share": sum(pair in w_pairs for pair in pairs) / len(pairs) if pairs else 0.0,
        "best_lexical": best.lexical,
    })
    findings = Findings(negation if negation_added else "", flipped, tuple(numbers),
                        tuple(missing_names), tuple(rare))
    return f, findings


def explain(findings: Findings, f: Mapping[str, float], weights: Mapping[str, float]) -> str:
    """What the documents do not state, from the named feature that weighs most."""
    options = []
    if findings.flipped:
        asked, written = findings.flipped
        options.append(("polarity_flipped",
                        f"they say “{written}”, not “{asked}”"))
    if findings.negation:
        options.append(("negation_added",
                        f"the passage does not say “{findings.negation}” or any negation"))
    if findings.numbers:
        options.append(("numbers_missing", f"they do not mention {_listed(findings.numbers)} "
                                           "in this connection"))
    if findings.names:
        options.append(("names_missing", f"they do not mention {_listed(findings.names)} "
                                         "in this connection"))
    if findings.terms:
        options.append(("rare_missing", f"they do not mention {_listed(findings.terms[:2])} "
                                        "in this connection"))
    if not options:
        return "the closest passage matches it only loosely"
    return max(options, key=lambda o: weights.get(o[0], 0.0) * f.get(o[0], 0.0))[1]


def _listed(items: Sequence[str]) -> str:
    quoted = [f"“{i}”" for i in items]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


class PremiseCheck:
    """Flags a question whose best evidence does not state what it asks.

    `weights` maps each name in FEATURES (and "bias") to its weight on the raw
    feature; the premise is flagged when the weighted sum exceeds `threshold`
    (`Settings.premise_weights`, `Settings.premise_threshold`).
    """

    def __init__(self, weights: Mapping[str, float], threshold: float,
                 idf: Callable[[str], float] | None = None):
        unknown = set(weights) - set(FEATURES) - {"bias"}
        if unknown:
            raise ValueError(f"unknown premise features: {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(FEATURES)}")
        self.weights = dict(weights)
        self.threshold = threshold
        self.idf = idf

    def score(self, f: Mapping[str, float]) -> float:
        """The logistic score (log-odds that the premise is not stated)."""
        return self.weights.get("bias", 0.0) + sum(
            w * f.get(name, 0.0) for name, w in self.weights.items() if name != "bias")

    def check(self, question: str, evidence: Sequence[Evidence], passages: Sequence[Passage],
              relevance: Relevance) -> Premise:
        """ANSWERED when the evidence states what the question asks, else PARTIAL with
        the reason."""
        if not evidence:
            return Premise(ANSWERED, float("-inf"))
        f, findings = features(question, evidence, passages, relevance, self.idf)
        score = self.score(f)
        if score <= self.threshold:
            return Premise(ANSWERED, score, "", f)
        return Premise(PARTIAL, score, explain(findings, f, self.weights), f)
