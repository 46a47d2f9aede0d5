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
    """A whole document's paragraphs, from its chunks in order: the overlapping chunks are
    stitched back by their offsets (the whitespace between two chunks is restored as
    blank lines), then cut at blank lines. Each paragraph keeps the id of the chunk it
    starts in."""
    out: list[Passage] = []
    by_page: dict[int | None, list[Passage]] = {}
    for c in chunks:
        by_page.setdefault(c.page, []).append(c)
    for group in by_page.values():
        text, base, owners = "", group[0].start, []
        for c in sorted(group, key=lambda c: c.start):
            end = base + len(text)
            if c.end <= end:
                continue
            if c.start > end:
                gap = c.start - end
                text += "\n" * gap if gap >= 2 else " "
            owners.append((base + len(text), c))
            text += c.text[max(0, base + len(text) - c.start):]
        stitched = replace(group[0], text=text, start=base, end=base + len(text))
        for para in paragraphs([stitched]):
            owner = next((c for pos, c in reversed(owners) if pos <= para.start), group[0])
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
