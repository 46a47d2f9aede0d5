"""The assistant: question (+ history) -> retrieved passages -> gated, grounded, cited answer.

Trust comes first. An answer is given only when the retrieved passages match the
question well enough (the relevance gate); an LLM answer is kept only when its
content is found in the passages, otherwise the best supporting sentences are
quoted instead; every sentence of the answer cites a passage that was retrieved.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from assistant.citations import MARKER, Answer, Claim, attribute, parse_markers, render
from assistant.conversation import (
    accept_rewrite,
    check_history,
    format_conversation,
    is_follow_up,
    recent_history,
    standalone_query,
)
from assistant.evidence import (
    Evidence,
    EvidenceScorer,
    Relevance,
    best_passage,
    support,
    supporting_spans,
)
from assistant.prompts import format_sources, prompt
from assistant.settings import Settings
from corpus import SAMPLE_DIR
from corpus.errors import BackendError, InvalidQuestionError, SourcechatError
from corpus.text import content_terms, sentences
from index import ChunkStore, IngestReport, Passage, PassageRetriever, ingest, remove_sources

MAX_QUESTION_CHARS = 2000
LLM_PASSAGES = 3           # passages shown to the LLM (a 135M model loses its way in more)
MAX_ANSWER_SENTENCES = 2
EXTRACTIVE_SENTENCES = 3   # at most this many quoted sentences in an extractive answer
CLOSE_SCORE = 0.9          # ... each scoring at least this share of the best one
FOCUS_CHARS = 500          # per passage shown to the LLM: long passages become their best sentences
MIN_GROUNDING = 0.75       # share of an LLM sentence's content terms that must be in the passages


class Assistant:
    """Retrieval and cited answers over one index; see `build_assistant` for the wiring."""

    def __init__(self, settings: Settings, store: ChunkStore, retriever: PassageRetriever,
                 chat_model: BaseChatModel | None, scorer: EvidenceScorer,
                 model_factory: Callable[[str], BaseChatModel | None] | None = None,
                 explain: Callable[[str, BaseException], str] | None = None):
        self.settings = settings
        self.store = store
        self.retriever = retriever
        self.chat_model = chat_model
        self.scorer = scorer
        self._models: dict[str, BaseChatModel | None] = {settings.llm: chat_model}
        self._model_factory = model_factory
        self._explain = explain or (lambda backend, err: f"The {backend} backend failed: {err}")

    def chat_model_for(self, backend: str | None) -> BaseChatModel | None:
        """The chat model of a backend name (None: the configured one); built once."""
        if not backend or backend == self.settings.llm:
            return self.chat_model
        if backend not in self._models:
            if self._model_factory is None:
                raise BackendError(f"Backend '{backend}' is not available here.")
            self._models[backend] = self._model_factory(backend)
        return self._models[backend]

    # -- documents ---------------------------------------------------------------------------
    def ingest(self, paths: Sequence[str | Path] | None = None, progress: bool = True,
               on_progress=None, sync: bool = False) -> IngestReport:
        """Index files/folders (default: the sample corpus); `sync` drops vanished files."""
        report = ingest(paths or [str(SAMPLE_DIR)], self.store,
                        chunk_size=self.settings.chunk_size,
                        chunk_overlap=self.settings.chunk_overlap,
                        batch_size=self.settings.batch_size,
                        max_file_mb=self.settings.max_file_mb,
                        sync=sync, progress=progress, on_progress=on_progress)
        self._refresh_keywords()
        return report

    def _refresh_keywords(self) -> None:
        """After a write: the writer waits for the keyword index to catch up, so its next
        question finds what it added (other users search the previous version meanwhile)."""
        if self.retriever.keyword is not None:
            self.retriever.keyword.refresh()

    def ensure_indexed(self, progress: bool = False) -> None:
        """Index the sample corpus when the index is empty (first use)."""
        if self.store.count() == 0:
            self.ingest(progress=progress)

    def sources(self) -> list[tuple[str, str, int]]:
        """(source, title, chunks) for each indexed document."""
        return self.store.sources()

    def remove(self, source: str) -> tuple[str, int]:
        """Remove a document (full source path, or a unique file name); returns (source, chunks)."""
        known = [s for s, _, _ in self.store.sources()]
        matches = [s for s in known if s == source] or [
            s for s in known if Path(s).name == source or s.endswith("/" + source)]
        if not matches:
            raise SourcechatError(f"No indexed document matches '{source}': "
                                  "see `sourcechat sources` for the list.")
        if len(matches) > 1:
            raise SourcechatError(f"'{source}' matches {len(matches)} documents; "
                                  "give the full path shown by `sourcechat sources`.")
        removed = remove_sources(self.store, [matches[0]])
        self._refresh_keywords()
        return matches[0], removed

    # -- questions ---------------------------------------------------------------------------
    def retrieve(self, question: str, k: int | None = None,
                 sources: Sequence[str] | None = None) -> list[Passage]:
        """The best passages for a question, best first."""
        question = _check_question(question)
        self.ensure_indexed()
        return self.retriever.search(question, k or self.settings.k, sources)

    def relevance(self, question: str, k: int | None = None,
                  sources: Sequence[str] | None = None) -> Relevance:
        """The relevance-gate score of a question (the answer is declined below the setting)."""
        passages = self.retrieve(question, k, sources)
        return self.scorer.relevance(question, passages, self.scorer.evidence(question, passages))

    def ask(self, question: str, history: Sequence[dict] | None = None, k: int | None = None,
            sources: Sequence[str] | None = None, backend: str | None = None) -> Answer:
        """Answer a question from the documents, with citations, or decline."""
        answer = None
        for event in self.stream(question, history, k, sources, backend):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None
        return answer

    def stream(self, question: str, history: Sequence[dict] | None = None,
               k: int | None = None, sources: Sequence[str] | None = None,
               backend: str | None = None) -> Iterator[str | Answer]:
        """Yield the answer's text as it is generated (str pieces), then the final Answer.

        The final Answer is authoritative: when the generated text fails the grounding
        check it is replaced by quoted evidence, so a UI must show the final text.
        """
        question = _check_question(question)
        history = check_history(history)
        chat_model = self.chat_model_for(backend)
        query = self._standalone(question, history, chat_model)
        passages = self.retrieve(query, k, sources)
        evidence = self.scorer.evidence(query, passages)
        relevance = self.scorer.relevance(query, passages, evidence)
        if relevance.score < self.settings.min_relevance:
            yield self._declined(question, query)
            return

        claims: list[Claim] = []
        if chat_model is not None:
            shown = passages[:LLM_PASSAGES]
            pieces: list[str] = []
            excerpts = [focus(p.text, [e for e in evidence if e.passage == i])
                         for i, p in enumerate(shown)]
            grounding = Grounding(shown)
            stream = self._generate(chat_model, question, excerpts, backend or self.settings.llm)
            for piece in stream:
                pieces.append(piece)
                yield piece
                if _enough(pieces, grounding):
                    stream.close()  # stops generation: it has answered, or gone astray
                    break
            generated = "".join(pieces).strip()
            if _says_not_found(generated) and relevance.lexical < 0.5:
                yield self._declined(question, query)
                return
            claims = self._grounded_claims(generated, grounding, len(shown), question)
        if not claims:
            claims = self._extractive_claims(evidence, passages)
        if not claims:
            yield self._declined(question, query)
            return
        claims = attribute(claims, lambda text: best_passage(text, passages))
        text, citations = render(
            claims, passages, lambda text, i: supporting_spans(text, passages[i]))
        yield Answer(text, True, citations, question, query)

    # -- internals ---------------------------------------------------------------------------
    def _standalone(self, question: str, history: list[dict],
                    chat_model: BaseChatModel | None) -> str:
        """The retrieval query: a follow-up rewritten by the LLM when it can, else the
        previous question searched with it."""
        if not is_follow_up(question, history):
            return question
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
                return rewritten
        return standalone_query(question, history, self.settings.history_turns)

    def _generate(self, chat_model: BaseChatModel, question: str,
                  excerpts: Sequence[str], backend: str) -> Iterator[str]:
        messages = [
            SystemMessage(prompt("system")),
            HumanMessage(prompt("question").format(
                sources=format_sources(list(excerpts)), question=question)),
        ]
        try:
            for chunk in chat_model.stream(messages):
                if chunk.content:
                    yield str(chunk.content)
        except SourcechatError:
            raise
        except Exception as err:  # a backend down or failing mid-answer: say so, in one line
            raise BackendError(self._explain(backend, err)) from err

    def _grounded_claims(self, generated: str, grounding: Grounding,
                         n_passages: int, question: str) -> list[Claim]:
        """The LLM's sentences, kept only if every finished one is grounded in the passages
        and together they say something the question did not (not just "1959-1984").

        One invented sentence discredits the whole draft: then nothing is kept and the
        caller quotes the evidence instead. An unfinished last sentence (the length
        cap cut it) is dropped.
        """
        if not generated or _says_not_found(generated):
            return []
        claims = parse_markers(generated, n_passages)
        if len(claims) > 1 and not re.search(r"[.!?][\"'”’)]*$", claims[-1].text):
            claims = claims[:-1]
        asked = set(content_terms(question))
        if not any(set(content_terms(c.text)) - asked for c in claims):
            return []  # only echoes the question's own words
        return claims if all(grounding.supports(c.text) for c in claims) else []

    def _extractive_claims(self, evidence: Sequence[Evidence],
                           passages: Sequence[Passage]) -> list[Claim]:
        """The best supporting sentences quoted verbatim: the best one, and up to two more
        that score nearly as well (when the evidence is split, show all of it), in the
        order they appear in the documents."""
        if not evidence:
            return []
        best = evidence[0]
        chosen = [best]
        seen = {best.sentence.text}
        for e in evidence[1:]:
            if len(chosen) >= EXTRACTIVE_SENTENCES or e.score < CLOSE_SCORE * best.score:
                break
            if e.sentence.text not in seen:
                chosen.append(e)
                seen.add(e.sentence.text)
        chosen.sort(key=lambda e: (passages[e.passage].source, passages[e.passage].page or 0,
                                   passages[e.passage].start + e.sentence.start))
        return [Claim(e.sentence.text, (e.passage,)) for e in chosen]

    def _declined(self, question: str, query: str) -> Answer:
        return Answer(prompt("declined"), False, [], question, query)


def focus(text: str, evidence: Sequence[Evidence], limit: int = FOCUS_CHARS) -> str:
    """The passage itself when short; else its best sentences, in text order, with '…'."""
    if len(text) <= limit or not evidence:
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


def _check_question(question: str) -> str:
    if not isinstance(question, str) or not question.strip():
        raise InvalidQuestionError("The question is empty: type a question about your documents.")
    question = " ".join(question.split())
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidQuestionError(
            f"The question is {len(question)} characters long; keep it under "
            f"{MAX_QUESTION_CHARS}.")
    return question


class Grounding:
    """What the passages shown to the model contain: built once per answer, checked per token."""

    def __init__(self, passages: Sequence[Passage]):
        self.text = "\n".join(p.text for p in passages)
        self.numbers = {w for w in content_terms(self.text) if w.isdigit()}

    def numbers_found(self, text: str) -> bool:
        """Every number in `text` appears in the passages (where small models invent)."""
        return all(w in self.numbers for w in content_terms(text) if w.isdigit())

    def supports(self, sentence: str) -> bool:
        """Enough of the sentence's content terms, and all its numbers, are in the passages."""
        return support(sentence, self.text) >= MIN_GROUNDING and self.numbers_found(sentence)


def _enough(pieces: list[str], grounding: Grounding) -> bool:
    """Stop early once two sentences are done, a finished sentence is not grounded, or a
    finished number is not in the passages (the draft will be discarded anyway)."""
    text = "".join(pieces)
    done = [s.text for s in sentences(text)][:-1]  # the last one may still be growing
    if "\n" in text.strip():
        return True
    if len(done) >= MAX_ANSWER_SENTENCES:
        return True
    if not grounding.numbers_found(re.sub(r"\S*$", "", text)):  # minus the word being written
        return True
    return any(support(MARKER.sub("", s), grounding.text) < MIN_GROUNDING for s in done)


def _says_not_found(text: str) -> bool:
    t = text.strip().lower()
    return t.startswith("not found") or "not found" in t[:40] or t.startswith("i don't know")
