"""OCR throughput and memory: a scanned PDF (pages of rendered SQuAD text, images only,
no text layer) read by `corpus.load_file` with the OCR reader, on this machine's cores.

The scan is made here: each page is SQuAD dev text drawn with Pillow at 150 dpi
(two spaces between words, as print spaces them), saved as an image-only PDF. Prints
pages/s, seconds per page, how many pages OCR read, the share of the text's words
recovered on a sample of pages, and the process's peak RSS (the target: under 1.5 GB
for a 100-page scan; the scan is made in a child process, so only reading counts).

    .venv/bin/python bench/ocr_throughput.py [--pages 100]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import resource
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
EVAL = ROOT / "tests" / "data" / "squad-dev-public.json"
LINES_PER_PAGE = 28


def page_texts(n: int) -> list[list[str]]:
    """n pages of SQuAD paragraphs, wrapped to a page's width."""
    data = json.loads(EVAL.read_text())["data"]
    words = " ".join(p["context"] for a in data for p in a["paragraphs"]).split()
    lines = textwrap.wrap(" ".join(words), 52)
    return [lines[i * LINES_PER_PAGE:(i + 1) * LINES_PER_PAGE] for i in range(n)]


def make_scan(path: Path, pages: list[list[str]]) -> None:
    """An image-only PDF, one A4 page at 150 dpi per entry."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=30)
    images = []
    for lines in pages:
        image = Image.new("L", (1240, 1754), 255)
        draw = ImageDraw.Draw(image)
        for i, line in enumerate(lines):
            draw.text((90, 110 + 56 * i), line.replace(" ", "  "), fill=0, font=font)
        images.append(image)
    images[0].save(path, save_all=True, append_images=images[1:], resolution=150)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=100)
    args = ap.parse_args()
    from PIL import Image

    from corpus import PageNotes, PageReader, load_file

    pages = page_texts(args.pages)
    with tempfile.TemporaryDirectory() as tmp:
        scan = Path(tmp) / "scan.pdf"
        # made in a child process: its page images must not count in this one's peak
        child = multiprocessing.get_context("spawn").Process(target=make_scan,
                                                             args=(scan, pages))
        child.start()
        child.join()
        reader = PageReader()
        reader.read(Image.new("RGB", (64, 64), "white"))  # the engine loads once, first
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        notes = PageNotes()
        t0 = time.perf_counter()
        docs = load_file(scan, reader, notes)
        seconds = time.perf_counter() - t0
    recovered = []
    for doc in docs[:10]:
        truth = set(re.findall(r"\w+", " ".join(pages[doc.metadata["page"] - 1]).lower()))
        got = set(re.findall(r"\w+", doc.page_content.lower()))
        recovered.append(len(truth & got) / max(len(truth), 1))
    print(json.dumps({
        "pages": args.pages, "read_by_ocr": len(notes.read_by_ocr),
        "no_text": len(notes.no_text), "seconds": round(seconds, 1),
        "pages_per_second": round(args.pages / seconds, 3),
        "seconds_per_page": round(seconds / args.pages, 2),
        "words_recovered_first_10_pages": round(sum(recovered) / max(len(recovered), 1), 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "rss_after_engine_load_mb": round(rss_before)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
