"""Evaluation data and metrics: SQuAD-format and seed-question files; recall, MRR, EM, F1.

`load_eval` reads either a SQuAD 2.0 JSON file (one document per paragraph,
source `Title#paragraph-index`) or a JSON-lines file of seed questions (then the
documents are the sample corpus). The metric functions are SQuAD's official
definitions (normalise: lower-case, strip punctuation and articles).
"""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from corpus.errors import SourcechatError


@dataclass(frozen=True)
class EvalQuestion:
    """A question, its gold answers, the article and paragraph it is about."""

    id: str
    question: str
    answers: tuple[str, ...]
    answerable: bool
    article: str = ""
    source: str = ""  # gold paragraph's source (`Title#i`); "" when unknown
    all_required: bool = False


@dataclass
class EvalSet:
    """Documents (source -> text, grouped by article) and questions."""

    documents: dict[str, str] = field(default_factory=dict)
    articles: dict[str, list[str]] = field(default_factory=dict)  # article -> sources
    questions: list[EvalQuestion] = field(default_factory=list)

    @property
    def answerable(self) -> list[EvalQuestion]:
        """The questions with gold answers."""
        return [q for q in self.questions if q.answerable]


def load_eval(path: str | Path) -> EvalSet:
    """Read a SQuAD 2.0 JSON file or a seed-questions JSON-lines file."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as err:
        raise SourcechatError(f"Cannot read {path}: {err.strerror or err}") from None
    try:
        if path.suffix == ".jsonl" or not raw.lstrip().startswith("{"):
            return _from_jsonl(raw)
        return _from_squad(json.loads(raw))
    except (ValueError, KeyError, TypeError) as err:
        raise SourcechatError(
            f"{path} is neither SQuAD JSON nor seed-questions JSON lines ({err})") from None


def _from_squad(data: dict) -> EvalSet:
    out = EvalSet()
    for article in data["data"]:
        title = article["title"]
        out.articles[title] = []
        for i, para in enumerate(article["paragraphs"]):
            source = f"{title}#{i}"
            out.documents[source] = para["context"]
            out.articles[title].append(source)
            for qa in para["qas"]:
                answers = tuple(dict.fromkeys(a["text"] for a in qa.get("answers", [])))
                answerable = not qa.get("is_impossible", False) and bool(answers)
                out.questions.append(EvalQuestion(qa["id"], qa["question"], answers, answerable,
                                                  title, source))
    return out


def _from_jsonl(raw: str) -> EvalSet:
    out = EvalSet()
    for line in raw.splitlines():
        if line.strip():
            item = json.loads(line)
            out.questions.append(EvalQuestion(
                item["id"], item["question"], tuple(item.get("answers", [])),
                bool(item.get("answerable", True)), all_required=bool(
                    item.get("all_answers_required"))))
    return out


# -- SQuAD's official answer normalisation and metrics -------------------------------------
def normalize_answer(s: str) -> str:
    """Lower-case, remove punctuation, articles and extra whitespace."""
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals a normalised gold answer."""
    p = normalize_answer(prediction)
    return float(any(p == normalize_answer(g) for g in golds))


def f1_score(prediction: str, golds: Sequence[str]) -> float:
    """Best token-level F1 of the prediction against the gold answers."""
    best = 0.0
    pred = normalize_answer(prediction).split()
    for gold in golds:
        ref = normalize_answer(gold).split()
        common = Counter(pred) & Counter(ref)
        same = sum(common.values())
        if not pred or not ref:
            best = max(best, float(pred == ref))
            continue
        if same == 0:
            continue
        precision, recall = same / len(pred), same / len(ref)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def contains_answer(text: str, golds: Sequence[str]) -> bool:
    """A passage contains a gold answer string (normalised, so 'The 93,000' matches '93,000')."""
    t = f" {normalize_answer(text)} "
    return any(normalize_answer(g) and f" {normalize_answer(g)} " in t for g in golds)


def first_hit(texts: Sequence[str], golds: Sequence[str]) -> int | None:
    """0-based rank of the first passage containing a gold answer, or None."""
    for i, t in enumerate(texts):
        if contains_answer(t, golds):
            return i
    return None


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    if not values:
        return 0.0
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo, hi = int(pos), min(int(pos) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)
