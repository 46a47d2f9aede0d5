"""Loading and chunking: files and folders -> Documents -> chunks with offsets and ids."""

from importlib.resources import files

from corpus.chunking import chunk_documents, chunk_id, make_splitter
from corpus.errors import (
    BackendError,
    IndexMismatchError,
    InvalidQuestionError,
    LoadError,
    NotWritableError,
    SourcechatError,
)
from corpus.injection import holds_instructions, planted
from corpus.loaders import (
    SUPPORTED_SUFFIXES,
    LoadReport,
    PageNotes,
    given_paths,
    load_documents,
    load_file,
)
from corpus.ocr import PageReader

SAMPLE_DIR = files("corpus") / "samples"
"""The sample corpus shipped with the package: the default documents."""

__all__ = [
    "SAMPLE_DIR", "SUPPORTED_SUFFIXES", "BackendError", "IndexMismatchError",
    "InvalidQuestionError", "LoadError", "LoadReport", "NotWritableError", "PageNotes",
    "PageReader",
    "SourcechatError", "chunk_documents",
    "chunk_id", "given_paths", "holds_instructions", "load_documents", "load_file",
    "make_splitter", "planted",
]
