"""Passage: one retrieved chunk, with where it came from and how well it matched."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from langchain_core.documents import Document


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk: `text == document_text[start:end]` of `source` (page for PDFs)."""

    text: str
    source: str
    page: int | None
    start: int
    end: int
    score: float
    id: str
    title: str = ""

    @property
    def name(self) -> str:
        """Short label for people: file name, plus the page for PDFs."""
        base = Path(self.source).name or self.source
        return f"{base}, page {self.page}" if self.page else base

    def to_dict(self) -> dict:
        """Plain-JSON form."""
        return asdict(self)

    def to_document(self) -> Document:
        """The LangChain Document form (metadata carries everything but the text)."""
        meta = {k: v for k, v in asdict(self).items() if k != "text"}
        return Document(page_content=self.text, metadata=meta, id=self.id)

    @classmethod
    def from_document(cls, doc: Document, score: float | None = None) -> Passage:
        """Build from a chunk Document (as stored) and a score."""
        m = doc.metadata
        return cls(
            text=doc.page_content,
            source=m["source"],
            page=m.get("page") or None,
            start=int(m["start"]),
            end=int(m["end"]),
            score=float(score if score is not None else m.get("score", 0.0)),
            id=m.get("id") or doc.id,
            title=m.get("title", ""),
        )


def reassemble(chunks: list[Passage]) -> list[tuple[int | None, str]]:
    """A document's text per page (or one unit) from its chunks: each chunk is
    `text[start:end]` of its page, so placing them at their offsets rebuilds the indexed
    text exactly (what lies between two chunks, only whitespace, becomes spaces)."""
    pages: dict[int | None, list[Passage]] = {}
    for c in chunks:
        pages.setdefault(c.page, []).append(c)
    out = []
    for page in sorted(pages, key=lambda p: p or 0):
        size = max(c.end for c in pages[page])
        buf = [" "] * size
        for c in sorted(pages[page], key=lambda c: c.start):
            buf[c.start:c.end] = c.text
        out.append((page, "".join(buf)))
    return out
