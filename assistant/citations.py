"""Answers and their citations, as data: markers parsed, checked, attributed, renumbered.

The model sees passages numbered [1]..[k]. A marker naming no passage is dropped;
a sentence without a marker is attributed to the passage that supports it best;
the passages actually cited are renumbered 1..m in order of first use. A citation
whose cited text holds instructions addressed to an AI assistant or the reader
(`corpus/injection.py`) is listed in the answer's `suspect`, with a warning.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from corpus.injection import WHAT, holds_instructions, overlaps, planted
from corpus.text import sentences
from index.passages import Passage

MARKER = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
# An answer's outcome: the documents answer the question; they cover its subject but do
# not state what it asks (the answer says so, then quotes what they do say); or nothing
# in them answers it.
ANSWERED, PARTIAL, DECLINED = "answered", "partial", "declined"


@dataclass(frozen=True)
class Citation:
    """Citation [n] of an answer: the passage, and the spans of it that support the answer."""

    n: int
    passage: Passage
    spans: tuple[tuple[int, int], ...] = ()

    def to_dict(self) -> dict:
        """The `sourcechat ask --json` form."""
        return {"n": self.n, **_passage_dict(self.passage),
                "highlights": [list(s) for s in self.spans]}


@dataclass
class Answer:
    """An answer: its text with [n] markers, whether the documents answer it, its citations.

    `status` is ANSWERED, PARTIAL or DECLINED; `found` is true only for ANSWERED (a
    partial answer has citations: what the documents say instead).
    """

    text: str
    found: bool
    citations: list[Citation] = field(default_factory=list)
    question: str = ""
    query: str = ""
    kind: str = "lookup"          # the question's kind (assistant/kinds.py)
    scope: tuple[str, ...] = ()   # the sources the question was limited to (() = all)
    dropped: int = 0              # model sentences removed as not supported by the sources
    status: str = ""              # ANSWERED / PARTIAL / DECLINED; "" -> from `found`
    # a declined answer's explanation: the closest passages found (not an answer) and the
    # question's words that no document contains
    closest: tuple[Passage, ...] = ()
    missing: tuple[str, ...] = ()
    # the citations [n] whose cited text holds instructions addressed to an AI assistant or
    # the reader (a possible prompt injection): shown with a warning
    suspect: tuple[int, ...] = ()

    def __post_init__(self):
        if not self.status:
            self.status = ANSWERED if self.found else DECLINED
        if self.status not in (ANSWERED, PARTIAL, DECLINED):
            raise ValueError(f"unknown answer status {self.status!r}")
        if self.found != (self.status == ANSWERED):
            raise ValueError(f"found={self.found} contradicts status {self.status!r}")

    @property
    def removed_note(self) -> str:
        """'1 sentence not supported by the sources was removed.' (empty when none was)."""
        n = self.dropped
        if not n:
            return ""
        return (f"{n} sentence{'s' if n > 1 else ''} not supported by the sources "
                f"{'were' if n > 1 else 'was'} removed.")

    @property
    def warning(self) -> str:
        """'[1] contains instructions addressed to an AI assistant ...; it is quoted as
        document text, not as advice.' (empty when no citation is suspect)."""
        if not self.suspect:
            return ""
        refs = " and ".join(", ".join(f"[{n}]" for n in self.suspect).rsplit(", ", 1))
        verb, pronoun = ("contains", "it is") if len(self.suspect) == 1 else ("contain",
                                                                              "they are")
        return f"{refs} {verb} {WHAT}; {pronoun} quoted as document text, not as advice."

    def to_dict(self) -> dict:
        """The `sourcechat ask --json` object."""
        return {"question": self.question, "query": self.query or self.question,
                "answer": self.text, "status": self.status, "found": self.found,
                "kind": self.kind,
                "scope": list(self.scope), "dropped": self.dropped,
                "citations": [c.to_dict() for c in self.citations],
                "closest": [_passage_dict(p) for p in self.closest],
                "missing_terms": list(self.missing),
                "suspect": list(self.suspect), "warning": self.warning}


def with_warnings(answer: Answer) -> Answer:
    """The answer with `suspect` set: each citation whose supporting sentences (the whole
    passage when none is known) hold instructions addressed to an AI assistant or the reader,
    and each one cited by an answer sentence that holds such instructions itself."""
    flagged: set[int] = set()
    for c in answer.citations:
        if overlaps(c.spans or ((0, len(c.passage.text)),), planted(c.passage.text)):
            flagged.add(c.n)
    for sent in sentences(answer.text, cut=False):
        if holds_instructions(MARKER.sub("", sent.text)):
            cited = {int(n) for group in MARKER.findall(sent.text)
                     for n in re.split(r"\s*[,;]\s*", group)}
            flagged |= cited or {c.n for c in answer.citations}
    return replace(answer, suspect=tuple(sorted(flagged))) if flagged else answer


def _passage_dict(p: Passage) -> dict:
    return {"source": p.source, "title": p.title, "page": p.page, "start": p.start,
            "end": p.end, "text": p.text, "score": round(p.score, 4), "id": p.id}


@dataclass(frozen=True)
class Claim:
    """One answer sentence and the 0-based passage indexes it cites.

    Layout: `bullet` puts it on its own "- " line; `label` is shown before it
    ("**Normans**: ..."); `heading` starts a group of claims (a side of a comparison).
    """

    text: str
    refs: tuple[int, ...]
    bullet: bool = False
    label: str = ""
    heading: str = ""


BULLET = re.compile(r"^\s*(?:[-*•‣▪]|\d{1,2}[.)])\s+")
ROLE = re.compile(r"^\s*(?:\*\*)?(?:A|Q|Answer|Assistant|AI|Response|Bot|Final answer)"
                  r"(?:\*\*)?\s*:\s*", re.I)
PREAMBLE = re.compile(r"\b(here (is|are)|following|below|summary|answer)\b", re.I)
HEADING = re.compile(r"^\s*(?:#{1,6}\s+|\*\*)?(.{1,80}?)(?:\*\*)?\s*:?\s*(?:\*\*)?\s*$")


def parse_markers(text: str, n_passages: int) -> list[Claim]:
    """Split an answer into sentences with their valid markers (1-based in text, 0-based out).

    Each line is read on its own: a bullet ("- ", "1. ") marks its claims as bullets; a
    role prefix a small model echoes ("A:", "Answer:") is removed; a short line that ends
    with ':' or is all bold ("**Normans**") is a heading for the claims after it.
    """
    claims = []
    heading = ""
    for line in text.splitlines():
        line = ROLE.sub("", line)
        if not line.strip():
            continue
        bullet = bool(BULLET.match(line))
        line = BULLET.sub("", line)
        stripped = line.strip()
        if (stripped.endswith(":") or (stripped.startswith("**") and stripped.endswith("**"))
                or stripped.startswith("#")) and len(stripped) <= 80 and not MARKER.search(line):
            heading = HEADING.match(stripped).group(1).strip(" *#:")
            if PREAMBLE.search(heading):  # "Here are the key points:" heads nothing
                heading = ""
            continue
        for sent in sentences(line, cut=False):
            refs: list[int] = []
            for group in MARKER.findall(sent.text):
                for num in re.split(r"\s*[,;]\s*", group):
                    i = int(num) - 1
                    if 0 <= i < n_passages and i not in refs:
                        refs.append(i)
            bare = ROLE.sub("", MARKER.sub("", sent.text)).strip()
            if bare:
                claims.append(Claim(bare, tuple(refs), bullet, "", heading))
                heading = ""  # a heading goes with the first claim after it
    return claims


def attribute(claims: Sequence[Claim], best_support: Callable[[str], int | None]) -> list[Claim]:
    """Give every claim without a valid marker the passage that supports it best."""
    out = []
    for claim in claims:
        if claim.refs:
            out.append(claim)
            continue
        best = best_support(claim.text)
        out.append(replace(claim, refs=(best,) if best is not None else ()))
    return out


def render(
    claims: Sequence[Claim], passages: Sequence[Passage],
    spans: Callable[[str, int], tuple[tuple[int, int], ...]] | None = None,
) -> tuple[str, list[Citation]]:
    """Answer text with markers renumbered 1..m in order of first use, and those citations."""
    order: dict[int, int] = {}
    parts: list[str] = []
    claim_texts: dict[int, list[str]] = {}
    for claim in claims:
        nums = []
        for ref in claim.refs:
            order.setdefault(ref, len(order) + 1)
            nums.append(order[ref])
            claim_texts.setdefault(ref, []).append(claim.text)
        marks = "".join(f"[{n}]" for n in nums)
        text = claim.text
        if marks:
            # marker before the closing punctuation: "... 93,000 people [1]."
            m = re.search(r"[.!?]+$", text)
            text = f"{text[:m.start()]} {marks}{text[m.start():]}" if m else f"{text} {marks}"
        if claim.label:
            text = f"**{claim.label}**: {text}"
        if claim.heading:
            parts.append(f"\n\n**{claim.heading}**\n")
        if claim.bullet:
            text = f"\n- {text}"
        elif parts and parts[-1].startswith("\n- "):
            text = f"\n\n{text}"
        parts.append(text)
    citations = []
    for ref, n in sorted(order.items(), key=lambda kv: kv[1]):
        got = spans(" ".join(claim_texts[ref]), ref) if spans else ()
        citations.append(Citation(n, passages[ref], got))
    return _join(parts), citations


def _join(parts: Sequence[str]) -> str:
    """Sentences joined by spaces; bullets and headings on their own lines."""
    out = ""
    for part in parts:
        if part.startswith("\n") or not out or out.endswith("\n"):
            out += part
        else:
            out += " " + part
    return re.sub(r"\n{3,}", "\n\n", out).strip()
