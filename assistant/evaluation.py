"""Evaluation data and metrics: SQuAD-format, seed-question and document-question files;
recall, MRR, EM, F1, nuggets.

`load_eval` reads either a SQuAD 2.0 JSON file (one document per paragraph,
source `Title#paragraph-index`) or a JSON-lines file of seed questions (then the
documents are the sample corpus). The metric functions are SQuAD's official
definitions (normalise: lower-case, strip punctuation and articles).

`load_document_questions` reads questions about documents as a whole (JSON lines
whose items have `nuggets`, ../shared/eval/document-questions.jsonl); `judge_document`
applies its pass criteria to one answer and `tally` counts the passes.
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

MARKERS = re.compile(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]")


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
    decoys: tuple[str, ...] = ()  # an impossible SQuAD question's `plausible_answers`


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


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as err:
        raise SourcechatError(f"Cannot read {path}: {err.strerror or err}") from None


def load_eval(path: str | Path) -> EvalSet:
    """Read a SQuAD 2.0 JSON file or a seed-questions JSON-lines file."""
    path = Path(path)
    raw = _read(path)
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
                decoys = tuple(dict.fromkeys(a["text"] for a in qa.get("plausible_answers", [])))
                out.questions.append(EvalQuestion(qa["id"], qa["question"], answers, answerable,
                                                  title, source, decoys=decoys))
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


def squad_articles(path: str | Path) -> dict[str, str]:
    """Title -> the article's paragraphs joined by blank lines, from a SQuAD JSON file."""
    path = Path(path)
    try:
        data = json.loads(_read(path))
        return {a["title"]: "\n\n".join(p["context"] for p in a["paragraphs"])
                for a in data["data"]}
    except (ValueError, KeyError, TypeError) as err:
        raise SourcechatError(f"{path} is not SQuAD JSON ({err})") from None


# -- questions about documents as a whole --------------------------------------------------
@dataclass(frozen=True)
class DocumentQuestion:
    """A question about whole documents: nugget groups the answer must hold, and how many."""

    id: str
    kind: str
    question: str
    nuggets: tuple[tuple[str, ...], ...]  # groups of alternative strings
    min_nuggets: int
    min_documents: int = 0  # distinct documents the answer must cite
    scope: tuple[str, ...] = ()  # file names the question is restricted to (() = all)
    answerable: bool = True


@dataclass(frozen=True)
class DocumentVerdict:
    """How one answer fared: passed, the nugget found per group (None: missing), the
    distinct documents cited."""

    passed: bool
    nuggets: tuple[str | None, ...]
    documents: tuple[str, ...]

    @property
    def nuggets_found(self) -> int:
        """How many nugget groups the answer holds."""
        return sum(n is not None for n in self.nuggets)


def is_document_questions(path: str | Path) -> bool:
    """A JSON-lines file whose first item has `nuggets` (document questions)."""
    try:
        with open(path, encoding="utf-8") as f:
            first = next((line for line in f if line.strip()), "")
        item = json.loads(first)
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(item, dict) and "nuggets" in item


def load_document_questions(path: str | Path) -> list[DocumentQuestion]:
    """Read a document-questions JSON-lines file; a bad line is a SourcechatError naming it."""
    path = Path(path)
    out = []
    for number, line in enumerate(_read(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            nuggets = tuple(tuple(str(a) for a in group) for group in item["nuggets"])
            q = DocumentQuestion(
                str(item["id"]), str(item.get("kind", "")), str(item["question"]), nuggets,
                int(item.get("min_nuggets", len(nuggets))), int(item.get("min_documents", 0)),
                tuple(str(s) for s in item.get("scope") or ()),
                bool(item.get("answerable", True)))
        except (ValueError, KeyError, TypeError) as err:
            raise SourcechatError(f"{path}:{number}: not a document question ({err!r})") from None
        if not 0 <= q.min_nuggets <= len(nuggets) or any(not g for g in nuggets):
            raise SourcechatError(f"{path}:{number}: min_nuggets must be between 0 and the "
                                  "number of nugget groups, and no group may be empty")
        out.append(q)
    return out


def _fold(text: str) -> str:
    return " ".join(text.replace("’", "'").casefold().split())


def find_nuggets(text: str, nuggets: Sequence[Sequence[str]]) -> tuple[str | None, ...]:
    """Per nugget group, its first alternative found in the text (case-insensitive
    substring), or None."""
    folded = _fold(text)
    return tuple(next((a for a in group if _fold(a) in folded), None) for group in nuggets)


def judge_document(q: DocumentQuestion, text: str, found: bool,
                   cited_sources: Sequence[str]) -> DocumentVerdict:
    """The pass criteria: answered (or declined) as it should be, at least `min_nuggets`
    nugget groups in the answer text ([n] markers removed), and at least `min_documents`
    distinct documents cited."""
    nuggets = find_nuggets(strip_markers(text), q.nuggets) if found else (None,) * len(
        q.nuggets)
    documents = tuple(dict.fromkeys(cited_sources))
    if not q.answerable:
        return DocumentVerdict(not found, nuggets, documents)
    passed = (found and sum(n is not None for n in nuggets) >= q.min_nuggets
              and len(documents) >= q.min_documents)
    return DocumentVerdict(passed, nuggets, documents)


def tally(rows: Sequence[dict]) -> dict:
    """Passes overall, per backend, per kind and per backend and kind, from result rows
    with `backend`, `kind` and `passed`; each cell {passed, total, rate}."""

    def cell(group: list[dict]) -> dict:
        passed = sum(bool(r["passed"]) for r in group)
        return {"passed": passed, "total": len(group),
                "rate": round(passed / len(group), 4) if group else 0.0}

    def by(key: str, group: Sequence[dict]) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for r in group:
            out.setdefault(r[key], []).append(r)
        return out

    return {"overall": cell(list(rows)),
            "by_backend": {b: cell(g) for b, g in by("backend", rows).items()},
            "by_kind": {k: cell(g) for k, g in by("kind", rows).items()},
            "by_backend_kind": {b: {k: cell(kg) for k, kg in by("kind", g).items()}
                                for b, g in by("backend", rows).items()}}


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


def strip_markers(text: str) -> str:
    """The answer text without its [n] citation markers."""
    return MARKERS.sub("", text)


@dataclass(frozen=True)
class AnswerScore:
    """One answer against gold answers; a declined answer scores nothing."""

    found: bool
    em: float
    f1: float
    contains_gold: bool  # the answer text holds a gold answer
    cited_gold: bool     # a cited passage holds a gold answer


def score_answer(text: str, found: bool, cited_texts: Sequence[str],
                 golds: Sequence[str]) -> AnswerScore:
    """EM, F1 and containment of an answer (markers removed) against the gold answers."""
    if not found:
        return AnswerScore(False, 0.0, 0.0, False, False)
    text = strip_markers(text)
    return AnswerScore(True, exact_match(text, golds), f1_score(text, golds),
                       contains_answer(text, golds),
                       any(contains_answer(t, golds) for t in cited_texts))


def summarize_answers(scores: Sequence[AnswerScore]) -> dict:
    """answered, em, f1, contains_gold (over all questions asked) and citation_precision
    (over the answered ones)."""
    n = max(len(scores), 1)
    answered = [s for s in scores if s.found]
    return {"answers": len(scores), "answered": len(answered),
            "em": round(sum(s.em for s in scores) / n, 4),
            "f1": round(sum(s.f1 for s in scores) / n, 4),
            "contains_gold": round(sum(s.contains_gold for s in scores) / n, 4),
            "citation_precision": round(
                sum(s.cited_gold for s in answered) / max(len(answered), 1), 4)}


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
