"""Slides, spreadsheets, e-books and other office formats -> text units with positions.

Each reader returns (page, text) units: the slide number for pptx (its notes
included), the sheet number for xlsx (a sheet's rows are lines that carry their row
number and the column headers, so a cited row stands on its own), the chapter number for
epub; odt, rtf and csv are one unit. Maintained libraries do the parsing: python-pptx,
openpyxl (read-only, streaming: a sheet of a million empty cells costs nothing), EbookLib,
odfpy, striprtf.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

OFFICE_SUFFIXES = (".pptx", ".xlsx", ".csv", ".epub", ".odt", ".rtf")
MAX_EMPTY_ROWS = 1000  # a sheet's run of blank rows longer than this ends it


def row_lines(rows: Iterable[Sequence], first_row: int = 1) -> list[str]:
    """Table rows as lines: the first non-empty row is the header; every later row is
    'Row N: Header: value | Header: value' (N: its row number in the sheet or file)."""
    header: list[str] | None = None
    lines: list[str] = []
    blank_run = 0
    for number, row in enumerate(rows, first_row):
        cells = ["" if c is None else " ".join(str(c).split()) for c in row]
        if not any(cells):
            blank_run += 1
            if blank_run > MAX_EMPTY_ROWS and header is not None:
                break
            continue
        blank_run = 0
        if header is None:
            while cells and not cells[-1]:  # a sheet's used range runs past its header
                cells.pop()
            header = [c or f"Column {i + 1}" for i, c in enumerate(cells)]
            lines.append("Columns: " + " | ".join(header))
            continue
        pairs = [f"{header[i] if i < len(header) else f'Column {i + 1}'}: {c}"
                 for i, c in enumerate(cells) if c]
        lines.append(f"Row {number}: " + " | ".join(pairs))
    return lines


def read_pptx(path: Path) -> list[tuple[int | None, str]]:
    """One unit per slide (its number): titles, text boxes, tables as rows, then notes."""
    from pptx import Presentation

    units = []
    for number, slide in enumerate(Presentation(str(path)).slides, 1):
        parts = []
        for shape in slide.shapes:
            if shape.has_text_frame and shape.text_frame.text.strip():
                parts.append(shape.text_frame.text.strip())
            if getattr(shape, "has_table", False) and shape.has_table:
                rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
                parts.append("\n".join(row_lines(rows)))
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame.text.strip():
            parts.append("Notes: " + slide.notes_slide.notes_text_frame.text.strip())
        units.append((number, "\n\n".join(parts)))
    return units


def read_xlsx(path: Path) -> list[tuple[int | None, str]]:
    """One unit per sheet (its number): 'Sheet: name', then its rows as lines."""
    from openpyxl import load_workbook

    book = load_workbook(str(path), read_only=True, data_only=True)
    try:
        units = []
        for number, sheet in enumerate(book.worksheets, 1):
            lines = row_lines(sheet.iter_rows(values_only=True))
            if lines:
                units.append((number, f"Sheet: {sheet.title}\n" + "\n".join(lines)))
        return units
    finally:
        book.close()


def read_csv(text: str) -> list[tuple[int | None, str]]:
    """The rows of a CSV text (its delimiter sniffed) as lines."""
    sample = text[:8192]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    return [(None, "\n".join(row_lines(csv.reader(io.StringIO(text), dialect))))]


def read_epub(path: Path) -> list[tuple[int | None, str]]:
    """One unit per chapter (document in reading order), its visible text."""
    import ebooklib
    from bs4 import BeautifulSoup
    from ebooklib import epub

    book = epub.read_epub(str(path), options={"ignore_ncx": True})
    units = []
    spine = [book.get_item_with_id(item_id) for item_id, _ in book.spine]
    items = [i for i in spine if i is not None and i.get_type() == ebooklib.ITEM_DOCUMENT]
    for number, item in enumerate(items, 1):
        soup = BeautifulSoup(item.get_content(), "html.parser")
        for tag in soup(["script", "style", "head"]):
            tag.decompose()
        lines = (line.strip() for line in soup.get_text("\n").splitlines())
        units.append((number, "\n".join(line for line in lines if line)))
    return units


def read_odt(path: Path) -> list[tuple[int | None, str]]:
    """Headings and paragraphs of an OpenDocument text, one per line."""
    from odf import teletype
    from odf.opendocument import load

    document = load(str(path))
    # walked in document order (getElementsByType would group headings apart)
    parts = [teletype.extractText(n).strip() for n in _walk(document.text)
             if n.qname[1] in ("h", "p")]
    return [(None, "\n\n".join(p for p in parts if p))]


def _walk(node):
    for child in node.childNodes:
        if child.nodeType == child.ELEMENT_NODE:
            yield child
            if child.qname[1] not in ("h", "p"):
                yield from _walk(child)


def read_rtf(data: str) -> list[tuple[int | None, str]]:
    """The text of an RTF document."""
    from striprtf.striprtf import rtf_to_text

    return [(None, rtf_to_text(data, errors="ignore"))]
