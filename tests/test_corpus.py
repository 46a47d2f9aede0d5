"""Loading and chunking: offsets, ids, formats, bad files."""

from __future__ import annotations

import codecs

import pytest

from corpus import SAMPLE_DIR, LoadError, LoadReport, chunk_documents, load_documents, load_file
from corpus.text import sentences
from tests.files import make_pdf


def test_sample_chunks_have_exact_offsets_and_stable_unique_ids():
    docs = list(load_documents([str(SAMPLE_DIR)]))
    assert len(docs) == 1
    text = docs[0].page_content
    chunks = list(chunk_documents(docs, chunk_size=300, chunk_overlap=60))
    assert len(chunks) > 5
    for c in chunks:
        m = c.metadata
        assert text[m["start"]:m["end"]] == c.page_content
        assert m["source"].endswith("000_4c4ce3bc77b71a51.txt")
        assert m["page"] is None
    ids = [c.metadata["id"] for c in chunks]
    assert len(set(ids)) == len(ids)
    again = [c.metadata["id"] for c in chunk_documents(docs, chunk_size=300, chunk_overlap=60)]
    assert again == ids


def test_repeated_text_gets_distinct_offsets(tmp_path):
    para = "The same sentence appears again and again in this file."
    (tmp_path / "rep.txt").write_text("\n\n".join([para] * 6))
    docs = load_file(tmp_path / "rep.txt")
    chunks = list(chunk_documents(docs, chunk_size=120, chunk_overlap=0))
    starts = [c.metadata["start"] for c in chunks]
    assert starts == sorted(set(starts))
    for c in chunks:
        assert docs[0].page_content[c.metadata["start"]:c.metadata["end"]] == c.page_content
    assert len({c.metadata["id"] for c in chunks}) == len(chunks)


def test_pdf_pages_keep_page_numbers_and_offsets(tmp_path):
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(make_pdf(["First page about apples.", "Second page about pears."]))
    docs = load_file(pdf)
    assert [d.metadata["page"] for d in docs] == [1, 2]
    assert "pears" in docs[1].page_content
    chunk = next(chunk_documents(docs[1:], chunk_size=300, chunk_overlap=60))
    assert chunk.metadata["page"] == 2
    assert docs[1].page_content[chunk.metadata["start"]:chunk.metadata["end"]] == chunk.page_content


def test_html_keeps_visible_text_only(tmp_path):
    page = tmp_path / "p.html"
    page.write_text("<html><head><title>Fruit facts</title><style>body{color:red}</style>"
                    "</head><body><script>var secret=1;</script><p>Kiwis are green.</p></body>"
                    "</html>")
    (doc,) = load_file(page)
    assert doc.page_content == "Kiwis are green."
    assert doc.metadata["title"] == "Fruit facts"


@pytest.mark.parametrize("encoding,bom", [("latin-1", b""), ("utf-16-le", codecs.BOM_UTF16_LE),
                                          ("utf-8", codecs.BOM_UTF8)])
def test_text_encodings(tmp_path, encoding, bom):
    f = tmp_path / "enc.txt"
    f.write_bytes(bom + "Café in São Paulo".encode(encoding))
    (doc,) = load_file(f)
    assert doc.page_content == "Café in São Paulo"


def test_bad_files_are_reported_and_the_rest_loads(tmp_path):
    (tmp_path / "good.md").write_text("# Title\n\nGood text here.")
    (tmp_path / "empty.txt").write_text("   \n")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02garbage" * 50)
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")  # an image, and OCR is off here
    (tmp_path / "drawing.xcf").write_bytes(b"gimp")  # unsupported in a folder: skipped silently
    report = LoadReport()
    docs = list(load_documents([str(tmp_path), str(tmp_path / "missing.txt")], report))
    assert [d.metadata["title"] for d in docs] == ["Title"]
    reasons = {e.path.split("/")[-1]: e.reason for e in report.errors}
    assert set(reasons) == {"empty.txt", "binary.txt", "broken.pdf", "missing.txt", "image.png"}
    assert "needs OCR, and OCR is off" in reasons["image.png"]
    assert "no text" in reasons["empty.txt"]
    assert "binary" in reasons["binary.txt"]
    assert "PDF" in reasons["broken.pdf"]
    assert "no such file" in reasons["missing.txt"]


def test_unsupported_file_named_explicitly_says_why(tmp_path):
    f = tmp_path / "data.xyz"
    f.write_text("hello")
    report = LoadReport()
    assert list(load_documents([str(f)], report)) == []
    assert "unsupported file type '.xyz'" in report.errors[0].reason


def test_load_file_raises_load_error_with_path(tmp_path):
    f = tmp_path / "empty.md"
    f.write_text("")
    with pytest.raises(LoadError) as info:
        load_file(f)
    assert str(f) in str(info.value)


def test_sentences_keep_offsets():
    text = 'He said "yes." Then she left!\n\nNew para? Yes. Numbers like 3.5 stay.'
    got = sentences(text)
    assert [s.text for s in got] == ['He said "yes."', "Then she left!", "New para?", "Yes.",
                                     "Numbers like 3.5 stay."]
    assert all(text[s.start:s.end] == s.text for s in got)


def test_an_unreadable_pdf_is_reported_as_unreadable_not_corrupt(tmp_path, monkeypatch):
    import pypdf

    pdf = tmp_path / "locked-down.pdf"
    pdf.write_bytes(make_pdf(["Kiwis grow on vines."]))

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(pdf))

    monkeypatch.setattr(pypdf, "PdfReader", denied)  # what open() raises for a 0600 file
    with pytest.raises(LoadError) as err:
        load_file(pdf)
    assert err.value.reason == "permission denied (check the file's permissions)"
