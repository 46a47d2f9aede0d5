"""The assistant: question (+ history) -> retrieved passages -> gated, grounded, cited answer.

Trust comes first. A question is first read for its kind (`kinds`): lookups, lists
and explanations are answered from retrieved passages, and only when they match
the question well enough (the relevance gate); questions about documents as a
whole go to `documents`. A model's answer is checked sentence by sentence
(`grounding`): unsupported sentences are removed; the small embedded model's
sentences must also keep what their evidence says, else it is quoted; without a
model the best supporting sentences are quoted. Every sentence of an answer
cites a passage. A sentence holding instructions addressed to an AI assistant or the
reader (a possible prompt injection) is quoted only when nothing else answers nearly as
well, and an answer citing one carries a warning. A question naming an identifier
(E1377) some passages hold is answered from those alone, never from a near-miss.
"""

from __future__ import annotations

import difflib
import logging
import numbers
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from assistant.citations import (
    MARKER,
    PARTIAL,
    Answer,
    Claim,
    attribute,
    render,
    with_warnings,
)
from assistant.conversation import (
    accept_rewrite,
    check_history,
    format_conversation,
    is_follow_up,
    recent_history,
    resolve_reference,
    standalone_query,
)
from assistant.documents import DocumentAnswers
from assistant.evidence import (
    Evidence,
    EvidenceScorer,
    Relevance,
    best_passage,
    holding_identifiers,
    supporting_spans,
)
from assistant.grounding import Grounding, keeps_evidence
from assistant.kinds import COLLECTION, COMPARE, EXPLAIN, LIST, LOOKUP, WHOLE_DOCUMENT, classify
from assistant.labels import prefer_answers
from assistant.premise import PremiseCheck
from assistant.profiles import AnswerLimits, limits_for
from assistant.prompts import prompt
from assistant.settings import MAX_K, Settings
from assistant.writer import Draft, Writer, paragraphs
from corpus import SAMPLE_DIR, PageReader, given_paths
from corpus.errors import BackendError, InvalidQuestionError, SourcechatError
from corpus.injection import overlaps, planted
from corpus.text import STOPWORDS, Sentence, content_terms, identifiers, sentences, words
from index import (
    ChunkStore,
    IngestReport,
    Passage,
    PassageRetriever,
    indexed_copies,
    ingest,
    remove_sources,
)
from index.private_copy import PrivateCopy
from index.readonly import check_writable
from index.reindex import SWITCH_GRACE_S, ReindexReport, reindex
from index.vectors import chunk_sentences

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000
EXTRACTIVE_SENTENCES = 3   # at most this many quoted sentences in an extractive answer
CLOSE_SCORE = 0.9          # ... each scoring at least this share of the best one
GATHER_SENTENCES = 6       # a list quotes up to this many (an explanation two fewer)
LIST_CLOSE = 0.8           # ... each scoring at least this share of the best one
ENUMERATIONS = 2           # a list also quotes up to this many enumerations of its rare word
ENUMERATION_CLOSE = 0.5    # ... scoring at least this share of the best sentence
EXPLAIN_CLOSE = 0.85
EXPLAIN_READ_ON = 2        # an explanation quotes this many sentences after its best one
SHOW_CLOSE = 0.6           # a capable model reads passages scoring within this of the best
MIN_WORDS = 6              # shorter lines (captions, bylines) are not gathered into lists
DECLINE_CLOSEST = 3        # a declined answer shows this many closest passages (not an answer)
DOCUMENT_LEVEL = (*WHOLE_DOCUMENT, COLLECTION, COMPARE)
CLOSE_NAMES = 3            # an unknown source's message names this many close documents
# HTML in a question (pasted, or an attempt at markup) is not what it asks: its tags go,
# and the elements whose content is code or drawing go whole
_HTML_TAGS = (
    "a abbr address area article aside audio b base bdi bdo big blink blockquote body br "
    "button canvas caption center cite code col colgroup data datalist dd del details dfn "
    "dialog div dl dt em embed fieldset figcaption figure font footer form frame frameset h1 "
    "h2 h3 h4 h5 h6 head header hr html i iframe img input ins kbd label legend li link main "
    "map mark marquee math menu meta meter nav noscript object ol optgroup option output p "
    "param picture pre progress q rp rt ruby s samp script section select slot small source "
    "span strike strong style sub summary sup svg table tbody td template textarea tfoot th "
    "thead time title tr track tt u ul var video wbr").split()
_MARKUP = re.compile(
    r"<!--.*?(?:-->|$)"  # a comment (unclosed: to the end, as a browser reads it)
    r"|<(script|style|svg|math|template|iframe)\b[^>]*(?<!/)>.*?(?:</\1\s*>|$)"  # with content
    r"|<[!?][^<>]*>"  # <!DOCTYPE ...>, <?xml ...?>
    rf"|</?(?:{'|'.join(_HTML_TAGS)})(?=[\s/>])[^<>]*>",  # any other HTML tag
    re.IGNORECASE | re.DOTALL)


class Assistant:
    """Retrieval and cited answers over one index; see `build_assistant` for the wiring."""

    def __init__(self, settings: Settings, store: ChunkStore, retriever: PassageRetriever,
                 chat_model: BaseChatModel | None, scorer: EvidenceScorer,
                 model_factory: Callable[[str], BaseChatModel | None] | None = None,
                 explain: Callable[[str, BaseException], str] | None = None,
                 private_copy: PrivateCopy | None = None):
        self.settings = settings
        self.store = store
        self.retriever = retriever
        self.chat_model = chat_model
        self.scorer = scorer
        self._models: dict[str, BaseChatModel | None] = {settings.llm: chat_model}
        self._models_lock = threading.Lock()
        self._model_factory = model_factory
        self._explain = explain or (lambda backend, err: f"The {backend} backend failed: {err}")
        self.documents = DocumentAnswers(settings, store, retriever, scorer)
        self.premise = (PremiseCheck(settings.premise_weights, settings.premise_threshold,
                                     scorer.idf) if settings.premise_check else None)
        self._first_use_done = False
        self._first_use_lock = threading.Lock()
        self.private_copy = private_copy  # an index this process cannot write is read there

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Around a question, a retrieval, a listing: an index read from a private copy
        is copied again first if its owner has changed it (checked every few seconds),
        and the copy read is kept until the end."""
        if self.private_copy is None:
            yield
            return
        if self.private_copy.follow(self.store.reopen):
            try:  # so this question searches the new state already
                self._refresh_keywords()
            except Exception as err:  # noqa: BLE001 - the keyword follower catches up later
                log.warning("The keyword index did not follow the owner's changes yet: %s",
                            err)
        with self.private_copy.reading():
            yield

    def chat_model_for(self, backend: str | None) -> BaseChatModel | None:
        """The chat model of a backend name (None: the configured one); built once."""
        if not backend or backend == self.settings.llm:
            return self.chat_model
        with self._models_lock:  # web chat users ask from several threads at once
            if backend not in self._models:
                if self._model_factory is None:
                    raise BackendError(f"Backend '{backend}' is not available here.")
                self._models[backend] = self._model_factory(backend)
            return self._models[backend]

    # -- documents ---------------------------------------------------------------------------
    @property
    def read_only(self) -> bool:
        """Whether the index was opened read-only (this process cannot write its data dir):
        questions are answered, writes refused."""
        return self.store.records.read_only

    def check_writable(self) -> None:
        """Refuse to write an index this process cannot write, in one line saying what to
        do (every write below checks first; the web chat before it stores an upload)."""
        check_writable(self.settings.data_dir, opened_read_only=self.read_only)

    def ingest(self, paths: str | Path | Sequence[str | Path] | None = None,
               progress: bool = True, on_progress=None, sync: bool = False,
               on_chunks=None) -> IngestReport:
        """Index files/folders (default: the sample corpus; an empty path is refused);
        `sync` drops vanished files; `on_progress(files_done, total, name)` and
        `on_chunks(chunks_done, total, names)` report progress (the web chat's bar)."""
        self.check_writable()
        paths = given_paths(paths) if paths is not None else []
        report = ingest(paths or [str(SAMPLE_DIR)], self.store,
                        chunk_size=self.settings.chunk_size,
                        chunk_overlap=self.settings.chunk_overlap,
                        batch_size=self.settings.batch_size,
                        max_file_mb=self.settings.max_file_mb,
                        sync=sync, progress=progress, on_progress=on_progress,
                        on_chunks=on_chunks, ocr=PageReader() if self.settings.ocr else None)
        self._refresh_keywords()
        return report

    def watch(self, folders: Sequence[str | Path], on_report=None,
              stop: threading.Event | None = None) -> None:
        """Keep the index in step with `folders` (blocks until `stop` is set): each batch
        of changes is one incremental ingest with `sync`; `on_report(report)` after each."""
        from corpus import SUPPORTED_SUFFIXES
        from index.watch import keep_in_step

        self.check_writable()
        roots = [Path(f).expanduser().resolve() for f in given_paths(folders)]

        def sync(_changed: set[str]) -> None:
            report = self.ingest(roots, progress=False, sync=True)
            if on_report is not None:
                on_report(report)

        keep_in_step(roots, sync, self.settings.watch_debounce_ms, SUPPORTED_SUFFIXES,
                     ignore=[Path(self.settings.data_dir)], stop=stop)

    def reindex(self, embeddings: Embeddings | None = None, progress: bool = True,
                on_progress=None) -> ReindexReport:
        """Re-embed every chunk with the configured embedding model into a new generation
        and switch to it; questions are answered from the old one until the switch.
        `embeddings` replaces the configured model's (it must be that model)."""
        from assistant.factory import embeddings_for

        self.check_writable()
        report = reindex(self.store, embeddings or embeddings_for(self.settings),
                         self.settings.embedding_model, batch_size=self.settings.batch_size,
                         progress=progress, on_progress=on_progress,
                         grace=SWITCH_GRACE_S if self.store.shared else 0.0)
        self._refresh_keywords()
        return report

    def _refresh_keywords(self) -> None:
        """After a write: the writer waits for the keyword index to catch up, so its next
        question finds what it added (other users search the previous version meanwhile)."""
        if self.retriever.keyword is not None:
            self.retriever.keyword.refresh()

    def ensure_indexed(self, progress: bool = False) -> None:
        """Index the sample corpus into a brand-new index, one nothing was ever written to.
        An index the user emptied stays empty (its questions say so), and so does one this
        process cannot write."""
        if not self.read_only and self.store.never_written():
            self.ingest(progress=progress)
        self._first_use_done = True

    def _first_use(self) -> None:
        """Before this process's first question: a brand-new index gets the sample (on a
        Chroma server too: "never written" is recorded in the collection itself, so a
        collection someone emptied is never refilled). Later questions pay no round trip
        for the check."""
        if self._first_use_done:
            return
        with self._first_use_lock:
            if not self._first_use_done:
                self.ensure_indexed()

    def is_empty(self) -> bool:
        """Whether no document is indexed."""
        return self.store.count() == 0

    def sources(self) -> list[tuple[str, str, int]]:
        """(source, title, chunks) for each indexed document."""
        with self._reading():
            return self.store.sources()

    def resolve_source(self, source: str, known: Sequence[str] | None = None,
                       copies: bool = False) -> str:
        """The indexed source that `source` names: its full path, a path relative to the
        current folder, or a unique file name (or path ending); with `copies`, also the
        path of a copy that was indexed once under another name (the same content). A
        SourcechatError says what to give instead, naming the documents that come close."""
        known = known if known is not None else [s for s, _, _ in self.store.sources()]
        if source in known:
            return source
        path = _absolute(source)
        matches = [str(path)] if path is not None and str(path) in known else [
            s for s in known if Path(s).name == source or s.endswith("/" + source)]
        if not matches and path is not None and path.is_file():
            twins = [s for s in indexed_copies(self.store, path) if s in known]
            if twins and not copies:  # removing it must not remove the one indexed
                raise SourcechatError(f"'{source}' is not indexed itself: it has the same "
                                      f"content as {twins[0]}, indexed once.")
            matches = twins[:1]
        if not matches:
            close = difflib.get_close_matches(Path(source).name,
                                              sorted({Path(s).name for s in known}), CLOSE_NAMES)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise SourcechatError(f"No indexed document matches '{source}'{hint}: "
                                  "see `sourcechat sources` for the list.")
        if len(matches) > 1:
            raise SourcechatError(f"'{source}' matches {len(matches)} documents; "
                                  "give the full path shown by `sourcechat sources`.")
        return matches[0]

    def _sources(self, sources: str | Sequence[str] | None,
                 documents: Sequence[tuple[str, str, int]] | None = None) -> tuple[str, ...]:
        """A question's sources as stored (one may be given as a plain string): each
        resolved by `resolve_source` (against `documents`, the indexed ones, when the
        caller has listed them)."""
        given = _source_names(sources)
        if not given:
            return ()
        known = [s for s, _, _ in (self.store.sources() if documents is None else documents)]
        return tuple(dict.fromkeys(self.resolve_source(s, known, copies=True) for s in given))

    def remove(self, source: str) -> tuple[str, int]:
        """Remove a document (named as `resolve_source` reads it; never through a copy's
        path); returns (source, chunks)."""
        self.check_writable()
        source = self.resolve_source(source)
        removed = remove_sources(self.store, [source])
        self._refresh_keywords()
        return source, removed

    # -- questions ---------------------------------------------------------------------------
    def retrieve(self, question: str, k: int | None = None,
                 sources: str | Sequence[str] | None = None) -> list[Passage]:
        """The best passages for a question, best first."""
        question = _check_question(question)
        k = check_k(k) or self.settings.k
        self._first_use()
        with self._reading():
            return self.retriever.search(question, k, self._sources(sources))

    def relevance(self, question: str, k: int | None = None,
                  sources: str | Sequence[str] | None = None) -> Relevance:
        """The relevance-gate score of a question (the answer is declined below the setting)."""
        with self._reading():
            passages = self.retrieve(question, k, sources)
            return self.scorer.relevance(question, passages,
                                         self.scorer.evidence(question, passages))

    def ask(self, question: str, history: Sequence[dict] | None = None, k: int | None = None,
            sources: str | Sequence[str] | None = None, backend: str | None = None) -> Answer:
        """Answer a question from the documents, with citations, or decline."""
        answer = None
        for event in self.stream(question, history, k, sources, backend):
            if isinstance(event, Answer):
                answer = event
        if answer is None:  # stream() always ends with its Answer
            raise RuntimeError("the answer stream ended without an answer")
        return answer

    def stream(self, question: str, history: Sequence[dict] | None = None,
               k: int | None = None, sources: str | Sequence[str] | None = None,
               backend: str | None = None) -> Iterator[str | Answer]:
        """Yield the answer's text as it is generated (str pieces), then the final Answer.

        The final Answer is authoritative: sentences the sources do not support are
        removed (or the evidence quoted instead), so a UI must show the final text. Its
        `suspect` lists the citations whose cited text holds instructions addressed to an
        AI assistant or the reader (a UI shows `answer.warning`).
        """
        with self._reading():
            for event in self._stream(question, history, k, sources, backend):
                yield with_warnings(event) if isinstance(event, Answer) else event

    def _stream(self, question: str, history: Sequence[dict] | None, k: int | None,
                sources: Sequence[str] | None, backend: str | None
                ) -> Iterator[str | Answer]:
        question = _check_question(question)
        k = check_k(k) or self.settings.k
        history = check_history(history)
        name = backend or self.settings.llm
        chat_model = self.chat_model_for(backend)
        limits = limits_for(name, self.settings)
        writer = Writer(chat_model, lambda err: self._explain(name, err)) if chat_model else None
        intent = classify(question)
        self._first_use()
        if intent.kind in DOCUMENT_LEVEL and (intent.refers_to_documents or intent.subject):
            query = asked = question  # "Summarize the document." says what it is about
        else:  # a follow-up ("Summarize it.") takes its subject from the conversation
            query, asked = self._standalone(question, history, chat_model, k, sources)
            intent = classify(query)
        if intent.kind in DOCUMENT_LEVEL:  # the documents are listed once, for both
            documents = self.store.sources()
            sources = self._sources(sources, documents)
            yield from self.documents.answer(intent, question, query, sources, writer, limits,
                                             documents)
            return
        sources = self._sources(sources)
        gathers = intent.kind in (LIST, EXPLAIN)
        # lists and explanations gather from more passages; the gate reads the top k
        # sources are resolved above: search directly (retrieve() would list them again)
        passages = self.retriever.search(query, max(k, 2 * self.settings.k) if gathers else k,
                                         sources)
        if not passages and self.is_empty():
            yield self._empty(question, query, intent.kind)
            return
        evidence = self.scorer.evidence(query, passages[:k])
        relevance = self.scorer.relevance(query, passages[:k], evidence)
        if relevance.score < self.settings.min_relevance:
            yield self._declined(question, query, intent.kind, sources, passages[:k])
            return
        exact = holding_identifiers(query, passages) if self.settings.exact_identifiers else 0
        if exact:  # the passages holding the identifiers the question names (ranked first)
            passages = passages[:exact]
            evidence = [e for e in evidence if e.passage < exact]
        # the subject is covered: is what it asks stated? (a question that is only codes,
        # "E1377", asks nothing the passages holding them do not state)
        if self.premise is not None and not (exact and _only_identifiers(query)):
            stated = evidence if gathers else prefer_answers(query, evidence)  # what we'd quote
            premise = self.premise.check(query, stated, passages[:k], relevance)
            if premise.status == PARTIAL:  # no model is asked: it would answer it anyway
                yield self._partial(question, query, intent.kind, sources, premise.reason,
                                    evidence, passages[:k])
                return
        if gathers:
            evidence = self.scorer.evidence(query, passages)
        evidence = _unplanted_first(evidence, passages)

        claims: list[Claim] = []
        dropped = 0
        if writer is not None and (limits.writes_summaries or not gathers):
            draft = None
            shown = self._shown(limits, passages, evidence)
            for event in self._write(writer, limits, asked, shown, passages, evidence):
                if isinstance(event, Draft):
                    draft = event
                else:
                    yield event
            if draft is None:  # _write() always ends with its Draft
                raise RuntimeError("the writer ended without a draft")
            if draft.not_found and relevance.lexical < 0.5:
                yield self._declined(question, query, intent.kind, sources, passages[:k])
                return
            if draft.not_found and limits.writes_summaries:  # a capable model read the
                # passages and found no answer in them: say so, and what they do say
                yield self._partial(question, query, intent.kind, sources,
                                    "the model that read the passages found no answer in "
                                    "them", evidence, passages)
                return
            claims, dropped = draft.claims[: limits.max_answer_sentences], draft.dropped
            if not limits.writes_summaries:  # the small model: restate, or quote instead
                claims = self._restated(claims, passages, evidence, asked, intent.kind)
            elif claims:
                if intent.kind == LOOKUP:
                    claims += _best_evidence_if_missing(claims, evidence, passages, shown,
                                                        asked)
                passages = shown  # a capable model's claims cite the paragraphs it was shown
        if not claims:
            claims = self._extractive_claims(evidence, passages, intent.kind, query)
        if not claims:
            yield self._declined(question, query, intent.kind, sources, passages[:k])
            return
        claims = attribute(claims, lambda text: best_passage(text, passages))
        text, citations = render(
            claims, passages, lambda text, i: supporting_spans(text, passages[i]))
        yield Answer(text, True, citations, question, query, intent.kind,
                     sources, dropped)

    def _shown(self, limits: AnswerLimits, passages: Sequence[Passage],
               evidence: Sequence[Evidence]) -> list[Passage]:
        """What the model reads: the small model the top passages (cut to their best
        sentences); a capable one every passage whose best sentence scores within
        SHOW_CLOSE of the best (no distractors), up to its limit, as whole paragraphs."""
        if not limits.writes_summaries or not evidence:
            return list(passages[: limits.llm_passages])
        best: dict[int, float] = {}
        for e in evidence:
            best.setdefault(e.passage, e.score)
        top = evidence[0].score
        relevant = [p for i, p in enumerate(passages) if best.get(i, 0.0) >= SHOW_CLOSE * top]
        relevant = relevant[: limits.llm_passages]
        return paragraphs(relevant) if not limits.llm_passage_chars else relevant

    def _write(self, writer: Writer, limits: AnswerLimits, question: str,
               shown: Sequence[Passage], passages: Sequence[Passage],
               evidence: Sequence[Evidence]) -> Iterator:
        """The model answers over what it is shown (long passages cut to their best
        sentences beyond `llm_passage_chars`); the small model is stopped early."""
        texts = [focus(p.text, [e for e in evidence if passages[e.passage] is p],
                       limits.llm_passage_chars) for p in shown]
        if limits.writes_summaries:
            return writer.write(prompt("system_full"), question, shown,
                                texts if limits.llm_passage_chars else None)
        grounding = Grounding(shown)
        return writer.write(prompt("system"), question, shown, texts,
                            stop=lambda text: _enough(text, grounding,
                                                      limits.max_answer_sentences))

    def _restated(self, claims: Sequence[Claim], passages: Sequence[Passage],
                  evidence: Sequence[Evidence], question: str, kind: str) -> list[Claim]:
        """The small model may only rephrase the evidence, never lose it: each of its
        sentences is kept when it keeps what its evidence sentence says about the
        question, else that evidence sentence is quoted instead; and every sentence the
        extractive answer would quote that no kept sentence restates is quoted too. So
        its answer holds at least what quoting holds."""
        out: list[Claim] = []
        covered: set[str] = set()
        for claim in claims:
            ev = _evidence_of(claim, evidence)
            if ev is None:
                out.append(claim)
            elif keeps_evidence(claim.text, ev.sentence.text, question):
                out.append(replace(claim, refs=claim.refs or (ev.passage,)))
                covered.add(ev.sentence.text)
            elif ev.sentence.text not in covered:
                covered.add(ev.sentence.text)
                out.append(Claim(ev.sentence.text, (ev.passage,)))
        if not out:
            return []
        out += [c for c in self._extractive_claims(evidence, passages, kind, question)
                if c.text not in covered]
        return out

    # -- internals ---------------------------------------------------------------------------
    def _standalone(self, question: str, history: list[dict], chat_model: BaseChatModel | None,
                    k: int, sources: Sequence[str] | None) -> tuple[str, str]:
        """The retrieval query and the question the model answers. A follow-up's ordinal or
        "the other" reference resolved from the previous answer (or, for "the other depot",
        from the passages found for the conversation) is both; else the follow-up is
        rewritten by the LLM when it can, and an accepted rewrite is both too (the model
        is shown no conversation: "What about the CFO?" alone names nobody's CFO); else
        the previous question is searched with it, and the model answers it as asked."""
        if not is_follow_up(question, history):
            return question, question
        resolved = resolve_reference(question, history, lambda text: [
            p.text for p in self.retriever.search(text, k, self._sources(sources))])
        if resolved:
            return resolved, resolved
        if chat_model is not None:
            recent = recent_history(history, self.settings.history_chars)
            messages = [SystemMessage(prompt("rewrite")), HumanMessage(
                prompt("rewrite_question").format(conversation=format_conversation(recent),
                                                  question=question))]
            text = ""
            try:
                stream = chat_model.stream(messages)
                for chunk in stream:
                    text += str(chunk.content)
                    if "\n" in text.strip():  # one line is the question; stop generating
                        stream.close()
                        break
            except Exception:  # noqa: BLE001 - a failing backend is reported by the answer step
                text = ""
            rewritten = accept_rewrite(text, question, recent)
            if rewritten:
                return rewritten, rewritten
        return standalone_query(question, history, self.settings.history_turns), question

    def _extractive_claims(self, evidence: Sequence[Evidence], passages: Sequence[Passage],
                           kind: str = LOOKUP, question: str = "") -> list[Claim]:
        """The best supporting sentences quoted verbatim, in the order they appear in the
        documents: for a lookup the best one and up to two more that score nearly as well
        (when the evidence is split, show all of it). A list gathers more of them, from
        every passage that holds one, plus the enumeration that follows a sentence
        announcing it ("... and three other organizations said" -> the one naming them);
        an explanation reads on from its best sentence to the end of its paragraph."""
        if kind in (LIST, EXPLAIN):
            evidence = [e for e in evidence if len(words(e.sentence.text)) >= MIN_WORDS]
        else:  # a heading or label is context for the fact below it, not the answer
            evidence = prefer_answers(question, evidence)
        if not evidence:
            return []
        most, close = EXTRACTIVE_SENTENCES, CLOSE_SCORE
        if kind == LIST:
            most, close = GATHER_SENTENCES, LIST_CLOSE
        elif kind == EXPLAIN:
            most, close = GATHER_SENTENCES - 2, EXPLAIN_CLOSE
        best = evidence[0]
        chosen = [(best.passage, best.sentence)]
        for e in evidence[1:]:
            if len(chosen) >= most or e.score < close * best.score:
                break
            chosen.append((e.passage, e.sentence))
        if kind == LIST:
            chosen += [(i, nxt) for i, s in chosen
                       for nxt in _following(passages[i].text, s, 1, paragraph=False)
                       if _enumerates(nxt.text)]
            chosen += self._enumerations(question, evidence, best.score)
        elif kind == EXPLAIN:
            chosen += [(best.passage, nxt) for nxt in
                       _following(passages[best.passage].text, best.sentence, EXPLAIN_READ_ON)]
        unique = {}
        for i, s in chosen:
            key = (passages[i].source, passages[i].page, passages[i].start + s.start)
            if key not in unique and s.text not in {x.text for _, x in unique.values()}:
                unique[key] = (i, s)
        ordered = [unique[key] for key in sorted(unique, key=lambda x: (x[0], x[1] or 0, x[2]))]
        bullets = kind == LIST and len(ordered) > 1
        return [Claim(s.text, (i,), bullets) for i, s in ordered]

    def _enumerations(self, question: str, evidence: Sequence[Evidence], best: float
                      ) -> list[tuple[int, Sentence]]:
        """Sentences that enumerate things and hold one of the question's two most
        distinctive words (those the collection uses least): where a list's items are
        often written
        ("the Netherlands faced a complete embargo, the UK and France ..."), even when the
        sentence shares little else with the question."""
        if not evidence or self.scorer.idf is None:
            return []
        asked = set(content_terms(question))
        if not asked:
            return []
        rare = set(sorted(asked, key=self.scorer.idf, reverse=True)[:2])
        out = []
        for e in evidence:
            if len(out) >= ENUMERATIONS or e.score < ENUMERATION_CLOSE * best:
                break
            if rare & set(content_terms(e.sentence.text)) and _enumerates(e.sentence.text):
                out.append((e.passage, e.sentence))
        return out

    def _declined(self, question: str, query: str, kind: str = LOOKUP,
                  sources: Sequence[str] | None = None,
                  passages: Sequence[Passage] = ()) -> Answer:
        """No answer, explained: the closest passages found (marked as not an answer) and
        the question's words that no document contains."""
        keyword = self.retriever.keyword
        missing = tuple(keyword.unknown(query)) if keyword is not None else ()
        return Answer(prompt("declined"), False, [], question, query, kind,
                      tuple(sources or ()), closest=tuple(passages[:DECLINE_CLOSEST]),
                      missing=missing)

    def _partial(self, question: str, query: str, kind: str, sources: Sequence[str],
                 reason: str, evidence: Sequence[Evidence], passages: Sequence[Passage]
                 ) -> Answer:
        """What the documents do not state, then what they do say (their best sentences,
        quoted and cited)."""
        claims = self._extractive_claims(_unplanted_first(evidence, passages), passages,
                                         LOOKUP, query)
        if not claims:
            return self._declined(question, query, kind, sources, passages)
        claims = attribute(claims, lambda text: best_passage(text, passages))
        text, citations = render(
            claims, passages, lambda text, i: supporting_spans(text, passages[i]))
        intro = prompt("partial").strip().format(reason=reason)
        return Answer(f"{intro}\n\n{text}", False, citations, question, query, kind,
                      tuple(sources or ()), status=PARTIAL)

    def _empty(self, question: str, query: str, kind: str = LOOKUP) -> Answer:
        return Answer(prompt("empty"), False, [], question, query, kind, ())


def focus(text: str, evidence: Sequence[Evidence], limit: int) -> str:
    """The passage itself when short (or `limit` is 0); else its best sentences, in text
    order, with '…'."""
    if not limit or len(text) <= limit or not evidence:
        return text
    chosen: list[Evidence] = []
    size = 0
    for e in evidence:  # best first
        if chosen and size + len(e.sentence.text) > limit:
            break
        chosen.append(e)
        size += len(e.sentence.text)
    chosen.sort(key=lambda e: e.sentence.start)
    return " … ".join(e.sentence.text for e in chosen)


def check_k(k) -> int | None:
    """The passages a question asks for (None: the setting's number); a SourcechatError
    unless a whole number from 1 to MAX_K (a whole float, as JSON or a slider sends, is
    taken). The CLI, the Python API and the web chat's API all pass k through here."""
    if k is None:
        return None
    value = int(k) if isinstance(k, float) and k.is_integer() else k
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or not 1 <= value <= MAX_K:
        shown = repr(k) if len(repr(k)) <= 40 else repr(k)[:40] + "…"
        raise SourcechatError(f"k, the number of passages per question, must be a whole "
                              f"number from 1 to {MAX_K}; got {shown}.")
    return int(value)


def _check_question(question) -> str:
    """The question as read: text, markup stripped, whitespace collapsed; an empty one (or
    one that is only markup), a long one or one that is not text is refused in one line."""
    if question is not None and not isinstance(question, str):
        raise InvalidQuestionError(f"The question must be text, not {type(question).__name__}: "
                                   "type a question about your documents.")
    question = " ".join((question or "").split())
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidQuestionError(
            f"The question is {len(question)} characters long; keep it under "
            f"{MAX_QUESTION_CHARS}.")
    question = " ".join(_MARKUP.sub(" ", question).split())
    if not question:
        raise InvalidQuestionError("The question is empty: type a question about your documents.")
    return question


def _unplanted_first(evidence: Sequence[Evidence], passages: Sequence[Passage]
                     ) -> list[Evidence]:
    """The evidence without sentences holding instructions addressed to an AI assistant or
    the reader, when what is left answers nearly as well as the best sentence (CLOSE_SCORE);
    else all of it: such a sentence is then the answer, and the answer says so."""
    flagged = {i: planted(p.text) for i, p in enumerate(passages)}
    clean = [e for e in evidence
             if not overlaps([(e.sentence.start, e.sentence.end)], flagged[e.passage])]
    if clean and len(clean) < len(evidence) and clean[0].score >= CLOSE_SCORE * evidence[0].score:
        return clean
    return list(evidence)


def _only_identifiers(question: str) -> bool:
    """The question's words are all identifiers (or stopwords): "E1377", "INV-2023-0042?"."""
    return all(identifiers(w) for w in words(question) if w.lower() not in STOPWORDS)


def _source_names(sources) -> tuple[str, ...]:
    """The sources a question is limited to, as given: none, one (a string or path), or a
    list of them."""
    if sources is None or sources == "":
        return ()
    if isinstance(sources, str | os.PathLike):
        sources = [sources]
    if not isinstance(sources, list | tuple | set | frozenset) or not all(
            isinstance(s, str | os.PathLike) for s in sources):
        raise SourcechatError("sources must be document names or paths: a list of them, or "
                              "one.")
    return tuple(os.fspath(s) for s in sources)


def _absolute(source: str) -> Path | None:
    """`source` as an absolute path (relative to the current folder), or None when it
    cannot name a file."""
    try:
        return Path(source).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):
        return None


def _evidence_of(claim: Claim, evidence: Sequence[Evidence]) -> Evidence | None:
    """The sentence of the cited passage(s) that supports a claim best."""
    claim_terms = set(content_terms(claim.text))
    if not claim_terms:
        return None
    best, best_share = None, 0.0
    for e in evidence:
        if claim.refs and e.passage not in claim.refs:
            continue
        share = len(claim_terms & set(content_terms(e.sentence.text))) / len(claim_terms)
        if share > best_share:
            best, best_share = e, share
    return best


def _best_evidence_if_missing(claims: Sequence[Claim], evidence: Sequence[Evidence],
                              passages: Sequence[Passage], shown: Sequence[Passage],
                              question: str) -> list[Claim]:
    """A lookup's answer always holds its best evidence: when no sentence the model wrote
    keeps what the best supporting sentence says about the question (a grounded but
    beside-the-point answer), that sentence is quoted too, cited to the paragraph the
    model was shown."""
    if not evidence or any(keeps_evidence(c.text, evidence[0].sentence.text, question)
                           for c in claims):
        return []
    best = evidence[0]
    chunk = passages[best.passage]
    at = chunk.start + best.sentence.start
    for i, p in enumerate(shown):
        if p.source == chunk.source and p.page == chunk.page and p.start <= at < p.end:
            return [Claim(best.sentence.text, (i,))]
    return []


def _following(text: str, sentence: Sentence, n: int,
               paragraph: bool = True) -> list[Sentence]:
    """Up to n sentences after `sentence` in a passage (in the same paragraph)."""
    out = []
    for s in chunk_sentences(text):
        if s.start < sentence.end:
            continue
        gap = text[sentence.end if not out else out[-1].end:s.start]
        if (paragraph and "\n\n" in gap) or len(out) >= n:
            break
        out.append(s)
    return out


def _enumerates(text: str) -> bool:
    """A sentence that names several things: three or more items in a comma list ending in
    'and'/'or', most of them capitalized names ("A, B, C and D")."""
    m = re.search(r"((?:[^,;]+,){2,}[^,;]*?\b(?:and|or)\b)", text)  # no nested \s*: linear
    if not m:
        return False
    items = [x.strip() for x in re.split(r",|\band\b|\bor\b", m.group(1)) if x.strip()]
    named = sum(bool(re.match(r"(?:the\s+|The\s+)?[A-Z]", x)) for x in items)
    return len(items) >= 3 and named >= 2


def _enough(text: str, grounding: Grounding, max_sentences: int) -> bool:
    """Stop the small model early once its sentences are done, it starts a new line, a
    finished sentence is not grounded, or a finished number is not in the passages (the
    draft would be discarded anyway)."""
    done = [s.text for s in sentences(text, cut=False)][:-1]  # the last may still grow
    if "\n" in text.strip():
        return True
    if len(done) >= max_sentences:
        return True
    if not grounding.numbers_found(re.sub(r"\S*$", "", text)):  # minus the word being written
        return True
    return any(not grounding.supports(MARKER.sub("", s)) for s in done)
