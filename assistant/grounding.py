"""Is each sentence a model wrote supported by the passages it was shown?

Checked one sentence (or bullet) at a time: a supported sentence is kept and
cited to the passage(s) that hold it; an unsupported one is dropped and counted,
so a mostly right draft is not discarded for one invented sentence. A sentence
cut off by the token budget is never shown. For the small embedded model a
sentence must also keep what its evidence sentence says about the question
(`keeps_evidence`), or the evidence is quoted instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from assistant.citations import Claim
from assistant.evidence import support
from corpus.text import content_terms, is_identifier, words
from index.passages import Passage

MIN_GROUNDING = 0.75   # share of a sentence's content terms that its passages must hold
KEEP_ANSWER = 0.5      # share of its evidence's answer terms a small model's sentence keeps
ANSWER_WINDOW = 5      # answer terms: words this close to a question term in the evidence
_COMPLETE = re.compile(r"""[.!?…]["'”’)\]]*$""")
# Arithmetic a sentence shows ("75,000 * 1 = 75,000", "= 12"): invented unless a passage
# writes it too (a range such as 1959-1984 is not arithmetic).
_ARITHMETIC = re.compile(r"\d[\d,.]*\s*[*×÷+=/]\s*\d[\d,.]*|[=≈]\s*\$?\d")


class Grounding:
    """What the passages shown to the model contain: built once per answer, checked per token."""

    def __init__(self, passages: Sequence[Passage]):
        self.passages = list(passages)
        self.text = "\n".join(p.text for p in passages)
        self._terms = [set(content_terms(p.text)) for p in passages]
        self.numbers = {w for terms in self._terms for w in terms if exact(w)}
        self._compact = ["".join(p.text.split()) for p in passages]

    def numbers_found(self, text: str) -> bool:
        """Every number and code in `text` appears in the passages (where small models
        invent)."""
        return all(w in self.numbers for w in content_terms(text) if exact(w))

    def supports(self, sentence: str) -> bool:
        """Enough of the sentence's content terms, and all its numbers, are in the passages."""
        return self.held_by(sentence, range(len(self.passages)))

    def held_by(self, sentence: str, refs: Sequence[int]) -> bool:
        """The passages `refs` together hold the sentence (MIN_GROUNDING of its terms, every
        number and code, and any arithmetic it shows, as written)."""
        for expression in _ARITHMETIC.findall(sentence):
            written = "".join(expression.split())
            if not any(written in self._compact[i] for i in refs if 0 <= i < len(self._compact)):
                return False
        terms = set(content_terms(sentence))
        if not terms:
            return True
        held = set().union(*(self._terms[i] for i in refs if 0 <= i < len(self._terms)))
        if any(exact(t) and t not in held for t in terms):
            return False
        return len(terms & held) / len(terms) >= MIN_GROUNDING

    def supporting(self, claim: Claim) -> tuple[int, ...] | None:
        """The passages that support a claim: the ones it cites when they do, else the one
        passage that does best; None when no passage does."""
        if claim.refs and self.held_by(claim.text, claim.refs):
            return claim.refs
        scores = [support(claim.text, p.text) for p in self.passages]
        for i in sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:3]:
            if self.held_by(claim.text, (i,)):
                return (i,)
        return None


def exact(term: str) -> bool:
    """A term a sentence must repeat exactly: a number, or a code (E1377: E1378 is
    another thing, though three of its four characters match)."""
    return term.isdigit() or is_identifier(term)


def complete(text: str) -> bool:
    """The sentence ends as a finished sentence does (not cut mid-phrase)."""
    return bool(_COMPLETE.search(text.strip()))


def check_claims(claims: Sequence[Claim], grounding: Grounding, question: str,
                 finished: bool | None) -> tuple[list[Claim], int]:
    """(the supported claims, cited to their passages; how many were dropped as unsupported).

    `finished`: the model stopped on its own (True), was cut by the token budget or
    stopped early (False), or it is unknown (None: a last sentence that does not end
    like a sentence is taken as cut, unless it is a bullet). A cut-off last sentence is
    removed, not counted. A draft that only echoes the question's words is worth
    nothing: then no claim is kept.
    """
    claims = list(claims)
    if claims and finished is not True and not complete(claims[-1].text) and not (
            claims[-1].bullet and finished is None):  # a bullet needs no full stop
        claims.pop()
    kept: list[Claim] = []
    dropped = 0
    heading = ""  # a dropped claim's heading goes to the next kept one
    for claim in claims:
        heading = claim.heading or heading
        if not content_terms(claim.text):
            continue  # punctuation, a stray marker: nothing to show or check
        refs = grounding.supporting(claim)
        if refs is None:
            dropped += 1
            continue
        kept.append(replace(claim, refs=refs, heading=heading))
        heading = ""
    asked = set(content_terms(question))
    if not any(set(content_terms(c.text)) - asked for c in kept):
        return [], dropped
    return kept, dropped


def answer_terms(evidence: str, question: str) -> set[str]:
    """What a sentence says about a question: its content terms that are not the question's
    own, within ANSWER_WINDOW words of a question term (all of them when none is near)."""
    asked = set(content_terms(question))
    toks = [t for t in (content_terms(w) for w in words(evidence)) if t]
    flat = [t[0] for t in toks]
    near = set()
    for i, t in enumerate(flat):
        if t in asked:
            near.update(x for x in flat[max(0, i - ANSWER_WINDOW):i + ANSWER_WINDOW + 1]
                        if x not in asked)
    return near or {t for t in flat if t not in asked}


def keeps_evidence(sentence: str, evidence: str, question: str) -> bool:
    """A model sentence keeps what its evidence sentence says about the question: every
    number and code of the evidence's answer terms, and KEEP_ANSWER of the others."""
    wanted = answer_terms(evidence, question)
    if not wanted:
        return True
    got = set(content_terms(sentence))
    if any(exact(t) and t not in got for t in wanted):
        return False
    return len(wanted & got) / len(wanted) >= KEEP_ANSWER
