"""Test files made on the fly: a minimal real PDF, and friends."""

from __future__ import annotations

from pathlib import Path

FERRY = "The Quokka Island ferry leaves at 9:30 every morning."  # a .docx's one fact


def make_docx(path: Path, *paragraphs: str) -> Path:
    """A real .docx (python-docx) at `path` holding the given paragraphs."""
    import docx

    d = docx.Document()
    for text in paragraphs:
        d.add_paragraph(text)
    d.save(path)
    return path


def make_pdf(pages: list[str]) -> bytes:
    """A valid PDF whose pages hold the given single-line texts (Helvetica)."""
    objects: list[bytes] = []
    n_pages = len(pages)
    font_id = 3 + 2 * n_pages
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    for i, text in enumerate(pages):
        content_id = 4 + 2 * i
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode())
        stream = f"BT /F1 12 Tf 72 720 Td ({_pdf_text(text)}) Tj ET".encode()
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    return _assemble(objects)


def make_table_pdf(title: str, header: list[str], rows: list[list[str]], after: str,
                   ruled: bool = True) -> bytes:
    """A one-page PDF: a title line, a table (one text per cell; grid lines when `ruled`),
    and a line after it; Helvetica 9 pt, 14 pt rows (a page holds about 45 rows)."""
    col_w, row_h, left, top = 150, 14, 60, 740
    ops = [f"BT /F1 12 Tf {left} {top + 20} Td ({_pdf_text(title)}) Tj ET"]
    table = [header, *rows]
    n_cols = len(header)
    bottom = top - row_h * len(table)
    for i in range(len(table) + 1 if ruled else 0):  # horizontal rules
        y = top - row_h * i
        ops.append(f"{left} {y} m {left + col_w * n_cols} {y} l S")
    for j in range(n_cols + 1 if ruled else 0):  # vertical rules
        x = left + col_w * j
        ops.append(f"{x} {top} m {x} {bottom} l S")
    for i, row in enumerate(table):
        for j, cell in enumerate(row):
            ops.append(f"BT /F1 9 Tf {left + col_w * j + 4} {top - row_h * (i + 1) + 4} Td "
                       f"({_pdf_text(cell)}) Tj ET")
    ops.append(f"BT /F1 12 Tf {left} {bottom - 24} Td ({_pdf_text(after)}) Tj ET")
    stream = "\n".join(ops).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return _assemble(objects)


def _pdf_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _assemble(objects: list[bytes]) -> bytes:
    """A PDF file from its numbered objects (1 is the catalog): header, bodies, xref."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)
