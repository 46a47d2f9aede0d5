"""A chat model writing a cited answer over numbered passages, checked sentence by sentence.

The model sees the passages numbered [1]..[n] between <sources> tags (data, not
instructions) and a system prompt from `assistant/prompts/`. Its text streams out
as it is written; when it is done, each sentence (or bullet) is checked against
the passages (`grounding.check_claims`): supported ones are kept with their
citations, unsupported ones dropped and counted, a sentence cut off by the
token budget removed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from assistant.citations import Claim, parse_markers
from assistant.grounding import Grounding, check_claims
from assistant.prompts import format_sources, prompt
from corpus.errors import BackendError, SourcechatError
from index.passages import Passage


@dataclass
class Draft:
    """What the model wrote, and what of it survived the checks."""

    text: str = ""
    claims: list[Claim] = field(default_factory=list)
    dropped: int = 0
    finished: bool | None = None  # stopped on its own / cut (budget or early stop) / unknown

    @property
    def not_found(self) -> bool:
        """The model said the sources do not hold the answer."""
        t = self.text.strip().lower()
        return t.startswith("not found") or "not found" in t[:40] or t.startswith(
            "i don't know")


def paragraphs(passages: Sequence[Passage]) -> list[Passage]:
    """The passages as a capable model is shown them: each paragraph of each chunk its own
    numbered source, so a citation points at the paragraph that holds the sentence;
    offsets stay exact (`text == document[start:end]`)."""
    out: list[Passage] = []
    for p in passages:
        pos = 0
        for block in re.split(r"(\n\s*\n)", p.text):
            if block.strip() and not re.fullmatch(r"\n\s*\n", block):
                lead = len(block) - len(block.lstrip())
                text = block.strip()
                start = p.start + pos + lead
                out.append(replace(p, text=text, start=start, end=start + len(text)))
            pos += len(block)
    return out


def document_paragraphs(chunks: Sequence[Passage]) -> list[Passage]:
    """A whole document's paragraphs, from its chunks: overlapping chunks are stitched back
    by their offsets into runs of contiguous text (a gap between two chunks, whitespace the
    splitter dropped, starts a new run), then cut at blank lines. Each paragraph keeps the
    id of the chunk it starts in; `text == document[start:end]` holds for every one."""
    out: list[Passage] = []
    runs: list[tuple[Passage, list[tuple[int, Passage]]]] = []
    for c in sorted(chunks, key=lambda c: (c.page or 0, c.start)):
        run = runs[-1] if runs else None
        if run is None or run[0].page != c.page or c.start > run[0].end:
            runs.append((c, [(c.start, c)]))
            continue
        head, owners = run
        if c.end <= head.end:
            continue
        owners.append((head.end, c))
        runs[-1] = (replace(head, text=head.text + c.text[head.end - c.start:], end=c.end),
                    owners)
    for head, owners in runs:
        for para in paragraphs([head]):
            owner = next((c for pos, c in reversed(owners) if pos <= para.start), owners[0][1])
            out.append(replace(para, id=owner.id))
    return out


class Writer:
    """One backend's chat model, writing over passages (see the module docstring)."""

    def __init__(self, chat_model: BaseChatModel, explain: Callable[[BaseException], str]):
        self.chat_model = chat_model
        self.explain = explain

    def write(self, system: str, question: str, passages: Sequence[Passage],
              texts: Sequence[str] | None = None,
              stop: Callable[[str], bool] | None = None) -> Iterator[str | Draft]:
        """Yield the text as it streams, then the checked Draft. `texts` replaces what the
        model is shown of each passage (focused excerpts); `stop(text_so_far)` ends the
        generation early (the draft is then treated as cut)."""
        shown = list(texts) if texts is not None else [p.text for p in passages]
        messages = [SystemMessage(system), HumanMessage(prompt("question").format(
            sources=format_sources(shown), question=question))]
        draft = Draft()
        pieces: list[str] = []
        try:
            stream = self.chat_model.stream(messages)
            for chunk in stream:
                meta = getattr(chunk, "response_metadata", None) or {}
                reason = meta.get("finish_reason") or meta.get("done_reason")
                if reason:
                    draft.finished = reason == "stop"
                if chunk.content:
                    piece = str(chunk.content)
                    pieces.append(piece)
                    yield piece
                    if stop is not None and stop("".join(pieces)):
                        stream.close()  # it has answered, or gone astray
                        draft.finished = False
                        break
        except SourcechatError:
            raise
        except Exception as err:  # a backend down or failing mid-answer: say so, in one line
            raise BackendError(self.explain(err)) from err
        draft.text = "".join(pieces).strip()
        if draft.text and not draft.not_found:
            claims = parse_markers(draft.text, len(passages))
            draft.claims, draft.dropped = check_claims(
                claims, Grounding(passages), question, draft.finished)
        yield draft
