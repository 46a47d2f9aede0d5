"""What kind of answer a question asks for, and what it is about.

A question's kind is the *shape of the answer it expects*, read from its head:
the imperative or interrogative that opens it ("summarize", "compare", "why"),
the noun it asks for ("the key points", "which organizations" — a plural asks
for several items), and the words that point at documents rather than at a
subject ("this document", "my files"). What is left once those cue words are
taken away is the question's subject ("the article about *the Normans*").

Kinds (docs/question-kinds.md says how they are answered):
- lookup: one fact (the default)
- summary, overview, key_points: a document (or the selection) as a whole
- collection: the collection as a whole ("What topics do my documents cover?")
- list: several items gathered from every passage that holds one
- compare: two subjects side by side
- explain: an explanation or account that needs several sentences
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from corpus.text import content_terms

LOOKUP, SUMMARY, OVERVIEW, KEY_POINTS = "lookup", "summary", "overview", "key_points"
COLLECTION, LIST, COMPARE, EXPLAIN = "collection", "list", "compare", "explain"
KINDS = (LOOKUP, SUMMARY, OVERVIEW, KEY_POINTS, COLLECTION, LIST, COMPARE, EXPLAIN)
WHOLE_DOCUMENT = (SUMMARY, OVERVIEW, KEY_POINTS)

# Nouns that name a document rather than a subject.
_DOC_NOUNS = (r"documents?|docs?|files?|texts?|articles?|reports?|letters?|papers?|pages?|"
              r"sources?|materials?|collection|corpus|library|notes?|pdfs?|chapters?|"
              r"sections?|releases?|memos?|books?|stor(?:y|ies)|passages?|uploads?|contracts?|"
              r"manuals?|slides?|decks?|emails?|records?|transcripts?|minutes|policies|"
              r"specs?|specifications?|essays?|theses|thesis")
_DOC_REF = (r"(?:the|this|that|these|those|my|our|your|all|each|every)\s+(?:\w+\s+)?"
            rf"(?:{_DOC_NOUNS})\b")

_SUMMARY = re.compile(r"\b(summari[sz]e|summary|summaries|sum up|sum it up|tl;?dr|recap|"
                      r"synopsis|gist|digest|in a nutshell|brief me|boil down)\b", re.I)
_OVERVIEW = re.compile(
    r"\b(overview|outline of|introduction to|intro to|rundown|"
    r"(what|who)('s| is| are| was| were)\s+(the|this|that|these|those|my|our|your)\s+"
    r"(\w+\s+){0,3}?(" + _DOC_NOUNS + r")\s+(about|for)|"
    r"what (is|are|was|were) (it|they) about|"
    r"tell me (about|everything about|more about)|"
    r"what do(es)?\s+(the|this|that|these|those|my|our|your|all)\s+(\w+\s+){0,2}?"
    r"(say|tell|cover|discuss|contain|mention|state|write|report)\w*\s+(about|on|regarding)|"
    r"what (is|are) (said|written) about|what can you tell me about)", re.I)
_KEY_POINTS = re.compile(
    r"\b((key|main|major|central|core|important|principal|essential|chief|primary)\s+"
    r"(points|ideas|findings|takeaways|messages|themes|arguments|claims|conclusions|facts|"
    r"concepts|lessons|issues|insights|results|highlights)|"
    r"(key|main|central|core|principal)\s+(point|idea|finding|takeaway|message|theme|"
    r"argument|claim|conclusion|lesson|insight)\s+of\s+" + _DOC_REF + r"|"
    r"takeaways|highlights)\b", re.I)
_COLLECTION = re.compile(
    r"\b(what|which)\s+(topics?|subjects?|themes?|areas?|fields?)\b.*\b(" + _DOC_NOUNS + r")\b|"
    r"\b(what|which)\s+(" + _DOC_NOUNS + r")\s+(do|did)\s+(i|we)\s+have\b|"
    r"\bwhat\s+(is|are)\s+(in|inside)\s+(my|our|the|these)\s+(" + _DOC_NOUNS + r")\b|"
    r"\b(what|which)\s+(" + _DOC_NOUNS + r")\s+(are|is)\s+(there|indexed|loaded|available)\b|"
    r"\b(list|show|name)\s+(all\s+)?(my|our|the)\s+(" + _DOC_NOUNS + r")\s*\??$|"
    r"\bwhat\s+do\s+(my|our|these|the|all)\s+(\w+\s+)?(" + _DOC_NOUNS + r")\s+(cover|contain|"
    r"discuss|talk about|deal with|hold)\s*\??$|"
    r"\bwhich\s+(" + _DOC_NOUNS + r")\s+(discuss|mention|cover|talk about|deal with|"
    r"describe|contain|refer to|are about|is about)\b", re.I)
_COMPARE = re.compile(
    r"\b(compare|comparison|contrast|differences?\s+between|differ|distinguish between|"
    r"similarities between|how (similar|alike|different) (is|are|was|were)|versus|vs\.?)\b"
    r"|\bwhat is the difference\b", re.I)
_LIST = re.compile(
    r"^\s*(list|enumerate|name (all|the|every|each|some)|give (me )?(a list|all|every))\b|"
    r"^\s*(who|what)\s+(are|were)\s+(the|all|some)\b|"
    r"\b(all|every|each)\s+(of\s+)?the\s+\w+s\b|"
    r"\bwhat\s+(kinds|types|sorts)\s+of\b|"
    r"\bwhat (does|do|did) .+ (ask|urge|call|recommend|propose|demand|want|require)\w*\b", re.I)
_EXPLAIN = re.compile(
    r"^\s*(why|explain|describe|how (does|did|do|is|are|was|were|can|could|has|have)\b)|"
    r"\b(what happened|what led to|what caused|what (are|were) the (causes|reasons|effects|"
    r"consequences|results)|in what way|for what reason|walk me through|elaborate)\b", re.I)

# Cue words removed to find the subject (beyond the stopwords content_terms drops).
_CUE_WORDS = frozenset(content_terms(
    "summarize summarise summary summaries sum recap synopsis gist digest nutshell brief "
    "boil overview outline introduction intro rundown key main major central core important "
    "principal essential chief primary point points idea ideas finding findings takeaway "
    "takeaways message messages theme themes argument arguments claim claims conclusion "
    "conclusions fact facts concept concepts lesson lessons issue issues insight insights "
    "result results highlight highlights topic topics subject subjects area areas field "
    "fields cover covers covered discuss discusses discussed contain contains talk deal hold "
    "compare comparison contrast difference differences differ distinguish similarity "
    "similarities similar alike versus list enumerate show known written write tell "
    "please briefly short shortly quick quickly overall whole entire everything anything "
    "file files doc docs report reports letter letters paper papers page pages material "
    "materials collection corpus library note notes pdf pdfs chapter chapters section "
    "sections release releases memo memos book books story stories upload uploads "
    "happen happened lead led cause caused reason reasons effect effects consequence "
    "consequences elaborate walk"))
_COMPARE_SPLIT = re.compile(r"\s+(?:and|with|to|versus|vs\.?|or|against)\s+", re.I)
_COMPARE_HEAD = re.compile(
    r"^.*?\b(?:compare|comparison of|contrast|differences? between|difference of|"
    r"similarities between|distinguish between|how (?:do|does|did)|between)\s+", re.I)


@dataclass(frozen=True)
class Intent:
    """A question's kind, its subject terms, the sides of a comparison, whether it points
    at "the document(s)" (a scope word), and the subject as written."""

    kind: str
    subject: tuple[str, ...] = ()
    sides: tuple[str, ...] = ()
    refers_to_documents: bool = False
    subject_text: str = ""

    @property
    def whole_document(self) -> bool:
        """A summary, overview or key points: answered from the whole scoped document."""
        return self.kind in WHOLE_DOCUMENT


def classify(question: str) -> Intent:
    """The kind of answer a question asks for, and its subject (see the module docstring)."""
    q = " ".join(question.split())
    refers = bool(re.search(rf"\b{_DOC_REF}", q, re.I)) or bool(
        re.search(rf"\b({_DOC_NOUNS})\b", q, re.I) and re.search(r"\b(my|our)\b", q, re.I))
    subject_text = _subject_text(q)
    subject = tuple(dict.fromkeys(t for t in content_terms(subject_text)
                                  if t not in _CUE_WORDS))
    if _COLLECTION.search(q) and not _COMPARE.search(q):
        return Intent(COLLECTION, subject, (), True, subject_text)
    if _COMPARE.search(q):
        sides = _sides(q)
        if len(sides) >= 2:
            return Intent(COMPARE, subject, sides, refers, subject_text)
    if _SUMMARY.search(q):
        return Intent(SUMMARY, subject, (), refers, subject_text)
    if _KEY_POINTS.search(q):
        return Intent(KEY_POINTS, subject, (), refers, subject_text)
    if _OVERVIEW.search(q) or (refers and re.search(r"\babout\s*\??$", q, re.I)):
        return Intent(OVERVIEW, subject, (), refers, subject_text)
    if _LIST.search(q) or _asks_for_plural(q):
        return Intent(LIST, subject, (), refers, subject_text)
    if _EXPLAIN.search(q):
        return Intent(EXPLAIN, subject, (), refers, subject_text)
    return Intent(LOOKUP, subject, (), refers, subject_text)


_NOT_PLURAL = frozenset("news series species means this its is was has does process analysis "
                        "status basis thesis crisis physics economics politics".split())
_AUX = frozenset("is are was were do does did has have had can could will would should".split())


def _asks_for_plural(q: str) -> bool:
    """'Which organizations wrote...', 'What other countries...': the noun asked for is
    plural (its first or second word after which/what), so the answer is several items."""
    m = re.search(r"\b(which|what)\s+(\w+)(?:\s+(\w+))?(?:\s+(\w+))?", q, re.I)
    if not m:
        return False
    first, second = m.group(2).lower(), (m.group(3) or "").lower()
    third = (m.group(4) or "").lower()
    if first in _AUX:
        return False

    def plural(w: str) -> bool:
        return (len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is"))
                and w not in _NOT_PLURAL)

    # "which European countries joined": the second word, when a verb follows it
    verb_next = third in _AUX or third.endswith("ed") or third in ("that", "who", "which", "")
    return plural(first) or (plural(second) and verb_next)


def _subject_text(q: str) -> str:
    """The words after the last 'about/of/on/regarding' (or the whole question), minus the
    document nouns: 'the article about the Normans' -> 'the Normans'."""
    # "the Normans article" -> "Normans": the determiner and the noun go, the name stays
    text = re.sub(r"\b(?:the|this|that|these|those|my|our|your|all|each|every)\s+"
                  rf"((?:\w+\s+){{0,3}}?)(?:{_DOC_NOUNS})\b", r" \1 ", q, flags=re.I)
    m = re.search(r"\b(?:about|regarding|concerning|on|of|for)\s+(.+?)\s*[?.!]*$", text, re.I)
    if m and content_terms(m.group(1)):
        text = m.group(1)
    text = re.sub(rf"\b({_DOC_NOUNS})\b", " ", text, flags=re.I)
    return " ".join(text.strip(" ?.!").split())


def _sides(q: str) -> tuple[str, ...]:
    """The two (or more) subjects of a comparison: 'Compare the Huguenots and the Normans'."""
    body = _COMPARE_HEAD.sub("", q.strip(" ?.!"), count=1)
    body = re.sub(r"\s+(?:differ|compare|contrast)\b.*$", "", body, flags=re.I)
    body = re.sub(r"^(?:the\s+)?(?:" + _DOC_NOUNS + r")\s+(?:about|on)\s+", "", body, flags=re.I)
    parts = [p for p in _COMPARE_SPLIT.split(body) if content_terms(p)]
    out = []
    for p in parts:
        p = re.sub(r"^(?:the\s+)?(?:" + _DOC_NOUNS + r")\s+(?:about|on)\s+", "", p.strip(),
                   flags=re.I)
        p = re.sub(r"\b(in|at|on)\s+(their|its)\b.*$", "", p, flags=re.I).strip(" ,;:")
        if content_terms(p):
            out.append(p)
    return tuple(out[:4])
