"""Questions a newly added document can answer, from its own text (shown after an upload).

The subjects are the names the document repeats most (multi-word capitalized phrases,
then its rarest frequent words), weighted by how rare they are in the whole index. Each
candidate is asked of the document itself with the quoting backend, and only the
answered ones are suggested: a suggestion is answerable by construction. Sentences
holding planted instructions (`corpus/injection.py`) give no subject, and a question
whose answer would quote one is not suggested: the web chat never offers an attacker's
words as a question to click.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from corpus.injection import planted
from corpus.text import STOPWORDS, content_terms

NAME = re.compile(r"(?<![\w.'’])((?:[A-Z][\w'’-]+)(?:\s+(?:of|for|the|de|and)?\s*[A-Z][\w'’-]+)+)")
LEADING = re.compile(r"^(?:The|A|An|This|That|These|Those)\s+")
MIN_WORD = 4     # single-word subjects: at least this many letters
NOT_NOUNS = ("ly", "ed", "ing")  # ... and not (likely) an adverb or a verb form


def subjects(text: str, idf: Callable[[str], float] | None, limit: int) -> list[str]:
    """The document's most telling subjects: repeated or rare names first, then words."""
    names = Counter(LEADING.sub("", m.group(1)) for m in NAME.finditer(text))
    weight = idf or (lambda _t: 1.0)

    def score(phrase: str, count: int) -> float:
        terms = content_terms(phrase)
        return count * max((weight(t) for t in terms), default=0.0)

    ranked = sorted(names, key=lambda n: -score(n, names[n]))
    words = Counter(w for w in re.findall(r"[a-z][a-z-]+", text.lower())
                    if len(w) >= MIN_WORD and w not in STOPWORDS and not w.endswith(NOT_NOUNS))
    ranked += sorted(words, key=lambda w: -score(w, words[w]))
    out: list[str] = []
    for phrase in ranked:
        low = phrase.lower()
        if any(low in o.lower() or o.lower() in low for o in out):
            continue  # "Rottnest Island" covers "Rottnest"
        out.append(phrase)
        if len(out) >= limit:
            break
    return out


def suggest(assistant, source: str, n: int = 3, tries: int = 8) -> list[str]:
    """Up to `n` questions the document `source` answers when asked of it alone (as the
    web chat does when one is clicked: its documents picker is set to that document)."""
    passages = assistant.store.document(source)
    if not passages:
        return []
    text = "\n".join(_without_planted(p.text) for p in passages)
    candidates = ["Summarize the document."] + [
        f"What does the document say about {s}?"
        for s in subjects(text, assistant.scorer.idf, tries)]
    out = []
    for question in candidates:
        answer = assistant.ask(question, sources=[source], backend="extractive")
        if answer.found and not answer.suspect:
            out.append(question)
            if len(out) >= n:
                break
    return out


def _without_planted(text: str) -> str:
    """`text` with its sentences holding planted instructions cut out."""
    for sentence in reversed(planted(text)):
        text = text[:sentence.start] + " " + text[sentence.end:]
    return text
