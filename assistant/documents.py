"""Answers about documents as a whole: summaries, overviews, key points, the collection,
comparisons (docs/question-kinds.md).

A summary reads the whole scoped document, not the top-k chunks. Without a model
that can summarize (`extractive`, the small embedded model) it is made of the
document's most representative sentences, part by part (`selection`). A capable
model writes it: from the whole document when it fits the model's context budget,
else from notes taken part by part (map), then combined (reduce). Either way
every sentence cites the passage it came from and is checked against it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from assistant.citations import Answer, Claim, render
from assistant.evidence import EvidenceScorer, supporting_spans
from assistant.grounding import Grounding
from assistant.kinds import COLLECTION, COMPARE, KEY_POINTS, OVERVIEW, Intent
from assistant.profiles import AnswerLimits
from assistant.prompts import prompt
from assistant.scope import covers, display_name, name_terms, named_documents
from assistant.selection import representative
from assistant.settings import Settings
from assistant.writer import Draft, Writer, document_paragraphs, paragraphs
from index import ChunkStore, Passage, PassageRetriever

SUBJECT_K = 12          # passages searched for a subject (coverage, and what is said of it)
SIDE_POINTS = 3         # points per side of a comparison
COLLECTION_CHUNKS = 3   # a document's opening chunks, for its line in a collection overview
COLLECTION_OPENING = 0.3  # a document's line leans on its opening sentence (its topic)
CLOSE = 0.8             # sentences about a subject within this share of the best one's score


@dataclass
class Composed:
    """A document-level answer before rendering: claims over passages, and notes to add."""

    kind: str
    claims: list[Claim] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    scope: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)
    dropped: int = 0


class DocumentAnswers:
    """Document-level answers over one store (see the module docstring)."""

    def __init__(self, settings: Settings, store: ChunkStore, retriever: PassageRetriever,
                 scorer: EvidenceScorer):
        self.settings = settings
        self.store = store
        self.retriever = retriever
        self.scorer = scorer

    def answer(self, intent: Intent, question: str, query: str, sources: Sequence[str],
               writer: Writer | None, limits: AnswerLimits,
               indexed: Sequence[tuple[str, str, int]] | None = None,
               ) -> Iterator[str | Answer]:
        """Yield streamed text (capable models), then the Answer (declined when the
        documents do not cover the question's subject). `indexed`: the indexed documents
        (source, title, chunks), when the caller has listed them."""
        writer = writer if limits.writes_summaries else None
        indexed = self.store.sources() if indexed is None else indexed
        documents = [d for d in indexed if not sources or d[0] in sources]
        within = [d[0] for d in documents] if sources else None  # searches filter a selection
        composed: Composed | None = None
        stream: Iterator
        if not documents:  # nothing indexed there: nothing to answer from
            stream = iter(())
        elif intent.kind == COMPARE:
            stream = self._compare(intent, question, documents, within, writer, limits)
        elif intent.kind == COLLECTION and not intent.subject:
            stream = self._collection(question, documents, writer, limits)
        else:
            # a collection question with a subject ("Which documents mention X?") is
            # about X across the documents, even when X names one of them
            named = named_documents(intent.subject, documents) if intent.whole_document else []
            if named:
                stream = self._summary(intent, question, named, writer, limits)
            elif intent.subject:
                stream = self._about(intent, question, within, writer, limits)
            elif len(documents) == 1 or (sources and len(documents) <= 5):
                stream = self._summary(intent, question, [d[0] for d in documents], writer,
                                       limits)
            else:  # "summarize my documents", several and none selected: one line each
                stream = self._collection(question, documents, writer, limits)
        for event in stream:
            if isinstance(event, Composed):
                composed = event
            else:
                yield event
        if composed is None or not composed.claims:
            text = prompt("declined" if documents or sources else "empty")
            yield Answer(text, False, [], question, query, intent.kind, tuple(sources))
            return
        text, citations = render(composed.claims, composed.passages,
                                 lambda t, i: supporting_spans(t, composed.passages[i]))
        for note in composed.notes:
            text += f"\n\n{note}"
        yield Answer(text, True, citations, question, query, composed.kind,
                     composed.scope or tuple(sources), composed.dropped)

    # -- kinds ------------------------------------------------------------------------------
    def _summary(self, intent: Intent, question: str, targets: Sequence[str],
                 writer: Writer | None, limits: AnswerLimits) -> Iterator:
        """The whole of one or a few documents: every part considered."""
        most = self._points(intent)
        # what the question asks of the document beyond naming it ("... about Sicily")
        named = set().union(*(name_terms(s, "") for s in targets)) if targets else set()
        rest = [t for t in intent.subject if t not in named]
        subject = self._vector(" ".join(rest)) if rest else None
        passages: list[Passage] = []
        claims: list[Claim] = []
        several = len(targets) > 1
        per_doc = max(2, most // len(targets)) if several else most
        dropped = 0
        for source in targets:
            doc = self.store.document(source)
            if not doc:
                continue
            heading = display_name(source, doc[0].title) if several else ""
            picks: list[tuple[Passage, str]] = []
            if writer is not None:
                paras = document_paragraphs(doc)
                drafted: list[Claim] = []
                for event in self._write_summary(writer, question, paras, per_doc, limits):
                    if isinstance(event, Draft):
                        drafted, dropped = event.claims, dropped + event.dropped
                    else:
                        yield event
                picks = [(paras[c.refs[0]], c.text) for c in _spread(drafted, per_doc)
                         if c.refs]
            if not picks:  # no model that summarizes, or nothing it wrote held up
                picks = [(doc[p.passage], p.sentence.text) for p in
                         representative(doc, self.store.vectors_of, per_doc, subject,
                                        self.scorer.idf)]
            bullets = intent.kind == KEY_POINTS or len(picks) > 3 or several
            for n, (passage, text) in enumerate(picks):
                if passage not in passages:
                    passages.append(passage)
                claims.append(Claim(text, (passages.index(passage),), bullets,
                                    heading="" if n else heading))
        yield Composed(intent.kind, claims, passages, tuple(targets), dropped=dropped)

    def _write_summary(self, writer: Writer, question: str, doc: list[Passage], points: int,
                       limits: AnswerLimits) -> Iterator:
        """A capable model summarizes: the whole document at once when it fits its context
        budget, else notes part by part (map), then a summary of the notes (reduce)."""
        parts = _parts(doc, limits.llm_context_chars)
        system = prompt("summarize").format(points=points)
        if len(parts) == 1:
            yield from writer.write(system, question, doc)
            return
        notes: list[Claim] = []
        per_part = max(2, math.ceil(2 * points / len(parts)))
        for part in parts:
            offset = doc.index(part[0])
            for event in writer.write(prompt("notes").format(points=per_part), question, part):
                if isinstance(event, Draft):
                    notes += [Claim(c.text, tuple(offset + r for r in c.refs)) for c in
                              _spread(event.claims, per_part)]
        if not notes:
            yield Draft()
            return
        while len(notes) > points and sum(len(n.text) for n in notes) > limits.llm_context_chars:
            notes = _spread(notes, max(points, len(notes) * 3 // 4))  # the reduce must fit
        note_passages = [Passage(c.text, doc[c.refs[0]].source, doc[c.refs[0]].page,
                                 doc[c.refs[0]].start, doc[c.refs[0]].end, 0.0,
                                 f"note-{i}") for i, c in enumerate(notes)]
        final: Draft | None = None
        for event in writer.write(system, question, note_passages):
            if isinstance(event, Draft):
                final = event
            else:
                yield event
        # back from notes to the passages they came from, checked against those
        grounding = Grounding(doc)
        claims, dropped = [], final.dropped if final else 0
        for c in (final.claims if final else []):
            refs = tuple(dict.fromkeys(r for n in c.refs for r in notes[n].refs))
            held = grounding.supporting(Claim(c.text, refs))
            if held is None:
                dropped += 1
            else:
                claims.append(Claim(c.text, held, c.bullet))
        yield Draft(final.text if final else "", _spread(claims, points), dropped, True)

    def _collection(self, question: str, documents: Sequence[tuple[str, str, int]],
                    writer: Writer | None, limits: AnswerLimits) -> Iterator:
        """One cited line per document: what it is about (from its opening)."""
        shown = list(documents)[: self.settings.overview_documents]
        passages: list[Passage] = []
        claims: list[Claim] = []
        openings: list[Passage] = []
        for source, title, _ in shown:
            doc = self.store.document(source)[:COLLECTION_CHUNKS]
            if not doc:
                continue
            picked = representative(doc, self.store.vectors_of, 1, idf=self.scorer.idf,
                                    opening=COLLECTION_OPENING)
            if not picked:
                continue
            first = doc[picked[0].passage]
            openings.append(first)
            claims.append(Claim(picked[0].sentence.text, (len(passages),), True,
                                label=display_name(source, title)))
            passages.append(first)
        dropped = 0
        if writer is not None and openings:
            written: dict[int, Claim] = {}
            offset = 0
            for batch in _parts(openings, limits.llm_context_chars):  # within its context
                for event in writer.write(prompt("collection"), question, batch):
                    if isinstance(event, Draft):
                        written.update((offset + c.refs[0], c) for c in event.claims if c.refs)
                        dropped += event.dropped
                    else:
                        yield event
                offset += len(batch)
            # the model's line where it wrote one for a document, else the chosen one
            claims = [Claim(written[i].text, (i,), True, label=c.label)
                      if i in written else c for i, c in enumerate(claims)]
        notes = []
        if len(documents) > len(shown):
            notes.append(f"… and {len(documents) - len(shown)} more documents "
                         "(`sourcechat sources` lists them all).")
        yield Composed(COLLECTION, claims, passages, (), notes, dropped)

    def _about(self, intent: Intent, question: str, within: list[str] | None,
               writer: Writer | None, limits: AnswerLimits) -> Iterator:
        """What the documents say about a subject that is not a document's name; nothing
        (declined) when no passage holds every word of the subject."""
        query = intent.subject_text or " ".join(intent.subject)
        passages = self.retriever.search(query, SUBJECT_K, within)
        held = [passages[i] for i in covers(intent.subject, passages)]
        if not held:
            yield Composed(intent.kind)
            return
        if writer is not None:
            shown = paragraphs(held[: limits.llm_passages])
            draft = None
            for event in writer.write(prompt("system_full"), question, shown):
                if isinstance(event, Draft):
                    draft = event
                else:
                    yield event
            if draft is not None and draft.claims:
                yield Composed(intent.kind, draft.claims, shown, dropped=draft.dropped)
                return
        evidence = self.scorer.evidence(query, held)
        if not evidence:
            yield Composed(intent.kind)
            return
        best = evidence[0].score
        chosen, seen = [], set()
        for e in evidence:
            if len(chosen) >= max(3, self._points(intent) // 2) or e.score < CLOSE * best:
                break
            if e.sentence.text not in seen and set(intent.subject) <= _terms(
                    e.sentence.text + " " + held[e.passage].title):
                chosen.append(e)
                seen.add(e.sentence.text)
        if not chosen:
            chosen = [evidence[0]]
        chosen.sort(key=lambda e: (held[e.passage].source, held[e.passage].page or 0,
                                   held[e.passage].start + e.sentence.start))
        several = len({held[e.passage].source for e in chosen}) > 1
        claims = [Claim(e.sentence.text, (e.passage,), len(chosen) > 2,
                        label=display_name(held[e.passage].source, held[e.passage].title)
                        if several else "") for e in chosen]
        yield Composed(intent.kind, claims, held)

    def _compare(self, intent: Intent, question: str,
                 documents: Sequence[tuple[str, str, int]], within: list[str] | None,
                 writer: Writer | None, limits: AnswerLimits) -> Iterator:
        """Each side retrieved on its own (its document when it names one), side by side;
        declined when the question as a whole does not pass the relevance gate."""
        found = self.retriever.search(question, self.settings.k, within)
        if self.scorer.relevance(question, found, self.scorer.evidence(question, found)
                                 ).score < self.settings.min_relevance:
            yield Composed(COMPARE)
            return
        sides: list[tuple[str, list[Passage], list[Claim]]] = []
        missing: list[str] = []
        for side in intent.sides:
            terms = tuple(dict.fromkeys(_terms(side)))
            named = named_documents(terms, documents)
            vector = self._vector(side)
            if named:
                doc = self.store.document(named[0])
                picked = representative(doc, self.store.vectors_of, SIDE_POINTS, vector,
                                        self.scorer.idf)
                passages = [doc[p.passage] for p in picked]
                claims = [Claim(p.sentence.text, (i,), True) for i, p in enumerate(picked)]
            else:
                found = self.retriever.search(side, SUBJECT_K, within)
                passages = [found[i] for i in covers(terms, found)][:SIDE_POINTS]
                evidence = self.scorer.evidence(side, passages)
                claims, seen = [], set()
                for e in evidence:
                    if e.sentence.text not in seen and len(claims) < SIDE_POINTS:
                        claims.append(Claim(e.sentence.text, (e.passage,), True))
                        seen.add(e.sentence.text)
            if claims:
                sides.append((side, passages, claims))
            else:
                missing.append(side)
        if not sides:
            yield Composed(COMPARE)
            return
        passages: list[Passage] = []
        claims: list[Claim] = []
        for side, side_passages, side_claims in sides:
            offset = len(passages)
            passages += side_passages
            for n, c in enumerate(side_claims):
                claims.append(Claim(c.text, tuple(offset + r for r in c.refs), True,
                                    heading="" if n else _title(side)))
        dropped = 0
        if writer is not None:
            system = prompt("compare").format(sides=", ".join(_title(s) for s in intent.sides))
            for event in writer.write(system, question, passages):
                if isinstance(event, Draft):
                    if event.claims:
                        claims, dropped = event.claims, event.dropped
                else:
                    yield event
        notes = [f"The documents say nothing about {side}." for side in missing]
        yield Composed(COMPARE, claims, passages,
                       tuple(dict.fromkeys(p.source for p in passages)), notes, dropped)

    def _points(self, intent: Intent) -> int:
        """Most points of a summary or key points answer; an overview gets half."""
        most = self.settings.summary_points
        return max(3, most // 2) if intent.kind == OVERVIEW else most

    def _vector(self, text: str) -> np.ndarray:
        return np.asarray(self.store.embeddings.embed_query(text), dtype=np.float32)


def _parts(doc: Sequence[Passage], budget: int) -> list[list[Passage]]:
    """Consecutive chunks grouped into parts of at most `budget` characters."""
    parts: list[list[Passage]] = [[]]
    size = 0
    for p in doc:
        if parts[-1] and size + len(p.text) > budget:
            parts.append([])
            size = 0
        parts[-1].append(p)
        size += len(p.text)
    return parts


def _spread(claims: list[Claim], most: int) -> list[Claim]:
    """At most `most` claims, spread evenly over the list (a model that wrote more points
    than asked keeps its beginning, middle and end)."""
    if len(claims) <= most:
        return claims
    keep = sorted({round(i * (len(claims) - 1) / (most - 1)) for i in range(most)}) \
        if most > 1 else [0]
    return [claims[i] for i in keep]


def _terms(text: str) -> set[str]:
    from corpus.text import content_terms

    return set(content_terms(text))


def _title(side: str) -> str:
    words = side.split()
    if words and words[0].lower() in ("the", "a", "an"):
        words = words[1:]
    text = " ".join(words)
    return text[:1].upper() + text[1:]
