"""Reading text from pictures of pages: scanned PDF pages and image files, offline.

The engine is RapidOCR on onnxruntime (`rapidocr-onnxruntime`, whose wheel carries its
PP-OCR detection and recognition models: nothing is downloaded). It loads on the first
page that needs it, once per process. A page is rendered (pypdfium2) and read one at a
time, so memory stays flat however many pages a scan has.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import numpy as np

RENDER_SCALE = 200 / 72   # PDF points -> pixels: 200 dpi, where PP-OCR keeps word gaps
MIN_PAGE_CHARS = 20       # a PDF page whose text layer has fewer characters is read by OCR
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")

_ENGINE = None
_ENGINE_LOCK = threading.Lock()
# PDFium is not thread-safe, even across documents: every pypdfium2 call in the process
# (OCR renders here, the viewer's page images) holds this lock
PDFIUM_LOCK = threading.RLock()
MAX_PIXELS = 40_000_000   # a page (or image) larger than this is rendered smaller


class OCRUnavailable(Exception):
    """The OCR engine is not installed (the message says what to do)."""


def _engine():
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError:
                raise OCRUnavailable(
                    "reading it needs OCR, and rapidocr-onnxruntime is not installed (`pip "
                    "install --no-deps rapidocr-onnxruntime==1.4.4`, or SOURCECHAT_OCR=false)"
                ) from None
            _ENGINE = RapidOCR()
        return _ENGINE


def render_scale(size: tuple[float, float], scale: float = RENDER_SCALE) -> float:
    """`scale`, lowered so that a page of `size` points renders to at most MAX_PIXELS."""
    pixels = size[0] * size[1] * scale * scale
    return scale if pixels <= MAX_PIXELS else scale * (MAX_PIXELS / pixels) ** 0.5


@cache
def _libc():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def release_memory() -> None:
    """Hand freed memory back to the system after a page (glibc keeps the freed buffers of
    page images and OCR tensors otherwise, and a long scan's footprint creeps up)."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


class PageReader:
    """Reads the text of a page image (a PIL image), lines in reading order."""

    def __init__(self, on_page: Callable[[str], None] | None = None):
        self.on_page = on_page  # told "page 3/40" as pages are read (progress)

    def read(self, image) -> str:
        """The text on an image: its lines, top to bottom, left to right."""
        result, _ = _engine()(np.asarray(image.convert("RGB")))
        if not result:
            return ""
        # box: four corners; sort by the top edge, then by the left edge, in line bands
        lines = sorted(((min(p[1] for p in box), min(p[0] for p in box), text)
                        for box, text, _score in result), key=lambda r: (r[0], r[1]))
        out: list[list[tuple[float, str]]] = []
        band_top = None
        for top, left, text in lines:
            if band_top is not None and abs(top - band_top) < 12:
                out[-1].append((left, text))
            else:
                out.append([(left, text)])
                band_top = top
        return "\n".join(" ".join(t for _, t in sorted(row)) for row in out)

    def pdf_pages(self, path: Path, pages: list[int]) -> Iterator[tuple[int, str]]:
        """(page number, text) for the given 1-based pages of a PDF, read by OCR."""
        import pypdfium2 as pdfium

        with PDFIUM_LOCK:
            pdf = pdfium.PdfDocument(str(path))
        try:
            for i, number in enumerate(pages, 1):
                if self.on_page:
                    self.on_page(f"{path.name}: OCR page {number} ({i}/{len(pages)})")
                with PDFIUM_LOCK:
                    page = pdf[number - 1]
                    image = page.render(scale=render_scale(page.get_size())).to_pil()
                    page.close()
                yield number, self.read(image)
                del image
                release_memory()
        finally:
            with PDFIUM_LOCK:
                pdf.close()

    def image_pages(self, path: Path) -> Iterator[tuple[int, str]]:
        """(frame number, text) for an image file (a multi-page TIFF has several)."""
        from PIL import Image, ImageSequence

        with Image.open(path) as image:
            frames = list(range(getattr(image, "n_frames", 1)))
            for number, frame in enumerate(ImageSequence.Iterator(image), 1):
                if self.on_page and len(frames) > 1:
                    self.on_page(f"{path.name}: OCR page {number}/{len(frames)}")
                yield number, self.read(frame)
                release_memory()
