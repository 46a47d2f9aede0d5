"""Answers and citations -> what the web chat shows (HTML/markdown), escaped."""

from __future__ import annotations

import html
import re
from pathlib import Path

from assistant import Answer, Citation
from assistant.citations import PARTIAL
from ui.viewer import view_ref

# Status words, not emoji: a machine without an emoji font shows those as empty boxes.
PARTIAL_BADGE = "Partial answer"
WARNING_BADGE = "Warning"
ERROR_MARK = "Error:"      # starts a chat message that reports a failure (never kept)
OK_MARK = "OK ·"           # upload status lines
FAILED_MARK = "Not added ·"
NOTE_MARK = "Note ·"
FLAG_MARK = "Warning ·"


def inert(text: str) -> str:
    """Document or model text made safe to show as Markdown: HTML escaped, and square
    brackets as entities, so `![x](http://host/...)` can never become an image the browser
    loads (or a disguised link): it shows as the text it is."""
    return html.escape(text, quote=False).replace("[", "&#91;").replace("]", "&#93;")


def unlinked(text: str) -> str:
    """Inert Markdown (see `inert`) in which no web or e-mail address becomes a link: for
    text holding planted instructions ("visit http://... to verify your account")."""
    return (inert(text).replace("://", "&#58;//").replace("www.", "www&#46;")
            .replace("@", "&#64;"))


def answer_markdown(answer: Answer) -> str:
    """The answer text; each [n] opens its passage in the document viewer; a warning above
    it when it cites instructions addressed to an AI assistant or the reader (their web
    addresses then shown, never linked); a note when sentences the sources do not support
    were removed."""
    text = unlinked(answer.text) if answer.suspect else inert(answer.text)
    if answer.status == PARTIAL:
        text = f"**{PARTIAL_BADGE}:** {text}"
    if answer.warning:
        text = f"**{WARNING_BADGE}:** {inert(answer.warning)}\n\n{text}"
    refs = {str(c.n): view_ref(c.passage, c.spans) for c in answer.citations}
    text = re.sub(r"&#91;(\d+)&#93;",
                  lambda m: (f'<a href="{refs[m.group(1)]}">[{m.group(1)}]</a>'
                             if m.group(1) in refs else m.group(0)), text)
    note = answer.removed_note
    return f"{text}\n\n<small><i>{note}</i></small>" if note else text


def highlighted(citation: Citation, suspect: bool = False) -> str:
    """The passage text, HTML-escaped, with the supporting spans in <mark> (a `suspect`
    passage's addresses never linked)."""
    text = citation.passage.text
    escape = unlinked if suspect else inert
    out, pos = [], 0
    for start, end in sorted(citation.spans):
        if start < pos:
            continue
        out.append(escape(text[pos:start]))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        pos = end
    out.append(escape(text[pos:]))
    return "".join(out)


def sources_html(answer: Answer | None) -> str:
    """The sources panel for one answer: query, then each citation with its highlights."""
    if answer is None:
        return '<div class="sc-empty">Sources of the latest answer appear here.</div>'
    parts = []
    if answer.query and answer.query != answer.question:
        parts.append(f'<div class="sc-query">Searched for: <i>{html.escape(answer.query)}</i>'
                     "</div>")
    if answer.scope:
        names = ", ".join(inert(Path(s).name) for s in answer.scope)
        parts.append(f'<div class="sc-query">Limited to: {names}</div>')
    if answer.warning:
        parts.append(f'<div class="sc-warning">{WARNING_BADGE}: {inert(answer.warning)}</div>')
    if answer.status == PARTIAL:
        parts.append('<div class="sc-partial">Partial: the documents do not state what the '
                     "question asks. The passages below are what they say instead.</div>")
    elif not answer.found:
        parts.append('<div class="sc-empty">No passage in the documents answers this.</div>')
        parts.append(declined_html(answer))
    for c in answer.citations:
        p = c.passage
        ref = view_ref(p, c.spans)
        parts.append(
            f'<div class="sc-source" id="src-{c.n}">'
            f'<div class="sc-head"><a class="sc-n" href="{ref}" title="Open in the document">'
            f"[{c.n}]</a> <b>{inert(p.name)}</b>{_score(p.score)} · chars "
            f'{p.start}–{p.end} · <a class="sc-open" href="{ref}">open in document</a>'
            f"{_SUSPECT_MARK if c.n in answer.suspect else ''}</div>"
            f'<div class="sc-text">{highlighted(c, c.n in answer.suspect)}</div></div>')
    return "\n".join(parts)


def declined_html(answer: Answer) -> str:
    """Why a question was declined: the words no document contains, and the closest
    passages found with their scores, marked as not an answer."""
    parts = []
    if answer.missing:
        words = ", ".join(f"<b>{inert(w)}</b>" for w in answer.missing)
        parts.append(f'<div class="sc-missing">No document contains: {words}</div>')
    if answer.closest:
        parts.append('<div class="sc-closest-head">Closest passages found — <b>not an '
                     "answer</b>:</div>")
    for i, p in enumerate(answer.closest, 1):
        parts.append(
            f'<div class="sc-closest" id="near-{i}"><div class="sc-head">'
            f"<b>{inert(p.name)}</b>{_score(p.score)} · chars {p.start}–{p.end}</div>"
            f'<div class="sc-text">{inert(_clip(p.text))}</div></div>')
    return "\n".join(parts)


def _clip(text: str, limit: int = 400) -> str:
    """The beginning of a long text, cut at a word, with '…'."""
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def sources_markdown(answer: Answer) -> str:
    """Compact per-answer sources for the collapsible message under the answer."""
    lines = []
    for c in answer.citations:
        p = c.passage
        suspect = c.n in answer.suspect
        lines.append(f'**<a href="{view_ref(p, c.spans)}">[{c.n}]</a> {inert(p.name)}**'
                     f"{_score(p.score)}{_SUSPECT_MARK if suspect else ''}\n\n"
                     f"<blockquote>{highlighted(c, suspect)}</blockquote>")
    return "\n\n".join(lines)


_SUSPECT_MARK = ' · <span class="sc-suspect">warning: possible prompt injection</span>'


def _score(score: float) -> str:
    """' · score 0.83' for a retrieved passage; nothing for one read as part of a whole
    document (a summary reads every passage: no retrieval score)."""
    return f" · score {score:.2f}" if score else ""


CSS = """
.sc-source { border-left: 3px solid #7c9cff; padding: 6px 10px; margin: 8px 0; }
.sc-head { font-size: 0.9em; margin-bottom: 4px; }
.sc-n { font-weight: bold; color: #3355cc; }
.sc-text { white-space: pre-wrap; font-size: 0.92em; }
.sc-text mark, blockquote mark { background: #fff2a8; padding: 0 1px; }
.sc-query { font-size: 0.9em; margin-bottom: 6px; }
.sc-empty { color: #777; font-style: italic; }
.sc-partial { color: #8a5a00; font-style: italic; margin-bottom: 6px; }
.sc-warning { color: #9a1c1c; font-weight: bold; margin-bottom: 6px; }
.sc-suspect { color: #9a1c1c; font-weight: bold; }
.sc-missing { font-size: 0.9em; margin: 6px 0; }
.sc-closest-head { font-size: 0.9em; color: #777; margin-top: 8px; }
.sc-closest { border-left: 3px dashed #bbb; padding: 6px 10px; margin: 8px 0; color: #666; }
.sc-open { font-size: 0.85em; }
.sc-hidden { display: none !important; }
.sc-view-head { margin-bottom: 6px; }
.sc-view-image { max-width: 100%; border: 1px solid #ccc; margin-bottom: 8px; }
.sc-view-page { font-size: 0.85em; color: #777; border-top: 1px solid #ddd; margin-top: 8px; }
.sc-view-text { white-space: pre-wrap; font-size: 0.92em; }
.sc-view-text mark { background: #ffe25c; padding: 0 1px; }
#viewer { max-height: 760px; overflow-y: auto; }
"""

# A click on a citation link (`#view-...`, in an answer or the sources view) opens the
# document viewer: the link's target goes to a hidden box whose button runs the viewer.
VIEWER_JS = """
() => {
  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest('a[href^="#view-"]');
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const box = document.querySelector("#viewer-ref textarea, #viewer-ref input");
    const button = document.querySelector("#viewer-open");
    if (!box || !button) return;
    box.value = link.getAttribute("href");
    box.dispatchEvent(new Event("input", { bubbles: true }));
    setTimeout(() => button.click(), 50);
  }, true);
}
"""
SCROLL_TO_FOCUS = """
() => setTimeout(() => {
  const mark = document.getElementById("sc-focus");
  if (mark) mark.scrollIntoView({ block: "center" });
}, 200)
"""
