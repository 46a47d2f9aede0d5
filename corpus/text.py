"""Small text helpers shared by the pipeline: sentences with offsets, content terms."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Words that carry no topic: function words, question words, and words that talk
# about the documents themselves ("according to the document").
STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing done down during each either
else ever few for from further had has have having he her here hers herself him himself his
how i if in into is it its itself just least less let like many may me might more most much
must my myself neither no nor not now of off on once one only or other others our ours
ourselves out over own per quite rather same shall she should since so some such than that
the their theirs them themselves then there these they this those though through thus to
too under until up upon us very via was we were what whatever when where whether which while
who whom whose why will with within without would yes yet you your yours yourself
yourselves describe described explain tell give list name named according document documents
text passage passages article source sources mention mentioned mentions say says said
state stated states kind type sort way ways thing things make made get got
""".split())

_WORD = re.compile(r"[0-9]+(?:[.,][0-9]+)*|[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)
_SENTENCE_END = re.compile(r"""(?<=[.!?])["'”’)\]]*\s+(?=["'“‘(\[]?[A-Z0-9])|\n\s*\n|\n(?=\S)""")


def normalize(word: str) -> str:
    """Lower-case and strip common English suffixes so 'migrants' meets 'migrant'."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    w = w.replace(",", "")
    if w.isdigit() or len(w) <= 3:
        return w
    for suffix in ("ations", "ation", "ings", "ing", "ies", "ied", "ed", "es", "s", "ly"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            return w[: -len(suffix)]
    return w


def words(text: str) -> list[str]:
    """The word and number tokens of a text, as written."""
    return _WORD.findall(text)


def content_terms(text: str) -> list[str]:
    """Normalized content terms (stopwords removed), in order, with repeats."""
    return [normalize(w) for w in words(text) if w.lower() not in STOPWORDS]


@dataclass(frozen=True)
class Sentence:
    """A sentence of a text, with its offsets in that text."""

    text: str
    start: int
    end: int


def sentences(text: str) -> list[Sentence]:
    """Split into sentences, keeping exact offsets (`text[start:end] == sentence.text`)."""
    out: list[Sentence] = []
    pos = 0
    for match in _SENTENCE_END.finditer(text):
        _add(out, text, pos, match.start() + _closing_len(match.group(0)))
        pos = match.end()
    _add(out, text, pos, len(text))
    return out


def _closing_len(sep: str) -> int:
    """Length of closing quotes/brackets at the start of a separator match."""
    n = 0
    for ch in sep:
        if ch in "\"'”’)]":
            n += 1
        else:
            break
    return n


def _add(out: list[Sentence], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    lead = len(piece) - len(piece.lstrip())
    trail = len(piece) - len(piece.rstrip())
    start, end = start + lead, end - trail
    if end > start:
        out.append(Sentence(text[start:end], start, end))
