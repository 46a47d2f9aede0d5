"""Ordinal and "the other" references in a follow-up, resolved from the previous answer.

"How long does the second one last?" after "The heater has two modes: eco and turbo."
asks about the turbo mode; "And why was the other depot closed?" after a question about
the Leeds depot asks about the depot the answer names beside it. The items are read
from the previous answer (bullets or numbered lines, "two modes: eco and turbo",
"A, B and C", "A and B" between names, else the names it mentions); the reference is
replaced by the item, and the previous question's topic words the follow-up lacks are
kept. No model is needed, so every backend resolves them alike.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from corpus.text import STOPWORDS, content_terms, sentences, words

ITEM_WORDS = 6  # a longer list item (a quoted sentence) is searched whole, not named

_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3,
             "fourth": 4, "4th": 4, "fifth": 5, "5th": 5, "last": -1, "final": -1,
             "former": 1, "latter": -1}
# nouns that stand for "an item of the list" whatever the list holds
_ITEM_NOUNS = frozenset("one ones item option choice entry point bullet".split())
_REFERENCE = re.compile(
    r"\bthe\s+(?:(?P<ord>first|second|third|fourth|fifth|1st|2nd|3rd|4th|5th|last|final)"
    r"|(?P<other>other))(?:\s+(?P<noun>[^\W\d_][\w-]*))?"
    r"|\bthe\s+(?P<pos>former|latter)\b(?:\s+one\b)?"
    r"|(?:\b(?:number|no\.|item|option)\s*|#)(?P<num>[1-9])\b", re.IGNORECASE)
_MARKERS = re.compile(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]")
_TAGS = re.compile(r"<[^<>]*>")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+(.+?)\s*$", re.MULTILINE)
_COLON_LIST = re.compile(r"\b(?P<head>[^\W\d_][\w-]{0,40})\s*:\s*(?P<body>[^.;:\n]+)")
_SPLIT = re.compile(r"\s*,\s*(?:(?:and|or)\s+)?|\s+(?:and|or)\s+", re.IGNORECASE)
_NAME = r"[A-Z][\w'’.-]*(?:\s+(?:de\s+|van\s+|von\s+)?[A-Z][\w'’.-]*)*"
_NAME_BEFORE = re.compile(rf"({_NAME})\s*,?$")
_NAME_WINDOW = 60  # characters before "and" searched for a name
_AND = re.compile(r"\s*\b(?:and|or)\b\s*", re.IGNORECASE)
_LABEL_END = re.compile(r"\s+[–—-]\s+|:\s")  # "Eco – runs for 12 hours", "Eco: ..."


@dataclass(frozen=True)
class Reference:
    """A reference in a question: its span, the position it names (1-based, -1 the last;
    0 for "the other"), and the noun it is about ("" for "one" or none)."""

    start: int
    end: int
    position: int
    noun: str = ""

    @property
    def other(self) -> bool:
        """"the other one" / "the other depot", not an ordinal."""
        return self.position == 0


@dataclass(frozen=True)
class Listing:
    """The items an answer lists, in order, and the noun they are kinds of ("modes")."""

    items: tuple[str, ...]
    head: str = ""


def find_reference(question: str, context: str) -> Reference | None:
    """The ordinal or "the other" reference of a question. With a noun ("the second
    mode", "the other depot") it counts only when the noun is in `context` (the previous
    exchange), so "the first president" in a question of its own is not one."""
    known = _stems(context)
    for m in _REFERENCE.finditer(question):
        if m.group("num"):
            return Reference(m.start(), m.end(), int(m.group("num")))
        if m.group("pos"):
            return Reference(m.start(), m.end(), _ORDINALS[m.group("pos").lower()])
        position = 0 if m.group("other") else _ORDINALS[m.group("ord").lower()]
        noun = m.group("noun") or ""
        if noun.lower() in _ITEM_NOUNS:
            return Reference(m.start(), m.end(), position)
        if not noun or noun.lower() in STOPWORDS:  # "the second?", "the other of them"
            end = m.start("noun") if noun else m.end()
            return Reference(m.start(), len(question[:end].rstrip()), position)
        if _stems(noun) & known:
            return Reference(m.start(), m.end(), position, noun)
    return None


def listing(answer: str) -> Listing:
    """The items an answer lists: its bullet or numbered lines, else the first
    enumeration of its sentences ("two modes: eco and turbo", "A, B and C", "Maria
    Alvarez and Daniel Osei"), else the names it mentions (two or more)."""
    text = plain(answer)
    bullets = [_strip_item(_LABEL_END.split(b, maxsplit=1)[0]) for b in _BULLET.findall(text)]
    if len(bullets) >= 2:
        return Listing(tuple(bullets))
    for enumeration in (_colon_list, _comma_list, _named_pair):  # the clearest first
        for s in sentences(text):
            found = enumeration(s.text)
            if found is not None:
                return found
    return Listing(tuple(names(text)))


def names(text: str) -> list[str]:
    """The names a text mentions, in order, once each: runs of capitalized words, except
    a lone word opening a sentence ("Turbo mode ...") and acronyms ("CEO")."""
    out: list[str] = []
    for s in sentences(plain(text)):
        for m in re.finditer(_NAME, s.text):
            name = _strip_item(m.group(0))
            parts = name.split()
            if not parts or name.isupper() or len(parts) > ITEM_WORDS:
                continue
            if len(parts) == 1 and (len(m.group(0).split()) == 1 and m.start() == 0
                                    or name.lower() in STOPWORDS):
                continue
            if name not in out:
                out.append(name)
    return out


def resolve(question: str, previous_question: str, previous_answer: str,
            search: Callable[[str], Sequence[str]] | None = None) -> str | None:
    """The follow-up with its reference replaced by the item it names, plus the previous
    question's topic words it lacks ("How long does the turbo mode last? (heater)"); None
    when it has no reference or the previous answer does not say what it names. "The
    other depot" the answer does not name is looked for in what `search` finds for the
    conversation (texts of passages)."""
    ref = find_reference(question, f"{previous_question} {previous_answer}")
    if ref is None:
        return None
    item = _other(ref, previous_question, previous_answer) if ref.other else None
    if item is None:
        item = _item(ref, previous_question, listing(previous_answer))
    if item is None and ref.other and ref.noun and search is not None:
        item = next((x for text in search(f"{previous_question} {question}")
                     if (x := _other(ref, previous_question, text))), None)
    return _rewrite(question, ref, item, previous_question) if item else None


def plain(answer: str) -> str:
    """An answer's words: without citation markers, and, as the web chat shows it
    (Markdown with links, HTML entities), without tags, entities and bold marks."""
    text = html.unescape(_TAGS.sub("", answer)).replace("**", "")
    return _MARKERS.sub("", text)


def _item(ref: Reference, previous_question: str, found: Listing) -> str | None:
    """The item a reference names in a listing, as a phrase for the question."""
    items = list(found.items)
    if ref.other:  # the one the previous question did not ask about
        asked = set(content_terms(previous_question))
        items = [i for i in items if not set(content_terms(i)) & asked]
        return _phrase(items[0], found.head, ref.noun) if len(items) == 1 else None
    if len(items) < 2 or ref.position > len(items):
        return None
    item = items[ref.position - 1] if ref.position > 0 else items[-1]
    return _phrase(item, found.head, ref.noun)


def _other(ref: Reference, previous_question: str, text: str) -> str | None:
    """"the other depot": the "<Name> depot" (or "depot in <Name>") of a text whose name
    the previous question does not hold."""
    if not ref.noun:
        return None
    asked = set(content_terms(previous_question))
    text = plain(text)
    noun = re.compile(rf"\b{re.escape(_singular(ref.noun))}s?\b", re.IGNORECASE)
    for m in noun.finditer(text):
        before = _NAME_BEFORE.search(text[max(0, m.start() - _NAME_WINDOW):m.start()].rstrip())
        after = re.match(rf"\s+(?:in|at|of)\s+({_NAME})", text[m.end():])
        for found in (before, after):
            name = _strip_item(found.group(1)) if found else ""
            if name and len(name.split()) <= ITEM_WORDS and not _stems(name) & asked:
                return f"the {name} {ref.noun}"
    return None


def _phrase(item: str, head: str, noun: str) -> str:
    """An item as the question's words: a name as it is ("Daniel Osei"), a word of a
    listing with the noun it is a kind of ("the turbo mode")."""
    if len(words(item)) > ITEM_WORDS:
        return item
    kind = noun or _singular(head)
    if kind and kind.lower() not in item.lower() and not item[:1].isupper():
        return f"the {item} {kind}"
    return item if item[:1].isupper() else f"the {item}"


def _rewrite(question: str, ref: Reference, item: str, previous_question: str) -> str:
    """The question with the item in place of its reference, then the previous question's
    topic words it lacks in brackets; a long item (a sentence) follows the question. A
    name is its own topic: the words that asked for the list ("the CEO of Northwind")
    would only find the sentence that listed it again."""
    if len(words(item)) > ITEM_WORDS:
        resolved = f"{question.rstrip()} {item}"
    else:
        resolved = question[:ref.start] + item + question[ref.end:]
    if _is_name(item):
        return resolved
    have = _stems(resolved) | _stems(question[ref.start:ref.end])
    topic = [w for w in dict.fromkeys(words(previous_question))
             if w.lower() not in STOPWORDS and not _stems(w) & have
             and not (ref.other and _is_name(w))]
    return f"{resolved} ({' '.join(topic)})" if topic else resolved


def _colon_list(sentence: str) -> Listing | None:
    """"two modes: eco and turbo": the items after a colon, and the noun before it."""
    m = _COLON_LIST.search(sentence)
    if not m:
        return None
    items = [_strip_item(x) for x in _SPLIT.split(m.group("body")) if x.strip()]
    if len(items) >= 2 and all(len(words(x)) <= ITEM_WORDS for x in items):
        return Listing(tuple(items), m.group("head"))
    return None


def _comma_list(sentence: str) -> Listing | None:
    """"basic, standard and premium plans": the first and last items as long as the
    middle ones, and the noun that follows the last."""
    for clause in re.split(r"[;:]", sentence):
        parts = clause.split(",")
        j = next((i for i, p in enumerate(parts) if i and _AND.search(p)), None)
        if j is None:
            continue
        parts = [x for x in (*parts[:j], *_AND.split(parts[j], maxsplit=1)) if x.strip()]
        inner = max((len(words(x)) for x in parts[1:-1]), default=ITEM_WORDS + 1)
        if len(parts) < 3 or inner > ITEM_WORDS:
            continue
        first = " ".join(parts[0].split()[-inner:])
        last, after = parts[-1].split()[:inner], words(" ".join(parts[-1].split()[inner:]))
        head = after[0] if after and after[0].lower().endswith("s") \
            and after[0].lower() not in STOPWORDS else ""  # "plans", not "heat"
        items = [_strip_item(x) for x in (first, *parts[1:-1], " ".join(last))]
        return Listing(tuple(x for x in items if x), head)
    return None


def _named_pair(sentence: str) -> Listing | None:
    """"Maria Alvarez and Daniel Osei": two names joined by "and" or "or"."""
    for m in _AND.finditer(sentence):
        before = _NAME_BEFORE.search(sentence[max(0, m.start() - _NAME_WINDOW):m.start()])
        after = re.match(_NAME, sentence[m.end():])
        if before and after:
            items = (_strip_item(before.group(1)), _strip_item(after.group(0)))
            if all(items):
                return Listing(items)
    return None


def _strip_item(text: str) -> str:
    """An item without its leading article and trailing punctuation."""
    text = text.strip().rstrip(".,;:!?").strip()
    return re.sub(r"^(?:the|a|an)\s+", "", text, flags=re.IGNORECASE)


def _singular(noun: str) -> str:
    n = noun.lower()
    if n.endswith("ies") and len(n) > 4:
        return n[:-3] + "y"
    if n.endswith("s") and not n.endswith("ss"):
        return n[:-1]
    return n


def _stems(text: str) -> set[str]:
    """A text's content terms, each as written and in the singular ("modes": mode)."""
    return {t for w in words(text) if w.lower() not in STOPWORDS
            for t in content_terms(f"{w} {_singular(w)}")}


def _is_name(word: str) -> bool:
    return word[:1].isupper() and not word.isupper()
