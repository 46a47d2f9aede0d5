"""Headings, titles, captions, copyright lines and list labels: context, not answers.

A heading shares the question's words ("Northwind Cooperative - Annual Report
2023" for "Who is the CEO of Northwind Cooperative?") and so often scores best,
while the fact sits in a sentence below it. When a quoted answer is chosen, a
sentence that carries what the question asks for (a name for "who", an amount
for "how much", a command for "what command") is preferred among those scoring
close to the best, and labels are never quoted while a real sentence is close;
the passage, heading included, stays in the citation as context.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.evidence import Evidence
from assistant.premise import answer_type, type_present
from corpus.text import words

LABEL_WORDS = 8        # a line this short without a sentence end is a label
ANSWER_CLOSE = 0.5     # a real sentence scoring this share of the best outranks a label
TYPE_CLOSE = 0.8       # ... and one carrying the asked-for kind, this share of the first real one

_HEADING = re.compile(r"^\s*(?:#{1,6}\s|```|~~~|[-=*_]{3,}\s*$)")
_COPYRIGHT = re.compile(r"^\s*(?:©|\(c\)\s|copyright\b|all rights reserved)", re.I)
_CREDIT_ASKED = re.compile(r"\b(?:credit\w*|copyright\w*|rights|publish\w*|agency|owns?|"
                           r"owner)\b", re.I)
_NUMBER = re.compile(r"(?<![\w.])\d[\d,.]*(?![\w])")
_AMOUNT = re.compile(r"[$€£¥]\s?\d|\d\s?(?:%|percent\b|euros?\b|dollars?\b|pounds?\b)", re.I)
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s*$")
_KEY_VALUE = re.compile(r"^[^:]{1,40}:\s*\S")  # "Price: $1,299" states a value
_COMMAND = re.compile(
    r"^\s*(?:\$\s+|>\s+|`[^`]+`|(?:sudo|pip3?|pipx|python3?|npm|npx|yarn|pnpm|apt(?:-get)?|"
    r"brew|conda|docker|kubectl|git|curl|wget|make|cargo|go|gem|dnf|yum|choco|winget|uv|"
    r"poetry)\s+\S)")


def is_label(text: str, question: str = "") -> bool:
    """Whether a sentence is a heading, title, caption, fence, copyright or list label (a
    copyright line is the answer when the question asks who is credited)."""
    if _COPYRIGHT.match(text):
        return not _CREDIT_ASKED.search(question)
    if _HEADING.match(text):
        return True
    if text.rstrip().endswith(":"):
        return True
    if _SENTENCE_END.search(text) or _KEY_VALUE.match(text) or is_command(text):
        return False
    if len(_NUMBER.findall(text)) >= 2 or _AMOUNT.search(text):  # a table row, a figure
        return False
    return len(words(text)) <= LABEL_WORDS


def is_command(text: str) -> bool:
    """Whether a sentence is a shell command (or holds one in backticks)."""
    return bool(_COMMAND.match(text) or re.search(r"`[^`\s][^`]*`", text))


def expected(question: str) -> str | None:
    """What a question asks for: "command", "number", "date", "name" or None."""
    if re.search(r"\b(?:what|which)\s+(?:\w+\s+)?commands?\b|\bhow (?:do|can|should) (?:i|you|we)"
                 r" (?:install|run|start|set up|upgrade|update)\b", question, re.I):
        return "command"
    return answer_type(question)


def carries(kind: str | None, text: str, question: str) -> bool:
    """Whether a sentence holds an answer of the kind the question asks for."""
    if kind == "command":
        return is_command(text)
    return type_present(kind, text, question)


def prefer_answers(question: str, evidence: Sequence[Evidence]) -> list[Evidence]:
    """The evidence with the sentence to quote first: among those scoring close to the
    best, the first real sentence (not a label) that carries what the question asks
    for, else the first real sentence; other labels close to it are left out."""
    if not evidence:
        return []
    # A label's score is mostly the question's words it repeats; a real sentence is
    # measured against its meaning alone (the dense part).
    labels = {id(e) for e in evidence if is_label(e.sentence.text, question)}
    top = max(e.dense if id(e) in labels else e.score for e in evidence)
    real = [e for e in evidence if id(e) not in labels and e.score >= ANSWER_CLOSE * top]
    if not real:
        return list(evidence)
    kind = expected(question)
    first = real[0]
    if not carries(kind, first.sentence.text, question):
        first = next((e for e in real if e.score >= TYPE_CLOSE * first.score
                      and carries(kind, e.sentence.text, question)), first)
    rest = [e for e in evidence if e is not first and id(e) not in labels]
    return [first, *rest]
