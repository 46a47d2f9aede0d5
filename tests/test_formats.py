"""Slides, spreadsheets, CSV, e-books, OpenDocument and RTF, each file made by its own
library here: read with their positions (slide, sheet and row, chapter), answered with a
citation that carries them, and broken ones reported in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus import LoadError, load_file
from tests.files import make_table_pdf

REGIONS = ["North", "South", "East", "West"]


def revenue_rows() -> list[tuple]:
    """25 years of made-up revenue: the answer to one question is one cell."""
    return [(year, f"{1.1 + 0.3 * (year - 1997):.1f} million euros", REGIONS[year % 4])
            for year in range(1997, 2022)]


def make_pptx(path: Path) -> Path:
    from pptx import Presentation

    deck = Presentation()
    for title, body, notes in (
            ("Harbour review", "Overview of the year.", ""),
            ("Lighthouse", "The lighthouse keeper retired in 1998.",
             "The new keeper is called Ana Lobo."),
            ("Outlook", "Dredging starts next spring.", "")):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    deck.save(path)
    return path


def make_xlsx(path: Path) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    intro = book.active
    intro.title = "About"
    intro.append(["Note"])
    intro.append(["Figures from the harbour office."])
    sheet = book.create_sheet("Revenue")
    sheet.append(["Year", "Revenue", "Region"])
    for row in revenue_rows():
        sheet.append(list(row))
    book.save(path)
    return path


def make_epub(path: Path) -> Path:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("sourcechat-test")
    book.set_title("The Quuxville Chronicle")
    book.set_language("en")
    chapters = []
    for i, text in enumerate(["The town was founded by fishermen.",
                              "The great storm of 1911 destroyed the old pier.",
                              "A new pier opened in 1925."], 1):
        chapter = epub.EpubHtml(title=f"Chapter {i}", file_name=f"ch{i}.xhtml", lang="en")
        chapter.content = f"<html><body><h1>Chapter {i}</h1><p>{text}</p></body></html>"
        book.add_item(chapter)
        chapters.append(chapter)
    book.toc = chapters
    book.spine = chapters
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    epub.write_epub(str(path), book)
    return path


def make_odt(path: Path) -> Path:
    from odf.opendocument import OpenDocumentText
    from odf.text import H, P

    document = OpenDocumentText()
    document.text.addElement(H(outlinelevel=1, text="Ferry timetable"))
    document.text.addElement(P(text="The first ferry to Rottnest leaves at 7:15."))
    document.text.addElement(P(text="The last ferry returns at 18:40."))
    document.save(str(path))
    return path


def make_rtf(path: Path) -> Path:
    path.write_text(r"{\rtf1\ansi{\fonttbl\f0\fswiss Helvetica;}\f0\pard "
                    r"The museum opens at {\b ten o'clock} on Sundays.\par "
                    r"Entry is free for children.\par}")
    return path


def make_csv(path: Path) -> Path:
    path.write_text("Year;Revenue;Region\n" + "".join(f"{y};{r};{g}\n"
                                                       for y, r, g in revenue_rows()))
    return path


def make_docx_table(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_paragraph("Revenue of the harbour office, by year.")
    table = document.add_table(rows=1, cols=3)
    for cell, name in zip(table.rows[0].cells, ("Year", "Revenue", "Region"), strict=True):
        cell.text = name
    for row in revenue_rows():
        for cell, value in zip(table.add_row().cells, row, strict=True):
            cell.text = str(value)
    document.add_paragraph("Figures are audited every spring.")
    document.save(path)
    return path


def make_html_table(path: Path) -> Path:
    rows = "".join(f"<tr><td>{y}</td><td>{r}</td><td>{g}</td></tr>"
                   for y, r, g in revenue_rows())
    path.write_text("<html><body><h1>Revenue</h1><table><thead><tr><th>Year</th>"
                    f"<th>Revenue</th><th>Region</th></tr></thead><tbody>{rows}</tbody></table>"
                    "<p>Source: the harbour office.</p></body></html>")
    return path


def make_pdf_table(path: Path) -> Path:
    path.write_bytes(make_table_pdf("Harbour revenue by year", ["Year", "Revenue", "Region"],
                                    [[str(c) for c in row] for row in revenue_rows()],
                                    "Figures are audited every spring."))
    return path


def test_tables_in_docx_html_and_pdf_keep_rows_and_headers(tmp_path):
    for doc in (load_file(make_docx_table(tmp_path / "table.docx"))[0],
                load_file(make_html_table(tmp_path / "table.html"))[0],
                load_file(make_pdf_table(tmp_path / "table.pdf"))[0]):
        lines = doc.page_content.splitlines()
        assert "Columns: Year | Revenue | Region" in lines
        assert "Row 2: Year: 1997 | Revenue: 1.1 million euros | Region: South" in lines
        assert "Row 26: Year: 2021 | Revenue: 8.3 million euros | Region: South" in lines
        assert sum(line.startswith("Row ") for line in lines) == 25
        assert lines[-1] in ("Figures are audited every spring.", "Source: the harbour office.")
    assert load_file(tmp_path / "table.pdf")[0].page_content.startswith(
        "Harbour revenue by year\nColumns: Year | Revenue | Region\nRow 2: Year: 1997")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("formats")
    return {"pdf": make_pdf_table(root / "revenue-table.pdf"),
            "pptx": make_pptx(root / "review.pptx"), "xlsx": make_xlsx(root / "figures.xlsx"),
            "epub": make_epub(root / "chronicle.epub"), "odt": make_odt(root / "ferry.odt"),
            "rtf": make_rtf(root / "museum.rtf"), "csv": make_csv(root / "revenue.csv")}


def test_each_format_keeps_its_positions(files):
    slides = load_file(files["pptx"])
    assert [d.metadata["page"] for d in slides] == [1, 2, 3]
    assert slides[1].page_content == ("Lighthouse\n\nThe lighthouse keeper retired in 1998.\n\n"
                                      "Notes: The new keeper is called Ana Lobo.")
    sheets = load_file(files["xlsx"])
    assert [d.metadata["page"] for d in sheets] == [1, 2]
    lines = sheets[1].page_content.splitlines()
    assert lines[:2] == ["Sheet: Revenue", "Columns: Year | Revenue | Region"]
    assert "Row 26: Year: 2021 | Revenue: 8.3 million euros | Region: South" in lines
    assert len(lines) == 27  # every one of the 25 rows, each with its headers
    chapters = load_file(files["epub"])
    assert [(d.metadata["page"], d.page_content.splitlines()[-1]) for d in chapters] == [
        (1, "The town was founded by fishermen."),
        (2, "The great storm of 1911 destroyed the old pier."), (3, "A new pier opened in 1925.")]
    assert load_file(files["odt"])[0].page_content == (
        "Ferry timetable\n\nThe first ferry to Rottnest leaves at 7:15.\n\n"
        "The last ferry returns at 18:40.")
    assert "The museum opens at ten o'clock on Sundays." in load_file(files["rtf"])[0].page_content
    csv_lines = load_file(files["csv"])[0].page_content.splitlines()
    assert csv_lines[0] == "Columns: Year | Revenue | Region"
    assert csv_lines[-1] == "Row 26: Year: 2021 | Revenue: 8.3 million euros | Region: South"


@pytest.mark.parametrize("suffix", [".pptx", ".xlsx", ".epub", ".odt"])
def test_corrupt_and_empty_office_files_are_one_line(tmp_path, suffix):
    broken = tmp_path / f"broken{suffix}"
    broken.write_bytes(b"PK\x03\x04 this is not a real archive" * 10)
    with pytest.raises(LoadError, match=f"corrupt, unreadable or password-protected "
                                        f"\\{suffix} file"):
        load_file(broken)


def test_files_that_are_not_what_their_name_says_are_one_line(tmp_path):
    import struct
    import zlib

    (tmp_path / "notzip.docx").write_bytes(b"this is not a zip archive at all" * 10)
    with pytest.raises(LoadError, match=r"corrupt or unreadable \.docx"):
        load_file(tmp_path / "notzip.docx")

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    bomb = tmp_path / "bomb.png"  # a tiny file claiming 20000 x 20000 pixels
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000,
                                                                       8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b""))
    from corpus.loaders import check_image

    with pytest.raises(LoadError, match="corrupt or unreadable image"):
        check_image(bomb)


def test_empty_and_huge_blank_spreadsheets(tmp_path):
    from openpyxl import Workbook

    empty = tmp_path / "empty.xlsx"
    Workbook().save(empty)
    with pytest.raises(LoadError, match="no text found"):
        load_file(empty)
    sparse = tmp_path / "sparse.xlsx"
    book = Workbook()
    sheet = book.active
    sheet.append(["Item", "Count"])
    sheet.append(["Anchors", 12])
    sheet.cell(row=1000, column=1000, value=" ")  # a million cells, all blank
    book.save(sparse)
    (doc,) = load_file(sparse)
    assert doc.page_content == ("Sheet: Sheet\nColumns: Item | Count\n"
                                "Row 2: Item: Anchors | Count: 12")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(LoadError, match="no text found"):
        load_file(tmp_path / "empty.csv")


@pytest.mark.slow
def test_each_format_is_answered_with_a_citation_to_its_place(files, tmp_path):
    from assistant import Settings, build_assistant

    a = build_assistant(Settings(data_dir=tmp_path / "data", llm="extractive"))
    report = a.ingest([str(p) for p in files.values()], progress=False)
    assert report.ok and len(report.indexed) == 7
    for question, file, page, cited in (
            ("What is the new keeper called?", "pptx", 2, "Ana Lobo"),
            ("What was the revenue in 2021?", "xlsx", 2,
             "Row 26: Year: 2021 | Revenue: 8.3 million euros"),
            ("What was the revenue in 2004?", "pdf", 1,
             "Row 9: Year: 2004 | Revenue: 3.2 million euros"),
            ("When did the great storm destroy the old pier?", "epub", 2, "1911"),
            ("When does the first ferry to Rottnest leave?", "odt", None, "7:15"),
            ("When does the museum open on Sundays?", "rtf", None, "ten o'clock")):
        answer = a.ask(question, sources=[str(files[file])])
        assert answer.found, question
        c = answer.citations[0]
        assert (c.passage.source, c.passage.page) == (str(files[file]), page), question
        quoted = " ".join(c.passage.text[s:e] for s, e in c.spans) or c.passage.text
        assert cited in quoted, (question, quoted)
    # a table question across both tables: the row is cited, from the sheet or the CSV
    answer = a.ask("What was the revenue in 2019?")
    assert answer.found and "Row 24: Year: 2019 | Revenue: 7.7 million euros" in answer.text


def _good_files(files, root: Path) -> dict[str, Path]:
    """One good file of every readable type, made by its library."""
    import docx
    from PIL import Image

    made = {f".{k}": v for k, v in files.items()}
    (root / "a.txt").write_text("The ferry leaves at 9:30 every morning.")
    (root / "a.md").write_text("# Ferry\n\nThe ferry leaves at 9:30 every morning.")
    (root / "a.html").write_text("<html><body><p>The ferry leaves at 9:30.</p></body></html>")
    d = docx.Document()
    d.add_paragraph("The ferry leaves at 9:30 every morning.")
    d.save(root / "a.docx")
    Image.new("RGB", (200, 80), "white").save(root / "a.png")
    Image.new("RGB", (200, 80), "white").save(root / "a.jpg")
    Image.new("RGB", (200, 80), "white").save(root / "a.tiff")
    return {**made, **{p.suffix: p for p in root.iterdir() if p.name.startswith("a.")}}


@pytest.mark.slow
def test_every_format_broken_every_way_is_one_line(files, tmp_path):
    """Not the format at all, truncated, empty and (PDF) encrypted: each file is one
    LoadError of one line, or read; never another exception."""
    from pypdf import PdfReader, PdfWriter

    good = _good_files(files, tmp_path)
    cases = []
    for suffix, path in good.items():
        data = path.read_bytes()
        for kind, body in (("garbage", b"\x00\x01 not what the name says \xff" * 40),
                           ("truncated", data[:len(data) // 2]), ("empty", b"")):
            broken = tmp_path / f"{kind}{suffix}"
            broken.write_bytes(body)
            cases.append(broken)
    writer = PdfWriter(clone_from=PdfReader(good[".pdf"]))
    writer.encrypt("secret")
    with open(tmp_path / "encrypted.pdf", "wb") as f:
        writer.write(f)
    cases.append(tmp_path / "encrypted.pdf")
    assert len(cases) >= 40
    failed = 0
    for case in cases:
        try:
            load_file(case)
        except LoadError as err:
            failed += 1
            assert "\n" not in str(err) and err.reason, case
    assert failed >= len(cases) - 6  # a truncated text file may still be readable text
    with pytest.raises(LoadError, match="password"):
        load_file(tmp_path / "encrypted.pdf")
