"""Documents -> chunks with exact offsets and stable ids.

Every chunk's metadata carries source, title, page, start, end (character
offsets into its document's page_content, so `text[start:end] == chunk`), an id
derived from source, page, offset and content, and `suspect`: whether it holds
instructions addressed to an AI assistant or the reader (`corpus/injection.py`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from langchain_core.documents import Document

from corpus.injection import holds_instructions

if TYPE_CHECKING:  # imported when chunking, not when a question is asked
    from langchain_text_splitters import RecursiveCharacterTextSplitter

# Paragraphs first, then sentences, then clauses: chunks end on a sentence when they can.
SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]


def make_splitter(*, chunk_size: int, chunk_overlap: int) -> RecursiveCharacterTextSplitter:
    """The splitter sourcechat uses: sentence-aware, recording start offsets."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        separators=SEPARATORS,
        keep_separator="end",
        add_start_index=True,
        strip_whitespace=True,
    )


def chunk_id(source: str, page: int | None, start: int, text: str) -> str:
    """A stable id: the same chunk of the same file always gets the same id."""
    key = f"{source}\x00{page}\x00{start}\x00{text}".encode()
    return hashlib.sha256(key).hexdigest()[:32]


def chunk_documents(
    documents: Iterable[Document], *, chunk_size: int, chunk_overlap: int
) -> Iterator[Document]:
    """Split documents lazily; each chunk has source/title/page/start/end/id/suspect
    metadata."""
    splitter = make_splitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    for doc in documents:
        text = doc.page_content
        cursor = 0
        for piece in splitter.split_text(text):
            start = text.find(piece, cursor)
            if start < 0:  # cannot happen for exact substrings; guard against splitter changes
                start = text.find(piece)
            end = start + len(piece)
            cursor = start + 1
            meta = dict(doc.metadata)
            meta.update(start=start, end=end, id=chunk_id(meta["source"], meta.get("page"),
                                                          start, piece),
                        suspect=holds_instructions(piece))
            yield Document(page_content=piece, metadata=meta, id=meta["id"])
