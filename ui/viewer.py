"""The document viewer: a cited passage shown in its whole document, highlighted.

A citation link names its chunk and the supporting spans (`#view-<chunk id>_<a>-<b>...`,
offsets in the chunk's text), so it opens the same place from any answer, also in a
conversation reopened after a restart. The text is the document as indexed, rebuilt
from its chunks (so every format sourcechat reads, and files added by the CLI or by
upload, open alike); a PDF also shows the cited page as an image rendered locally with
pypdfium2, the cited words marked on it. Everything shown is escaped text or an inline
image: nothing in a document can make the browser load anything.
"""

from __future__ import annotations

import base64
import html
import io
import re
from dataclasses import dataclass
from pathlib import Path

from corpus.ocr import PDFIUM_LOCK, render_scale
from index.passages import Passage, reassemble

REF = re.compile(r"^([0-9a-f]{8,64})((?:_\d{1,7}-\d{1,7}){0,20})$")
PAGE_SCALE = 1.4          # rendered PDF page: pixels per PDF point
MARK_WORDS = 6            # the cited text is found on the page image in runs of this many words


def view_ref(passage: Passage, spans: tuple[tuple[int, int], ...] = ()) -> str:
    """The link target that opens `passage` (its `spans` highlighted) in the viewer."""
    return "#view-" + passage.id + "".join(f"_{a}-{b}" for a, b in spans)


def parse_ref(ref: str) -> tuple[str, list[tuple[int, int]]] | None:
    """(chunk id, spans) from a link target (with or without '#view-'); None if malformed."""
    m = REF.match(ref.strip().removeprefix("#").removeprefix("view-"))
    if not m:
        return None
    spans = [tuple(int(x) for x in part.split("-")) for part in m.group(2).split("_")[1:]]
    return m.group(1), [(a, b) for a, b in spans if a < b]


@dataclass(frozen=True)
class View:
    """What the viewer shows: the HTML, and the original file to offer for download."""

    html: str
    download: Path | None = None


def open_view(store, ref: str) -> View:
    """The viewer for a citation link: its document, scrolled to the highlighted place."""
    parsed = parse_ref(ref)
    if parsed is None:
        return View(_note("That link does not name a passage."))
    chunk_id, spans = parsed
    found = store.get([chunk_id])
    if not found:
        return View(_note("That passage is no longer indexed (its document was removed or "
                          "changed). Ask again to cite the current text."))
    cited = found[0]
    marks = [(cited.start + a, cited.start + b) for a, b in spans] or [(cited.start, cited.end)]
    pages = reassemble(store.document(cited.source))
    path = Path(cited.source)
    head = (f'<div class="sc-view-head"><b>{html.escape(path.name)}</b> · '
            + (f"page {cited.page} of {len(pages)}" if cited.page else
               f"characters {cited.start:,}–{cited.end:,} of {len(pages[0][1]):,}")
            + "</div>")
    image = ""
    if cited.page and path.suffix.lower() == ".pdf" and path.is_file():
        quoted = [cited.text[a - cited.start:b - cited.start] for a, b in marks]
        image = _page_image(path, cited.page, quoted)
    parts = [head, image]
    for page, text in pages:
        if cited.page and len(pages) > 1:
            parts.append(f'<div class="sc-view-page">Page {page}</div>')
        ranges = marks if page == cited.page else []
        parts.append(f'<div class="sc-view-text">{_marked(text, ranges)}</div>')
    missing = "" if path.is_file() else (
        '<div class="sc-empty">The original file is no longer at '
        f"{html.escape(str(path))}; the text above is as indexed.</div>")
    return View("".join(parts) + missing, path if path.is_file() else None)


def _marked(text: str, ranges: list[tuple[int, int]]) -> str:
    """Escaped text with `ranges` in <mark>; the first one is the scroll target."""
    out, pos = [], 0
    for i, (a, b) in enumerate(sorted(ranges)):
        if a < pos:
            continue
        focus = ' id="sc-focus"' if i == 0 else ""
        out += [html.escape(text[pos:a]), f"<mark{focus}>{html.escape(text[a:b])}</mark>"]
        pos = b
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _page_image(path: Path, page: int, quoted: list[str]) -> str:
    """The page rendered to PNG (inline), the quoted text found on it marked in yellow."""
    with PDFIUM_LOCK:  # PDFium is not thread-safe: one caller at a time in the process
        return _render_marked(path, page, quoted)


def _render_marked(path: Path, page: int, quoted: list[str]) -> str:
    import pypdfium2 as pdfium
    from PIL import ImageDraw

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError:
        return _note("The PDF cannot be rendered (it may be encrypted or damaged).")
    try:
        if not 1 <= page <= len(pdf):
            return ""
        pg = pdf[page - 1]
        height = pg.get_size()[1]
        scale = render_scale(pg.get_size(), PAGE_SCALE)
        image = pg.render(scale=scale).to_pil().convert("RGB")
        overlay = ImageDraw.Draw(image, "RGBA")
        textpage = pg.get_textpage()
        for quote in quoted:
            words = quote.split()
            for i in range(0, len(words), MARK_WORDS):  # runs: line breaks differ per tool
                run = " ".join(words[i:i + MARK_WORDS])
                hit = textpage.search(run, match_case=False).get_next() if run else None
                if not hit:
                    continue
                for n in range(textpage.count_rects(hit[0], hit[1])):
                    left, bottom, right, top = textpage.get_rect(n)
                    overlay.rectangle([left * scale, (height - top) * scale,
                                       right * scale, (height - bottom) * scale],
                                      fill=(255, 220, 0, 90))
        buf = io.BytesIO()
        image.save(buf, "PNG", optimize=True)
    finally:
        pdf.close()
    data = base64.b64encode(buf.getvalue()).decode()
    return (f'<img class="sc-view-image" alt="page {page} of {html.escape(path.name)}" '
            f'src="data:image/png;base64,{data}">')


def _note(text: str) -> str:
    return f'<div class="sc-empty">{html.escape(text)}</div>'


def placeholder() -> str:
    """The viewer before any citation is opened."""
    return _note("Click a citation [n] to open its document here.")
