"""Small text helpers shared by the pipeline: sentences with offsets, content terms."""

from __future__ import annotations

import re
from collections.abc import Iterator
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

_NUMBER = re.compile(r"[0-9]+(?:[.,][0-9]+)*")
_WORD = re.compile(rf"{_NUMBER.pattern}|[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)
# Letters and digits joined by - . / _ ' (or a thousands comma): a word or number as
# _WORD reads it, or a code (one holding a digit: E1377, INV-2023-0042, v3.10.2).
_COMPOUND = re.compile(r"[^\W_]+(?:(?:[-./_'’]|(?<=\d),(?=\d))[^\W_]+)*", re.UNICODE)
_JOINED = re.compile(r"\d[-/_]|[-/_]\d|\d\.\d+\.\d")  # digits joined as codes: 88-1921, 3.10.2
_ORDINAL = re.compile(r"[0-9]+(?:st|nd|rd|th)")
_HASH_NUMBER = re.compile(r"#\s?([0-9]+)\b")  # ticket #1042
LONG_NUMBER = 5  # digits from which a bare number is an identifier (an order number)
# A sentence ends at . ! ? before a capital or digit, at a blank line, and at a line
# break, except inside a hard-wrapped paragraph (a line ending in a lower-case letter
# or a comma, continued by a lower-case word).
_SENTENCE_END = re.compile(r"""(?<=[.!?])["'”’)\]]*\s+(?=["'“‘(\[]?[A-Z0-9])|\n\s*\n"""
                           r"""|\n(?=[^\sa-z])|(?<![a-z,;])\n(?=[a-z])""")
MAX_SENTENCE_CHARS = 600  # a longer run without a sentence end is cut (SQuAD dev: none is)
MIN_PIECE = 40            # ... none shorter than this, unless cut at a comma or space
_HEADING = re.compile(r"#{1,6}\s")
# A long run is cut before a capitalized sentence opener that follows a lower-case word
# or a number ("... queue depth 2 The pump failed ...": a full stop is missing), then,
# if still too long, after a clause mark, after a comma, at any space.
_OPENER = re.compile(r"[a-z0-9]\s(?=(?:The|This|These|Those|It|Its|We|Our|They|He|She|There|"
                     r"After|Before|When|If)\s)")
_BREAKS = (re.compile(r"[;:]\s"), re.compile(r",\s"), re.compile(r"\s"))


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
    """The word and number tokens of a text, as written; an identifier is one token."""
    return [token for token, piece in _tokens(text) if not piece]


def content_terms(text: str) -> list[str]:
    """Normalized content terms (stopwords removed), in order, with repeats.

    An identifier (E1377, INV-2023-0042, 88-1921, v3.10.2) is one term, so it never
    meets its near-misses (E1370) through a shared piece; one written with separators
    is followed by its pieces ("COVID-19": covid-19, covid, 19), so a question naming
    a piece still finds it."""
    return [_term(token, piece) for token, piece in _tokens(text)
            if token.lower() not in STOPWORDS]


def identifiers(text: str) -> list[str]:
    """The terms of a text's identifiers, once each, in order: codes (`is_identifier`;
    not ordinals: 19th names no one thing), numbers of LONG_NUMBER digits or more (an
    order number; not 1,000,000) and numbers written after '#' (ticket #1042)."""
    out = [term for token, piece in _tokens(text) if not piece
           and ((is_identifier(term := _term(token, False)) and not _ORDINAL.fullmatch(term))
                or token.isdigit() and len(token) >= LONG_NUMBER)]
    out += [m.group(1) for m in _HASH_NUMBER.finditer(text)]
    return list(dict.fromkeys(out))


def is_identifier(term: str) -> bool:
    """A content term holding a code: digits with letters (e1377, mp3, 19th), or digit
    groups joined by - / _ or by two dots (88-1921, 3.10.2); never a plain number."""
    return any(ch.isdigit() for ch in term) and (
        any(ch.isalpha() for ch in term) or bool(_JOINED.search(term)))


def _tokens(text: str) -> Iterator[tuple[str, bool]]:
    """(token, is a piece of the code before it) for the words, numbers and codes of a
    text, in order."""
    for m in _COMPOUND.finditer(text):
        yield from _compound_tokens(m.group(0))


def _compound_tokens(token: str) -> Iterator[tuple[str, bool]]:
    if not any(ch.isdigit() for ch in token) or _NUMBER.fullmatch(token):
        yield from ((w, False) for w in _WORD.findall(token))  # words, or a number
    elif "'" in token or "’" in token:  # a code's apostrophe ends it: E1377's, 1990's
        for part in re.split(r"['’]", token):
            yield from _compound_tokens(part)
    else:
        yield token, False
        if not token.isalnum():  # written with separators: its pieces too
            yield from ((w, True) for w in _WORD.findall(token))


def _term(token: str, piece: bool) -> str:
    """A token's term: a word or number normalized; a code lower-cased whole (a plural
    after its digits aside: 1990s, A320s)."""
    if piece or not any(ch.isdigit() for ch in token) or _NUMBER.fullmatch(token):
        return normalize(token)
    term = token.lower()
    return term[:-1] if len(term) > 2 and term.endswith("s") and term[-2].isdigit() else term


@dataclass(frozen=True)
class Sentence:
    """A sentence of a text, with its offsets in that text."""

    text: str
    start: int
    end: int


def sentences(text: str, cut: bool = True) -> list[Sentence]:
    """Split into sentences, keeping exact offsets (`text[start:end] == sentence.text`).
    A document's run without sentence ends is `cut` into pieces of MAX_SENTENCE_CHARS at
    most; a model's draft is not (a piece of a run-on sentence is not a finished one)."""
    out: list[Sentence] = []
    pos = 0
    for match in _SENTENCE_END.finditer(text):
        _add(out, text, pos, match.start() + _closing_len(match.group(0)), cut)
        pos = match.end()
    _add(out, text, pos, len(text), cut)
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


def _add(out: list[Sentence], text: str, start: int, end: int, cut: bool = True) -> None:
    piece = text[start:end]
    lead = len(piece) - len(piece.lstrip())
    trail = len(piece) - len(piece.rstrip())
    start, end = start + lead, end - trail
    if _HEADING.match(text, start) and "\n" in text[start:end]:  # a heading is its own line
        line_end = text.index("\n", start)
        _add(out, text, start, line_end, cut)
        _add(out, text, line_end, end, cut)
        return
    if cut and end - start > MAX_SENTENCE_CHARS:  # a runaway run ("and The Society" is a name)
        opener = _OPENER.search(text, start + MIN_PIECE, end - MIN_PIECE)
        if opener:
            _add(out, text, start, opener.end())
            _add(out, text, opener.end(), end)
            return
        while end - start > MAX_SENTENCE_CHARS:  # still sentence-sized units
            piece_end = _cut(text, start, start + MAX_SENTENCE_CHARS)
            _add(out, text, start, piece_end)
            start = piece_end
            start += len(text[start:end]) - len(text[start:end].lstrip())
    if end > start:
        out.append(Sentence(text[start:end], start, end))


def _cut(text: str, start: int, limit: int) -> int:
    """Where to cut text[start:limit]: at the last break of the best kind (`_BREAKS`; a
    comma or space only in its second half), else at the limit."""
    half = start + (limit - start) // 2
    for n, mark in enumerate(_BREAKS):
        found = [m.end() for m in mark.finditer(text, start + MIN_PIECE if n == 0 else half,
                                                limit)]
        if found:
            return found[-1]
    return limit
