"""The document viewer (ui/viewer.py): a citation opens its whole document, highlighted;
PDFs show the cited page rendered with the cited words marked."""

from __future__ import annotations

import base64
import io
import re

import pytest

from index.passages import Passage, reassemble
from tests.files import make_pdf
from ui.viewer import open_view, parse_ref, view_ref

pytestmark = pytest.mark.slow


def test_refs_round_trip_and_malformed_ones_are_refused():
    p = Passage("x" * 50, "/d/a.txt", None, 100, 150, 0.5, "ab12cd34ef56", "a.txt")
    ref = view_ref(p, ((3, 9), (20, 30)))
    assert ref == "#view-ab12cd34ef56_3-9_20-30"
    assert parse_ref(ref) == ("ab12cd34ef56", [(3, 9), (20, 30)])
    assert parse_ref("view-ab12cd34ef56") == ("ab12cd34ef56", [])
    for bad in ("", "#view-", "#view-../../etc/passwd", "#view-ab12cd34ef56_9", "javascript:1",
                "#view-ab12cd34ef56_1-" + "9" * 5000, "#view-ab12cd34ef56" + "_1-2" * 21):
        assert parse_ref(bad) is None


def test_reassemble_rebuilds_each_page_from_overlapping_chunks():
    text = "Alpha beta gamma. Delta epsilon zeta. Eta theta."
    chunks = [Passage(text[a:b], "/d/a.pdf", 2, a, b, 0, f"c{a}") for a, b in
              ((0, 17), (11, 36), (38, 48))]
    other = Passage("Page one.", "/d/a.pdf", 1, 0, 9, 0, "c1")
    assert reassemble([*chunks, other]) == [(1, "Page one."), (2, text[:36] + "  " + text[38:])]


@pytest.fixture(scope="module")
def viewer_assistant(tmp_path_factory):
    from assistant import Settings, build_assistant

    root = tmp_path_factory.mktemp("viewer")
    docs = root / "docs"
    docs.mkdir()
    (docs / "notes.txt").write_text("Opening remarks about the island.\n\n" + "Filler line. " * 300
                                    + "\n\nThe lighthouse was built in 1887 by the harbour "
                                    "board.\n\nClosing words.\n")
    (docs / "guide.md").write_text("# Guide\n\nThe ferry leaves at noon from pier 4.\n")
    (docs / "page.html").write_text("<html><body><h1>Zoo</h1><p>The zoo feeds its otters "
                                    "at three o'clock.</p><script>alert(1)</script></body></html>")
    import docx

    d = docx.Document()
    d.add_paragraph("Minutes of the meeting.")
    d.add_paragraph("The committee approved the new budget of 40,000 euros.")
    d.save(docs / "minutes.docx")
    (docs / "atlas.pdf").write_bytes(make_pdf([
        "Intro page about marsupials in general.",
        "Quokkas live on Rottnest Island near Perth.", "The end."]))
    a = build_assistant(Settings(data_dir=root / "data", llm="extractive"))
    a.ingest([str(docs)], progress=False)
    return a


def test_a_txt_citation_opens_the_whole_document_with_the_sentence_marked(viewer_assistant):
    answer = viewer_assistant.ask("When was the lighthouse built?")
    c = answer.citations[0]
    view = open_view(viewer_assistant.store, view_ref(c.passage, c.spans))
    marked = re.findall(r"<mark[^>]*>(.*?)</mark>", view.html)
    assert marked and "built in 1887" in marked[0]
    assert '<mark id="sc-focus">' in view.html  # the scroll target
    assert "Opening remarks" in view.html and "Closing words." in view.html  # whole document
    assert "notes.txt</b> · characters" in view.html and view.download.name == "notes.txt"
    assert "<img" not in view.html


def test_a_pdf_citation_shows_its_page_image_with_the_words_marked(viewer_assistant):
    from PIL import Image

    answer = viewer_assistant.ask("Where do quokkas live?")
    c = answer.citations[0]
    assert c.passage.page == 2
    view = open_view(viewer_assistant.store, view_ref(c.passage, c.spans))
    assert "atlas.pdf</b> · page 2 of 3" in view.html
    assert re.search(r"<mark[^>]*>Quokkas live on Rottnest Island", view.html)
    data = re.search(r'<img class="sc-view-image" alt="page 2 of atlas.pdf" '
                     r'src="data:image/png;base64,([^"]+)">', view.html).group(1)
    import numpy as np

    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")).astype(int)
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    yellow = int(((r > 200) & (g > 180) & (b < 150)).sum())
    assert yellow > 500  # the cited words are marked on the rendered page
    whole = open_view(viewer_assistant.store, f"#view-{c.passage.id}")  # no spans: the chunk
    assert "<mark" in whole.html


@pytest.mark.parametrize("question,name,cited", [
    ("When does the ferry leave?", "guide.md", "ferry leaves at noon"),
    ("When are the otters fed?", "page.html", "feeds its otters"),
    ("What budget did the committee approve?", "minutes.docx", "budget of 40,000 euros"),
])
def test_every_format_opens_in_the_viewer(viewer_assistant, question, name, cited):
    answer = viewer_assistant.ask(question)
    c = answer.citations[0]
    assert c.passage.name == name
    view = open_view(viewer_assistant.store, view_ref(c.passage, c.spans))
    assert f"{name}</b> · characters" in view.html
    assert cited in re.search(r'<mark id="sc-focus">(.*?)</mark>', view.html).group(1)
    assert "<script" not in view.html and view.download.name == name


def test_a_stale_or_bad_link_says_so(viewer_assistant):
    assert "no longer indexed" in open_view(viewer_assistant.store, "#view-" + "0" * 32).html
    assert "does not name a passage" in open_view(viewer_assistant.store, "#view-<script>").html
