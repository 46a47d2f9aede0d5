"""Files and folders -> LangChain Documents, one per text unit (a file, or a PDF page).

Each Document's metadata carries `source` (absolute path), `title` and `page`
(1-based for PDFs, None otherwise); its page_content is the exact text that
chunk offsets point into. Bad files never stop a run: they are reported as
LoadError values beside the documents.

Scanned pages (a PDF page with no text layer, or almost none) and image files are
read by OCR when a `PageReader` is handed in (corpus/ocr.py); `notes` then tells which
pages OCR read and which yielded no text at all.
"""

from __future__ import annotations

import codecs
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from langchain_core.documents import Document
from PIL import Image

from corpus import office
from corpus.errors import LoadError, SourcechatError
from corpus.ocr import IMAGE_SUFFIXES, MIN_PAGE_CHARS, OCRUnavailable, PageReader
from corpus.office import OFFICE_SUFFIXES

_ENCRYPTED = "encrypted PDF (remove the password, then add it again)"
OCR_OFF = "OCR is off"  # in the reason of a file that only OCR could read
SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx",
                      *OFFICE_SUFFIXES, *IMAGE_SUFFIXES)


@dataclass
class PageNotes:
    """Per file: the pages OCR read, and the pages that yielded no text at all."""

    read_by_ocr: list[int] = field(default_factory=list)
    no_text: list[int] = field(default_factory=list)

    def summary(self) -> str:
        """'pages 3-5 read by OCR; pages 12-40 have no text' (empty when nothing to say)."""
        parts = []
        if self.read_by_ocr:
            parts.append(f"{_pages(self.read_by_ocr)} read by OCR")
        if self.no_text:
            parts.append(f"{_pages(self.no_text)} {'has' if len(self.no_text) == 1 else 'have'} "
                         "no text")
        return "; ".join(parts)


def _pages(numbers: list[int]) -> str:
    """[1, 2, 3, 7] -> 'pages 1-3, 7'; [4] -> 'page 4'."""
    runs: list[list[int]] = []
    for n in sorted(set(numbers)):
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    text = ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)
    return f"page{'s' if len(numbers) > 1 else ''} {text}"


@dataclass
class LoadReport:
    """What a load saw: files read, and the ones that failed with their reason."""

    files: list[str] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)


class _QuietLoggers:
    """While any file is read (by any thread), the reader libraries' own log lines are
    silenced: pypdf's "EOF marker not found", pdfminer's warnings. A file they cannot
    read is reported once, as its LoadError; one they can read needs no remark."""

    def __init__(self, names: tuple[str, ...]):
        self.names = names
        self._lock = threading.Lock()
        self._readers = 0
        self._levels: dict[str, int] = {}

    def __enter__(self) -> None:
        with self._lock:
            if not self._readers:
                for name in self.names:
                    logger = logging.getLogger(name)
                    self._levels[name] = logger.level
                    logger.setLevel(logging.CRITICAL + 1)
            self._readers += 1

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._readers -= 1
            if not self._readers:
                for name, level in self._levels.items():
                    logging.getLogger(name).setLevel(level)


_QUIET_READERS = _QuietLoggers(("pypdf", "pdfminer", "pdfplumber"))


def given_paths(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list:
    """The paths to index or watch as a list (one path may be given alone); an empty one
    is refused, since it would name the current folder, recursively."""
    paths = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if any(not os.fspath(p).strip() for p in paths):
        raise SourcechatError("An empty path was given: name the files or folders to index.")
    return paths


def iter_files(paths: Iterable[str | os.PathLike], report: LoadReport) -> Iterator[Path]:
    """Yield the supported files under `paths` (recursively), each once, in a stable order."""
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            report.errors.append(LoadError(str(raw), "no such file or folder"))
            continue
        if path.is_dir():
            candidates = _walk(path, report)
        else:
            candidates = iter([path])
        for file in candidates:
            resolved = file.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            if file.suffix.lower() not in SUPPORTED_SUFFIXES:
                if path.is_file():  # named explicitly: say why it is skipped
                    report.errors.append(
                        LoadError(str(file), f"unsupported file type '{file.suffix or '(none)'}'"
                                  f" (supported: {', '.join(SUPPORTED_SUFFIXES)})")
                    )
                continue
            yield resolved


def _walk(root: Path, report: LoadReport) -> Iterator[Path]:
    """Walk a folder without following symlinked folders into loops; hidden entries skipped."""
    visited: set[tuple[int, int]] = set()

    def onerror(err: OSError) -> None:
        report.errors.append(LoadError(str(err.filename), f"cannot read folder ({err.strerror})"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=True):
        st = os.stat(dirpath)
        key = (st.st_dev, st.st_ino)
        if key in visited:  # a symlink loop or a folder reached twice
            dirnames[:] = []
            continue
        visited.add(key)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(dirpath) / name


def check_image(path: Path) -> None:
    """Raise LoadError unless `path` is an image PIL can open (no OCR: a quick check)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError,
            Image.DecompressionBombError) as err:
        raise LoadError(str(path), f"corrupt or unreadable image ({type(err).__name__})") \
            from None


def load_file(path: Path, ocr: PageReader | None = None,
              notes: PageNotes | None = None) -> list[Document]:
    """Read one file into Documents; raise LoadError with a reason a person understands.
    `ocr` reads scanned PDF pages and images (None: OCR is off); `notes` (if given) is
    filled with the pages OCR read and the pages with no text."""
    suffix = path.suffix.lower()
    notes = notes if notes is not None else PageNotes()
    try:
        with _QUIET_READERS:  # their failures are reported once, as a LoadError
            if suffix == ".pdf":
                docs = _load_pdf(path, ocr, notes)
            elif suffix in IMAGE_SUFFIXES:
                docs = _load_image(path, ocr, notes)
            elif suffix in OFFICE_SUFFIXES:
                docs = _load_office(path, suffix)
            elif suffix in (".html", ".htm"):
                docs = [_load_html(path)]
            elif suffix == ".docx":
                docs = [_load_docx(path)]
            else:
                text = decode_text(path.read_bytes(), str(path))
                title = _markdown_title(text) if suffix != ".txt" else None
                docs = [_doc(text, path, None, title)]
    except LoadError:
        raise
    except PermissionError:
        raise LoadError(str(path), "permission denied (check the file's permissions)") from None
    except OSError as err:
        raise LoadError(str(path), f"cannot read file ({err.strerror or err})") from None
    except (MemoryError, RecursionError, ValueError, KeyError, TypeError, AttributeError,
            IndexError, RuntimeError, Image.DecompressionBombError) as err:
        # a reader library's failure on a malformed file: that file is skipped, one line
        label = suffix.lstrip(".") or "file"
        raise LoadError(str(path), f"corrupt, unreadable or password-protected {label} "
                        f"({type(err).__name__})") from None
    docs = [d for d in docs if d.page_content.strip()]
    if not docs:
        if suffix == ".pdf" and ocr is None:
            raise LoadError(str(path), f"no text found (a scanned PDF? {OCR_OFF}: set "
                            "SOURCECHAT_OCR=true to read it)")
        raise LoadError(str(path), "no text found" + (" (not even by OCR)" if ocr else ""))
    return docs


def load_documents(
    paths: Iterable[str | os.PathLike], report: LoadReport | None = None,
    ocr: PageReader | None = None,
) -> Iterator[Document]:
    """Yield Documents for every supported file under `paths`; failures go to `report`."""
    report = report if report is not None else LoadReport()
    for path in iter_files(paths, report):
        try:
            docs = load_file(path, ocr)
        except LoadError as err:
            report.errors.append(err)
            continue
        report.files.append(str(path))
        yield from docs


def decode_text(data: bytes, name: str) -> str:
    """Decode text bytes: UTF-8 (with or without BOM), UTF-16 with BOM, else Latin-1/CP1252."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    sample = data[:8192]
    if b"\x00" in sample:
        raise LoadError(name, "looks like a binary file, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _doc(text: str, path: Path, page: int | None, title: str | None) -> Document:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return Document(
        page_content=text,
        metadata={"source": str(path), "title": title or path.name, "page": page},
    )


def _markdown_title(text: str) -> str | None:
    for line in text.splitlines()[:20]:
        if line.startswith("# "):
            return line[2:].strip() or None
    return None


def _load_html(path: Path) -> Document:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(decode_text(path.read_bytes(), str(path)), "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    for tag in soup(["script", "style", "noscript", "template", "head", "svg", "iframe"]):
        tag.decompose()
    for table in reversed(soup.find_all("table")):  # inner tables first
        rows = [[cell.get_text(" ", strip=True) for cell in tr.find_all(["th", "td"])]
                for tr in table.find_all("tr")]
        table.replace_with("\n" + "\n".join(office.row_lines(rows)) + "\n")
    lines = (line.strip() for line in soup.get_text("\n").splitlines())
    text = "\n".join(line for line in lines if line)
    return _doc(text, path, None, title)


def _load_pdf(path: Path, ocr: PageReader | None, notes: PageNotes) -> list[Document]:
    docs = _load_pdf_text(path)
    for number, text in _pdf_tables(path).items():  # pages with ruled tables, as rows
        if number > len(docs):  # the two readers disagree on the pages: keep pypdf's
            break
        docs[number - 1].page_content = _doc(text, path, number, None).page_content
    scanned = [d.metadata["page"] for d in docs if len(d.page_content.strip()) < MIN_PAGE_CHARS]
    if scanned and ocr is not None:
        by_page = {d.metadata["page"]: d for d in docs}
        try:
            for number, text in ocr.pdf_pages(path, scanned):
                if len(text.strip()) > len(by_page[number].page_content.strip()):
                    by_page[number].page_content = _doc(text, path, number, None).page_content
                    notes.read_by_ocr.append(number)
        except OCRUnavailable as err:
            raise LoadError(str(path), str(err)) from None
        except Exception as err:  # pdfium refusing a page pypdf read: keep the text layer
            raise LoadError(str(path), f"cannot render its scanned pages for OCR "
                            f"({type(err).__name__})") from None
    notes.no_text.extend(d.metadata["page"] for d in docs if not d.page_content.strip())
    return docs


def _load_office(path: Path, suffix: str) -> list[Document]:
    try:
        if suffix == ".csv":
            units = office.read_csv(decode_text(path.read_bytes(), str(path)))
        elif suffix == ".rtf":
            units = office.read_rtf(decode_text(path.read_bytes(), str(path)))
        else:
            units = {".pptx": office.read_pptx, ".xlsx": office.read_xlsx,
                     ".epub": office.read_epub, ".odt": office.read_odt}[suffix](path)
    except (LoadError, PermissionError):
        raise
    except Exception as err:  # each library raises its own zoo on a broken file
        raise LoadError(str(path), f"corrupt, unreadable or password-protected {suffix} file "
                        f"({type(err).__name__})") from None
    return [_doc(text, path, page, None) for page, text in units]


def _pdf_tables(path: Path) -> dict[int, str]:
    """{page: text} for the pages where pdfplumber finds ruled tables: the text around
    them as it reads, each table as row lines with its headers (office.row_lines).
    Any failure leaves the pages as pypdf read them."""
    import pdfplumber

    out: dict[int, str] = {}
    try:
        with pdfplumber.open(str(path)) as pdf:
            for number, page in enumerate(pdf.pages, 1):
                try:
                    text = _page_tables(page)
                finally:
                    page.close()  # its parsed objects go now, not when the file is closed
                if text is not None:
                    out[number] = text
    except Exception:  # pdfminer's failures on odd files: the text layer stays as it was
        return {}
    return out


def _page_tables(page) -> str | None:
    """A page's text with its ruled tables as rows, or None when it has no ruled table."""
    if not (page.lines or page.rects):  # no rules drawn: no ruled table
        return None
    tables = sorted(page.find_tables(), key=lambda t: t.bbox[1])
    if not tables:
        return None
    parts, top = [], 0.0
    for table in tables:
        x0, t_top, x1, t_bottom = table.bbox
        if t_top > top:
            parts.append(page.crop((0, top, page.width, t_top)).extract_text())
        parts.append("\n".join(office.row_lines(table.extract())))
        top = max(top, t_bottom)
    if top < page.height:
        parts.append(page.crop((0, top, page.width, page.height)).extract_text())
    return "\n".join(p.strip() for p in parts if p and p.strip())


def _load_image(path: Path, ocr: PageReader | None, notes: PageNotes) -> list[Document]:
    if ocr is None:
        raise LoadError(str(path), f"an image: reading it needs OCR, and {OCR_OFF} (set "
                        "SOURCECHAT_OCR=true)")
    from PIL import Image, UnidentifiedImageError

    try:
        frames = list(ocr.image_pages(path))
    except OCRUnavailable as err:
        raise LoadError(str(path), str(err)) from None
    except PermissionError:
        raise
    except Image.DecompressionBombError as err:
        raise LoadError(str(path), f"image too large to read ({err})") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise LoadError(str(path), f"corrupt or unreadable image ({type(err).__name__})") \
            from None
    multi = len(frames) > 1
    docs = []
    for number, text in frames:
        (notes.read_by_ocr if text.strip() else notes.no_text).append(number)
        docs.append(_doc(text, path, number if multi else None, None))
    return docs


def _load_pdf_text(path: Path) -> list[Document]:
    from pypdf import PdfReader

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise LoadError(str(path), _ENCRYPTED)
            except LoadError:
                raise
            except Exception:
                raise LoadError(str(path), _ENCRYPTED) from None
        meta_title = (reader.metadata.title if reader.metadata else None) or None
        docs = []
        for number, page in enumerate(reader.pages, start=1):
            docs.append(_doc(page.extract_text() or "", path, number, meta_title))
        return docs
    except (LoadError, OSError):  # OSError: permissions, I/O (load_file says which)
        raise
    except Exception as err:  # pypdf raises a wide variety on broken files
        raise LoadError(str(path), f"corrupt or unreadable PDF ({type(err).__name__})") from None


def _load_docx(path: Path) -> Document:
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table as DocxTable

    try:
        document = docx.Document(str(path))
    except (zipfile.BadZipFile, KeyError, ValueError, PackageNotFoundError) as err:
        raise LoadError(str(path), f"corrupt or unreadable .docx ({type(err).__name__})") from None
    parts = []
    for block in document.iter_inner_content():  # paragraphs and tables, in order
        if isinstance(block, DocxTable):
            rows = [[cell.text for cell in row.cells] for row in block.rows]
            parts.append("\n".join(office.row_lines(rows)))
        elif block.text.strip():
            parts.append(block.text)
    text = "\n\n".join(p for p in parts if p)
    title = document.core_properties.title or None
    return _doc(text, path, None, title)
