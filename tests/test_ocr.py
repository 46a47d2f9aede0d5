"""Scanned pages and images read by OCR (rapidocr-onnxruntime, offline): a PDF made in
the test from rendered text (no text layer) is answerable with a citation to its page;
the ingest report names the pages OCR read and the pages with no text; OCR off, an image
without text and a corrupt image are one line each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from corpus import LoadError, PageNotes, PageReader, load_file

pytestmark = pytest.mark.slow


def _page(lines: list[str]):
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (1240, 1754), "white")  # A4 at 150 dpi
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=34)
    for i, line in enumerate(lines):
        # Pillow's built-in font sets words closer than print does: PP-OCR then reads
        # "Thenewcrane"; two spaces give a printed page's word gaps
        draw.text((100, 150 + 60 * i), line.replace(" ", "  "), fill="black", font=font)
    return image


def make_scan(path: Path) -> Path:
    """A 3-page PDF of images only (page 3 blank): what a scanner makes."""
    from PIL import Image

    first = _page(["Annual report of the Quuxville harbour.",
                   "The harbour handled 812 ships in 2021."])
    second = _page(["The new crane was delivered in March 2022.",
                    "It lifts loads of up to 45 tonnes."])
    blank = Image.new("RGB", (1240, 1754), "white")
    first.save(path, save_all=True, append_images=[second, blank], resolution=150)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("scans")
    make_scan(root / "harbour-scan.pdf")
    _page(["The ferry to Rottnest leaves at 9:30 every morning."]).save(root / "ferry.png")
    _page([]).save(root / "blank.png")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


def test_a_scanned_pdf_has_no_text_layer_until_ocr_reads_it(files):
    with pytest.raises(LoadError, match="scanned PDF.*OCR is off"):
        load_file(files / "harbour-scan.pdf")
    notes = PageNotes()
    docs = load_file(files / "harbour-scan.pdf", PageReader(), notes)
    assert [d.metadata["page"] for d in docs] == [1, 2]
    assert "812 ships in 2021" in docs[0].page_content
    assert "45 tonnes" in docs[1].page_content
    assert (notes.read_by_ocr, notes.no_text) == ([1, 2], [3])
    assert notes.summary() == "pages 1-2 read by OCR; page 3 has no text"


def test_images_are_read_and_bad_ones_are_one_line(files):
    docs = load_file(files / "ferry.png", PageReader())
    assert "leaves at 9:30" in docs[0].page_content and docs[0].metadata["page"] is None
    with pytest.raises(LoadError, match="needs OCR, and OCR is off"):
        load_file(files / "ferry.png")
    with pytest.raises(LoadError, match=r"no text found \(not even by OCR\)"):
        load_file(files / "blank.png", PageReader())
    with pytest.raises(LoadError, match="corrupt or unreadable image"):
        load_file(files / "broken.jpg", PageReader())


def test_a_scan_is_answered_with_a_citation_to_its_page(files, tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "ui", "--data-dir", str(tmp_path / "data"), "ingest", "--json",
         str(files / "harbour-scan.pdf"), str(files / "ferry.png"), str(files / "blank.png")],
        capture_output=True, text=True)
    assert out.returncode == 2, out.stderr  # blank.png failed: the rest is indexed
    report = json.loads(out.stdout)
    scan = str(files / "harbour-scan.pdf")
    assert report["pages"][scan] == {"ocr": [1, 2], "empty": [3],
                                     "summary": "pages 1-2 read by OCR; page 3 has no text"}
    assert [e["path"] for e in report["errors"]] == [str(files / "blank.png")]
    ask = subprocess.run(
        [sys.executable, "-m", "ui", "--data-dir", str(tmp_path / "data"), "ask", "--json",
         "When was the new crane delivered?"], capture_output=True, text=True, check=True)
    answer = json.loads(ask.stdout)
    assert answer["status"] == "answered" and "March 2022" in answer["answer"]
    assert (answer["citations"][0]["source"], answer["citations"][0]["page"]) == (scan, 2)
    off = subprocess.run(
        [sys.executable, "-m", "ui", "--data-dir", str(tmp_path / "off"), "ingest",
         str(files / "harbour-scan.pdf")], capture_output=True, text=True,
        env={**os.environ, "SOURCECHAT_OCR": "false"})
    assert off.returncode == 2 and "OCR is off" in off.stderr


def test_the_web_upload_accepts_scans_and_says_what_ocr_read(files, tmp_path):
    from assistant import Settings, build_assistant
    from ui.app import Handlers

    h = Handlers(build_assistant(Settings(data_dir=tmp_path / "ui", llm="extractive")))
    shown = []
    status, *_ = h.upload([str(files / "harbour-scan.pdf"), str(files / "broken.jpg")],
                          progress=lambda *a, **k: shown.append(k.get("desc", "")))
    assert "Reading harbour-scan.pdf: OCR page 2 (2/3)" in shown  # progress page by page
    lines = status.split("\n\n")
    assert "OK · harbour-scan.pdf: added." in lines
    assert any(line.startswith("Not added · broken.jpg: corrupt or unreadable image")
               for line in lines)
    assert "Note · harbour-scan.pdf: pages 1-2 read by OCR; page 3 has no text." in lines
