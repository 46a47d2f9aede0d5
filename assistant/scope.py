"""Which documents a question is about: the selection, a document it names, or the only one.

"The document" means the selected documents (`sources=`), or the only one indexed.
A question that names a document ("the article about the Normans", "the 1973 oil
crisis") resolves to the documents whose names are made of the subject's words.
Whether the documents cover a subject at all is `covers`: every word of the
subject must occur together in one passage (or in a document's name) — one
shared word is not enough ("the Aztec calendar" is not covered by a passage about
the Yuan calendar).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from corpus.text import content_terms
from index.passages import Passage


def display_name(source: str, title: str = "") -> str:
    """A document's name for people: its title when it has a real one, else the file name
    without extension, underscores as spaces ("1973_oil_crisis.txt" -> "1973 oil crisis")."""
    name = Path(source).name
    if title and title != name:
        return title
    stem = Path(name).stem or name
    return re.sub(r"[_]+", " ", stem).strip() or name


def name_terms(source: str, title: str = "") -> set[str]:
    """The content words of a document's name (file stem and title)."""
    return set(content_terms(display_name(source, title))) | set(
        content_terms(re.sub(r"[_\-.]+", " ", Path(source).stem)))


def named_documents(subject: Sequence[str], documents: Sequence[tuple[str, str, int]]
                    ) -> list[str]:
    """The documents a subject names: those whose name's words are all in the subject, or
    (two words or more) all the subject's words in the name. Best match first."""
    wanted = set(subject)
    if not wanted:
        return []
    scored = []
    for source, title, _ in documents:
        terms = name_terms(source, title)
        if not terms:
            continue
        inside = terms <= wanted or (wanted <= terms and len(wanted) >= min(2, len(terms)))
        if inside:
            scored.append((len(terms & wanted) / len(terms | wanted), source))
    scored.sort(key=lambda x: -x[0])
    if not scored:
        return []
    best = scored[0][0]
    return [s for score, s in scored if score >= best - 1e-9]


def covers(subject: Sequence[str], passages: Sequence[Passage]) -> list[int]:
    """Indexes of the passages that hold every subject word (its document's name counts):
    empty when the documents do not cover the subject."""
    wanted = set(subject)
    if not wanted:
        return list(range(len(passages)))
    return [i for i, p in enumerate(passages)
            if wanted <= set(content_terms(p.text)) | name_terms(p.source, p.title)]
