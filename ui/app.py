"""The Gradio web chat: streamed, cited answers; sources view; document management.

The handlers are plain functions of an `Assistant` (tested without a browser);
`build_app` lays them out; `serve` starts it. The same app exposes `ask` through
Gradio's API (`gradio_client.Client(url).predict("question", api_name="/ask")`).
"""

from __future__ import annotations

import html
import logging
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import gradio as gr

from assistant import Answer, Assistant, SourcechatError
from assistant.settings import MAX_K
from assistant.suggestions import suggest
from corpus import SAMPLE_DIR, SUPPORTED_SUFFIXES
from corpus.errors import BackendError
from corpus.injection import flagged_note
from ui.conversations import REASONS, ChatStore, NoSuchConversation, chats_file, export_markdown
from ui.render import (
    CSS,
    ERROR_MARK,
    FAILED_MARK,
    FLAG_MARK,
    NOTE_MARK,
    OK_MARK,
    SCROLL_TO_FOCUS,
    VIEWER_JS,
    answer_markdown,
    inert,
    sources_html,
    sources_markdown,
)
from ui.uploads import accept
from ui.viewer import open_view, placeholder

log = logging.getLogger(__name__)

EXAMPLES = [
    "How many people migrated from Japan to North Korea between 1959 and 1984?",
    "Who is the Tokyo director at Human Rights Watch?",
    "Which country should Japan press to protect North Korean refugees?",
    "Summarize the document.",
    "Which organizations wrote the letter?",
]
ANY_CORPUS_EXAMPLES = [  # when the sample is not indexed: questions any documents answer
    "What topics do my documents cover?",
    "Summarize the document.",
    "What are the key points?",
]
SOURCES_TITLE = "Sources"


def examples_for(listing: list[tuple[str, str, int]]) -> list[dict]:
    """The empty chat's example questions: about the sample while it is indexed, else ones
    any documents answer (none when nothing is indexed)."""
    if not listing:
        return []
    samples = Path(str(SAMPLE_DIR)).resolve()
    sample = any(Path(s).resolve().parent == samples for s, _, _ in listing)
    return [{"text": q} for q in (EXAMPLES if sample else ANY_CORPUS_EXAMPLES)]


def chat_history(messages: list[dict]) -> list[dict]:
    """The conversation for `ask`: user and answer messages, without sources/error notes
    (a question as typed: the chat shows it escaped)."""
    out = []
    for m in messages or []:
        meta = m.get("metadata") or {}
        if meta.get("title"):
            continue
        content = _message_text(m)
        if content.strip() and not content.startswith(ERROR_MARK):
            if m["role"] == "user":
                content = html.unescape(content)
            out.append({"role": m["role"], "content": content})
    return out


def question_message(question: str) -> dict:
    """A question as the chat shows it: the text typed, never markup (`inert`)."""
    return {"role": "user", "content": inert(question)}


class Handlers:
    """The web chat's event handlers over one Assistant."""

    def __init__(self, assistant: Assistant, max_upload_mb: float | None = None):
        self.assistant = assistant
        self.max_upload_mb = max_upload_mb or assistant.settings.max_upload_mb
        self.uploads_dir = Path(assistant.settings.data_dir) / "uploads"
        self.backends = _backend_choices(assistant.settings.llm)
        self.chats = ChatStore(chats_file(assistant.settings.data_dir))

    def _backend(self, backend: str | None) -> str | None:
        """A backend the server offers (a web user must not point it at any file or model)."""
        if backend and backend not in self.backends:
            raise BackendError(f"Backend '{backend}' is not offered by this server: choose one "
                               f"of {', '.join(self.backends)}.")
        return backend or None

    # -- chat ------------------------------------------------------------------------------
    def respond(self, message: str, messages: list[dict], k: int, backend: str,
                sources: list[str] | None = None) -> Iterator[tuple[list[dict], str, str]]:
        """Stream an answer into the chat; yields (chat, sources panel, textbox)."""
        for chat, panel, _ in self._turn(message, messages, k, backend, sources):
            yield chat, panel, ""

    def _turn(self, message: str, messages: list[dict], k: int, backend: str,
              sources: list[str] | None) -> Iterator[tuple[list[dict], str, Answer | None]]:
        """Yields (chat, sources panel, the final Answer once it is in)."""
        messages = list(messages or [])
        history = chat_history(messages)
        if isinstance(message, str) and message.strip():  # an empty one: no empty bubble
            messages.append(question_message(message))
        messages.append({"role": "assistant", "content": "…"})
        yield messages, sources_html(None), None
        try:
            draft = ""
            answer: Answer | None = None
            for event in self.assistant.stream(message, history, k=k, sources=sources,
                                               backend=self._backend(backend)):
                if isinstance(event, Answer):
                    answer = event
                else:
                    draft += event
                    messages[-1] = {"role": "assistant", "content": draft}
                    yield messages, sources_html(None), None
            if answer is None:  # stream() always ends with its Answer
                raise RuntimeError("the answer stream ended without an answer")
            messages[-1] = {"role": "assistant", "content": answer_markdown(answer)}
            if answer.citations:
                messages.append({"role": "assistant", "content": sources_markdown(answer),
                                 "metadata": {"title": f"{SOURCES_TITLE} ({len(answer.citations)})",
                                              "status": "done"}})
            yield messages, sources_html(answer), answer
        except SourcechatError as err:
            messages[-1] = {"role": "assistant", "content": f"{ERROR_MARK} {err}"}
            yield messages, sources_html(None), None
        except Exception as err:  # never a traceback in the chat
            log.exception("answer failed")
            messages[-1] = {"role": "assistant",
                            "content": f"{ERROR_MARK} Something went wrong "
                                       f"({type(err).__name__}); "
                                       "please try again."}
            yield messages, sources_html(None), None

    # -- conversations -----------------------------------------------------------------------
    def chat(self, message: str, messages: list[dict], k: int, backend: str, cid: str | None,
             picked: list[str] | None, request: gr.Request = None):
        """`respond`, kept: the turn is stored in the conversation (a new one on the first
        question). Yields (chat, sources panel, textbox, conversation id, conversation list,
        title)."""
        owner = _owner(request)
        before = len(messages or [])
        chat, panel, answer = [], sources_html(None), None
        for step in self._turn(message, messages, k, backend, picked or None):
            chat, panel, answer = step
            yield chat, panel, "", cid, gr.skip(), gr.skip()
        if answer is None:  # an error message: shown, not kept
            return
        try:
            if cid:
                self.chats.add_turn(owner, cid, message, answer.to_dict(), chat[before:], panel)
            else:
                raise NoSuchConversation("new")
        except NoSuchConversation:  # the first question (or the chat was deleted meanwhile)
            cid = self.chats.create(owner, message, picked or ())
            self.chats.add_turn(owner, cid, message, answer.to_dict(), chat[before:], panel)
        title = self.chats.get(owner, cid).title
        yield chat, panel, "", cid, self.conversation_list(request, cid), title

    def conversation_list(self, request: gr.Request = None, cid: str | None = None) -> dict:
        """The conversation list's choices (titles), with `cid` selected."""
        items = self.chats.list(_owner(request))
        return gr.update(choices=[(c.title, c.id) for c in items], value=cid or None)

    def open(self, cid: str | None, request: gr.Request = None):
        """Show a conversation: (chat, sources panel, id, documents picked, title)."""
        if not cid:
            return [], sources_html(None), "", [], ""
        try:
            c = self.chats.get(_owner(request), cid)
        except NoSuchConversation as err:
            raise gr.Error(str(err)) from None
        chat = [m for t in c.turns for m in t.shown]
        panel = c.turns[-1].panel if c.turns and c.turns[-1].panel else sources_html(None)
        known = {s for s, _, _ in self.assistant.sources()}  # a document removed since: unpicked
        return chat, panel, c.id, [s for s in c.sources if s in known], c.title

    def new_chat(self, request: gr.Request = None):
        """An empty chat (stored when its first question is asked)."""
        return [], sources_html(None), "", [], "", self.conversation_list(request, None)

    def rename(self, cid: str | None, title: str, request: gr.Request = None) -> dict:
        """Rename the open conversation."""
        if not cid:
            raise gr.Error("Ask a question first: a new chat is kept from its first question.")
        try:
            self.chats.rename(_owner(request), cid, title)
        except SourcechatError as err:
            raise gr.Error(str(err)) from None
        return self.conversation_list(request, cid)

    def delete(self, cid: str | None, request: gr.Request = None):
        """Delete the open conversation; shows an empty chat."""
        if cid:
            try:
                self.chats.delete(_owner(request), cid)
            except NoSuchConversation as err:
                raise gr.Error(str(err)) from None
        return self.new_chat(request)

    def pick(self, cid: str | None, picked: list[str] | None, request: gr.Request = None):
        """The documents picker changed: kept with the open conversation."""
        if cid:
            try:
                self.chats.set_sources(_owner(request), cid, picked or [])
            except NoSuchConversation as err:
                raise gr.Error(str(err)) from None

    def export(self, cid: str | None, request: gr.Request = None) -> dict:
        """The open conversation as a Markdown file, offered for download."""
        if not cid:
            raise gr.Error("Nothing to export yet: ask a question first.")
        try:
            c = self.chats.get(_owner(request), cid)
        except NoSuchConversation as err:
            raise gr.Error(str(err)) from None
        folder = Path(tempfile.mkdtemp(prefix="sourcechat-export-"))
        slug = re.sub(r"[^A-Za-z0-9]+", "-", c.title).strip("-")[:40] or "conversation"
        path = folder / f"{slug}.md"
        path.write_text(export_markdown(c), encoding="utf-8")
        return gr.update(value=str(path), visible=True)

    def like(self, cid: str | None, reason: str | None, messages: list[dict] | None,
             data: gr.LikeData, request: gr.Request = None) -> str:
        """Thumbs up or down on an answer (with the reason chosen, if any), stored. The
        liked message is found in the kept turns by its text (error messages shown in the
        chat are not kept, so positions alone can point at the wrong turn)."""
        if not cid:
            return "Feedback is kept for saved answers: ask a question first."
        owner = _owner(request)
        try:
            c = self.chats.get(owner, cid)
        except NoSuchConversation as err:
            return str(err)
        index = data.index if isinstance(data.index, int) else (data.index or [None])[0]
        messages = messages or []
        if not isinstance(index, int) or not 0 <= index < len(messages):
            return "That message is not an answer."
        liked = _message_text(messages[index]).strip()
        turn = next((t for t in c.turns if liked and any(
            m.get("role") == "assistant" and _message_text(m).strip() == liked
            for m in t.shown)), None)
        if turn is None:
            return "That message is not a kept answer (an error, or from before a restart)."
        rating = "up" if data.liked is True or data.liked == "Like" else "down"
        self.chats.add_feedback(owner, turn.question, turn.answer, rating, reason or "", cid,
                                turn.n)
        return f"Thanks: feedback ({rating}{', ' + reason if reason else ''}) kept."

    def api_ask(self, question: str, history: list | None = None, k: int | None = None,
                backend: str | None = None, sources: list[str] | None = None,
                conversation: str | None = None, request: gr.Request = None) -> dict:
        """Answer a question (`k`: passages, 1 to MAX_K, default the setting; `sources`:
        document names or paths to limit it to, or one); returns the `sourcechat ask
        --json` object.
        `conversation`: "new" starts a kept conversation, an id continues one (its turns
        are the history, its documents the default `sources`); its id is returned."""
        owner = _owner(request)
        try:
            turns, cid = [], None
            if conversation and conversation != "new":
                c = self.chats.get(owner, str(conversation))
                cid, turns = c.id, c.turns
                sources = sources or list(c.sources) or None
            past = [m for t in turns for m in (
                {"role": "user", "content": t.question},
                {"role": "assistant", "content": t.answer.get("answer", "")})]
            answer = self.assistant.ask(question, past + list(history or []), k=k,
                                        sources=sources or None,
                                        backend=self._backend(backend))
        except SourcechatError as err:
            raise gr.Error(str(err)) from None
        out = answer.to_dict()
        if conversation == "new":  # kept once it has an answer
            cid = self.chats.create(owner, question, sources or ())
        if cid:
            shown = [question_message(question),
                     {"role": "assistant", "content": answer_markdown(answer)}]
            self.chats.add_turn(owner, cid, question, out, shown)
            out["conversation"] = cid
        return out

    def view(self, ref: str):
        """A citation link clicked: (viewer HTML, download button, side tabs on Document)."""
        shown = open_view(self.assistant.store, ref or "")
        download = gr.update(visible=False)
        if shown.download is not None:
            # gradio serves files from its own folders: hand it a copy (behind the login)
            copy = Path(tempfile.mkdtemp(prefix="sourcechat-original-")) / shown.download.name
            try:
                shutil.copyfile(shown.download, copy)
                download = gr.update(value=str(copy), visible=True,
                                     label=f"Download {shown.download.name}")
            except OSError:
                pass  # the text is shown; the file is not readable now
        return shown.html, download, gr.Tabs(selected="document-tab")

    # -- documents --------------------------------------------------------------------------
    def documents(self, listing: list[tuple[str, str, int]] | None = None) -> list[list]:
        """Rows for the documents table: name, chunks, full source (`listing`: the
        indexed documents when the caller has listed them already)."""
        listing = self.assistant.sources() if listing is None else listing
        return [[Path(s).name, n, s] for s, _, n in listing]

    def upload(self, files: list | None, replace: bool = False,
               progress=gr.Progress()) -> tuple[str, list, dict]:  # noqa: B008 - gradio idiom
        """Check, store and index uploaded files; returns (status, table, remove choices).
        `replace`: a document of the same name is replaced, else kept beside it."""
        return self._upload(files, replace, progress)[:3]

    def upload_and_suggest(self, files: list | None, replace: bool = False,
                           progress=gr.Progress()):  # noqa: B008 - gradio idiom
        """`upload`, then three questions the (last) new document answers, to click."""
        status, table, choices, indexed = self._upload(files, replace, progress)
        rows = []
        if indexed:
            source = indexed[-1]
            rows = [[q, Path(source).name, source] for q in suggest(self.assistant, source)]
        return status, table, choices, gr.update(samples=rows, visible=bool(rows))

    def try_suggestion(self, sample: list):
        """A suggestion clicked: (question box, documents picked, main tabs on Chat)."""
        question, _, source = sample
        known = [s for s, _, _ in self.assistant.sources()]
        return (question, [source] if source in known else [],
                gr.Tabs(selected="chat-tab"))

    def notice(self) -> str:
        """What the Documents tab says first: why documents cannot be added here, if so."""
        try:
            self.assistant.check_writable()
        except SourcechatError as err:
            return f"{NOTE_MARK} Documents cannot be added or removed here. {inert(str(err))}"
        return ""

    def _upload(self, files, replace, progress) -> tuple[str, list, dict, list[str]]:
        if files:
            try:
                self.assistant.check_writable()  # before a file is stored
            except SourcechatError as err:
                listing = self.assistant.sources()
                return f"{FAILED_MARK} {inert(str(err))}", self.documents(listing), \
                    self._choices(listing), []
        lines, paths, indexed = [], [], []
        for f in files or []:
            try:
                path, msg = accept(f, self.uploads_dir, self.max_upload_mb, replace,
                                   ocr=self.assistant.settings.ocr)
            except OSError as err:
                path, msg = None, f"{Path(str(f)).name}: cannot store it ({err.strerror})."
            lines.append(f"{OK_MARK if path else FAILED_MARK} {msg}")
            if path:
                paths.append(path)
        if paths:
            def on_progress(done, total, name):
                progress((done, total), desc=f"Reading {name}" if name else "Read", unit="files")

            def on_chunks(done, total, names):
                progress((done, total), desc=f"Embedding {names}", unit="passages")

            report = self.assistant.ingest([str(p) for p in paths], progress=False,
                                           on_progress=on_progress, on_chunks=on_chunks)
            for err in report.errors:
                lines.append(f"{FAILED_MARK} {inert(Path(err.path).name)}: {inert(err.reason)}.")
            for source, notes in report.pages.items():
                lines.append(f"{NOTE_MARK} {inert(Path(source).name)}: {notes.summary()}.")
            for source, n in report.suspect.items():
                lines.append(f"{FLAG_MARK} {inert(Path(source).name)}: {flagged_note(n)}.")
            for dup, twin in report.duplicates:
                lines.append(f"{NOTE_MARK} {inert(Path(dup).name)}: same content as "
                             f"{inert(Path(twin).name)}, indexed once.")
            lines.append(f"Indexed {len(report.indexed)} file(s), {report.chunks_added} new "
                         f"passages ({len(report.unchanged)} unchanged).")
            indexed = [str(p) for p in report.indexed]
        if not lines:
            lines.append("Choose one or more files to add.")
        listing = self.assistant.sources()
        return "\n\n".join(lines), self.documents(listing), self._choices(listing), indexed

    def remove(self, source: str | None) -> tuple[str, list, dict]:
        """Remove a document and its passages."""
        if not source:
            status = "Choose a document to remove."
        else:
            try:
                removed, n = self.assistant.remove(source)
                status = f"Removed {Path(removed).name} ({n} passages)."
                if Path(removed).resolve().parent == self.uploads_dir.resolve():  # our copy
                    Path(removed).unlink(missing_ok=True)
            except SourcechatError as err:
                status = f"{ERROR_MARK} {err}"
        listing = self.assistant.sources()
        return status, self.documents(listing), self._choices(listing)

    def picker(self, picked: list[str] | None,
               listing: list[tuple[str, str, int]] | None = None) -> dict:
        """The documents picker's choices (file names, searchable), keeping what is picked
        and still indexed."""
        listing = self.assistant.sources() if listing is None else listing
        known = {s for s, _, _ in listing}
        return self._choices(listing, [s for s in picked or [] if s in known])

    def _choices(self, listing: list[tuple[str, str, int]], value=None) -> dict:
        """Choices naming each indexed document by its file name, `value` selected."""
        return gr.update(choices=[(Path(s).name, s) for s, _, _ in listing], value=value)


def _message_text(message: dict) -> str:
    """A chat message's text (Gradio may hand content back as a list of parts)."""
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _owner(request: gr.Request | None) -> str:
    """Whose conversations: the login ("" when the chat has no logins)."""
    return (getattr(request, "username", None) or "") if request is not None else ""


def _example_text(event: gr.SelectData) -> str:
    return event.value["text"]


def build_app(assistant: Assistant, max_upload_mb: float | None = None) -> gr.Blocks:
    """Lay out the web chat over an assistant."""
    h = Handlers(assistant, max_upload_mb)
    settings = assistant.settings
    with gr.Blocks(title="sourcechat") as app:
        gr.Markdown("## sourcechat — answers from your documents, with their sources")
        # the open conversation's id ("": not stored yet); a hidden box, not gr.State, which
        # would hold a heartbeat connection open for the page's life
        conv = gr.Textbox("", visible=False, elem_id="conversation-id")
        with gr.Tabs(elem_id="main") as main:
            with gr.Tab("Chat", id="chat-tab"):
                with gr.Row():
                    with gr.Column(scale=1, min_width=220):
                        new = gr.Button("New chat", variant="secondary", elem_id="new-chat")
                        conversations = gr.Radio([], label="Conversations", elem_id="conversations")
                        title = gr.Textbox(label="Title", elem_id="title", max_lines=1)
                        with gr.Row():
                            rename = gr.Button("Rename", size="sm", elem_id="rename")
                            delete = gr.Button("Delete", size="sm", variant="stop",
                                               elem_id="delete-chat")
                        export = gr.Button("Export Markdown", size="sm", elem_id="export")
                        exported = gr.File(label="Export", elem_id="export-file", visible=False,
                                           interactive=False)
                    with gr.Column(scale=3):
                        picker = gr.Dropdown([], value=[], multiselect=True, filterable=True,
                                             label="Documents", elem_id="picker",
                                             info="Questions use only these (none chosen: all).")
                        chatbot = gr.Chatbot(
                            elem_id="chat", height=520, label="Chat",
                            placeholder="Ask about your documents. Try an example:",
                            examples=examples_for(assistant.sources()),
                            sanitize_html=True, buttons=["copy"])
                        with gr.Row():
                            box = gr.Textbox(elem_id="question", show_label=False, scale=5,
                                             placeholder="Ask a question about your documents…",
                                             submit_btn=True, autofocus=True)
                        with gr.Row():
                            k = gr.Slider(1, MAX_K, value=settings.k, step=1,
                                          label="Passages (k)")
                            backend = gr.Dropdown(_backend_choices(settings.llm),
                                                  value=settings.llm, label="Backend")
                            reason = gr.Dropdown(["", *REASONS], value="", elem_id="reason",
                                                 label="Feedback reason (then rate an answer)")
                        feedback = gr.Markdown(elem_id="feedback-status")
                    with gr.Column(scale=2):
                        with gr.Tabs(elem_id="side") as side:
                            with gr.Tab("Sources", id="sources-tab"):
                                sources = gr.HTML(sources_html(None), elem_id="sources")
                            with gr.Tab("Document", id="document-tab"):
                                viewer = gr.HTML(placeholder(), elem_id="viewer")
                                original = gr.DownloadButton(
                                    "Download the original", visible=False, size="sm",
                                    elem_id="download-original")
                        # a citation link's click (ui/render.py VIEWER_JS) writes its target
                        # here and presses the button: in the page, not shown
                        ref = gr.Textbox(elem_id="viewer-ref", elem_classes=["sc-hidden"],
                                         show_label=False, container=False)
                        open_ref = gr.Button("open", elem_id="viewer-open",
                                             elem_classes=["sc-hidden"])
            with gr.Tab("Documents", id="documents-tab"):
                files = gr.File(label=f"Add documents ({', '.join(SUPPORTED_SUFFIXES)})",
                                file_count="multiple", elem_id="upload",
                                file_types=list(SUPPORTED_SUFFIXES))
                replace = gr.Checkbox(False, label="Replace documents with the same name",
                                      elem_id="replace")
                status = gr.Markdown(h.notice(), elem_id="upload-status")
                suggestions = gr.Dataset(
                    components=[gr.Textbox(visible=False), gr.Textbox(visible=False),
                                gr.Textbox(visible=False)],
                    headers=["Try asking", "Document", "Path"], samples=[], visible=False,
                    label="Questions the new document answers (click one)",
                    elem_id="suggestions")
                table = gr.Dataframe(h.documents(), headers=["Document", "Passages", "Source"],
                                     interactive=False, elem_id="documents")
                with gr.Row():
                    doc = gr.Dropdown([], label="Remove a document", scale=4)
                    rm = gr.Button("Remove", variant="stop", scale=1)

        asked = [box, chatbot, k, backend, conv, picker]
        answered = [chatbot, sources, box, conv, conversations, title]
        box.submit(h.chat, asked, answered, api_visibility="private")
        chatbot.example_select(_example_text, None, box).then(
            h.chat, asked, answered, api_visibility="private")
        chatbot.like(h.like, [conv, reason, chatbot], feedback, api_visibility="private")
        opened = [chatbot, sources, conv, picker, title]
        conversations.input(h.open, conversations, opened, api_visibility="private")
        new.click(h.new_chat, None, [*opened, conversations], api_visibility="private")
        delete.click(h.delete, conv, [*opened, conversations], api_visibility="private")
        rename.click(h.rename, [conv, title], conversations, api_visibility="private")
        picker.input(h.pick, [conv, picker], None, api_visibility="private")
        export.click(h.export, conv, exported, api_visibility="private")
        open_ref.click(h.view, ref, [viewer, original, side], api_visibility="private").then(
            None, None, None, js=SCROLL_TO_FOCUS)
        files.upload(h.upload_and_suggest, [files, replace], [status, table, doc, suggestions],
                     api_visibility="private").then(h.picker, picker, picker,
                                                    api_visibility="private")
        suggestions.click(h.try_suggestion, suggestions, [box, picker, main],
                          api_visibility="private").then(
            h.pick, [conv, picker], None, api_visibility="private").then(
            h.chat, asked, answered, api_visibility="private")
        rm.click(h.remove, doc, [status, table, doc], api_visibility="private").then(
            h.picker, picker, picker, api_visibility="private")
        def loaded(request: gr.Request):
            listing = assistant.sources()  # listed once for the table and both pickers
            return (h.documents(listing), h._choices(listing), h.picker([], listing),
                    h.conversation_list(request), gr.update(examples=examples_for(listing)))

        app.load(loaded, None, [table, doc, picker, conversations, chatbot],
                 api_visibility="private")
        gr.api(h.api_ask, api_name="ask")
    return app


def _watch_in_background(assistant: Assistant, folders: list[Path]) -> None:
    """Index the folders now, then keep them in step from a thread; the chat answers
    throughout (searches see the previous version until a batch is written)."""
    import threading

    def report(r) -> None:
        changed = len(r.indexed) + len(r.removed) + len(r.errors)
        if changed:
            print(f"sourcechat: watch: {len(r.indexed)} indexed, {len(r.removed)} removed, "
                  f"{len(r.errors)} failed ({r.chunks_added} passages added)", flush=True)
        for err in r.errors:
            print(f"sourcechat: watch: skipped {err}", flush=True)

    def run() -> None:
        try:
            report(assistant.ingest(folders, progress=False, sync=True))
            print(f"sourcechat: watching {len(folders)} folder(s) for changes", flush=True)
            assistant.watch(folders, report)
        except Exception:  # the chat goes on; the log says why watching stopped
            log.exception("watching the folders stopped")

    threading.Thread(target=run, name="sourcechat-watch", daemon=True).start()


def _backend_choices(configured: str) -> list[str]:
    """The dropdown's choices: the configured backend, embedded, extractive."""
    return list(dict.fromkeys([configured, "embedded", "extractive"]))


def serve(settings, host: str = "127.0.0.1", port: int = 7860,
          auth: list[str] | None = None, watch: list[str] | None = None) -> None:
    """Start the web chat (indexing the sample corpus first if the index is empty).

    With logins (`auth`, SOURCECHAT_AUTH, SOURCECHAT_AUTH_FILE) the page and its API
    answer only after a login. An on-disk index is held by this one process; with a
    Chroma server, several web chats (and ingests) can share it. `watch`: folders kept
    in step with the index while serving (indexed first, then as files change). A data
    dir this process cannot write is served for questions only.
    """
    from filelock import Timeout
    from starlette.middleware import Middleware

    from assistant import build_assistant
    from assistant.factory import serving_lock
    from index.readonly import check_writable, unwritable
    from index.watch import watch_folders
    from ui.auth import logins
    from ui.security import SecurityHeaders

    users = logins(settings, auth)
    read_only = unwritable(settings.data_dir)
    if read_only:  # nothing here can write it: no writer to hold off
        if watch:
            check_writable(settings.data_dir)
        print(f"sourcechat: the data dir {settings.data_dir} is not writable ({read_only}): "
              "answering questions only (documents cannot be added or removed); "
              f"conversations are kept in {chats_file(settings.data_dir)}", flush=True)
    elif not settings.chroma_url:
        lock = serving_lock(settings)
        try:
            lock.acquire(timeout=0)  # held for the server's life; CLI writers check it
        except Timeout:
            raise SourcechatError(f"Another web chat already serves the index in "
                                  f"{settings.data_dir}: use it, give --data-dir, or share a "
                                  "Chroma server (--chroma-url).") from None
    folders = watch_folders(watch or [])
    assistant = build_assistant(settings)
    assistant.ensure_indexed(progress=True)
    if folders:
        _watch_in_background(assistant, folders)
    if assistant.retriever.keyword is not None:  # other writers' changes, found meanwhile
        assistant.retriever.keyword.follow()
    app = build_app(assistant, settings.max_upload_mb)
    app.queue(default_concurrency_limit=4)
    if not users and host not in ("127.0.0.1", "localhost", "::1"):
        print(f"sourcechat: warning: serving on {host} without a login (--auth USER:PASS)",
              file=sys.stderr, flush=True)
    print(f"sourcechat: web chat on http://{host}:{port}"
          + (f" ({len(users)} login(s) required)" if users else ""), flush=True)
    app.launch(server_name=host, server_port=port, share=False, css=CSS, js=VIEWER_JS, quiet=True,
               footer_links=["api"], theme=gr.themes.Soft(), auth=users or None,
               auth_message="sourcechat: log in to chat with the documents.",
               max_file_size=f"{settings.max_upload_mb:g}mb",
               app_kwargs={"middleware": [Middleware(SecurityHeaders)]})
