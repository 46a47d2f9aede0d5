"""A stand-in OpenAI-compatible chat server on loopback (stdlib only), for tests and the
evaluation: "a capable model that answers only from the passages it is shown".

Modes, one per server:
- `faithful` (default): the user message holds `<sources>` ... `</sources>` with passages
  `[n] text` separated by blank lines; whatever follows `</sources>` is the task (a leading
  `Question:` label ignored). For each passage, in order, it writes the passage's sentence
  (corpus.text.sentences; excerpts joined by " … " are split there first) sharing the most
  content words with the task (ties: the earliest), verbatim, then ` [n]`;
  one per line, each prefixed `- ` when there are several passages. Without a `<sources>`
  block (a follow-up rewrite prompt, say) it replies with the last line ending in "?", or
  else the last line, minus a leading `Label:`.
- `scripted`: always the text given at construction.

Either way the reply is cut at `max_completion_tokens`/`max_tokens` (whitespace-separated
words count as tokens; finish_reason "length"). Every request body is kept in `.requests`.

    with standin_server() as server:  # server.base_url == "http://127.0.0.1:PORT/v1"
        ChatOpenAI(model="standin", base_url=server.base_url, api_key="x").invoke("Hi?")

    python tests/standin.py --port 8011    # serves until killed
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from corpus.text import content_terms, sentences

MODES = ("faithful", "scripted")
MODEL = "standin"


def faithful_reply(user: str) -> str:
    """What the faithful stand-in answers to a user message."""
    # the last block holding passages (an instruction may name "<sources> and </sources>")
    block = next((b for b in reversed(list(re.finditer(r"<sources>(.*?)</sources>", user, re.S)))
                  if _passages(b.group(1))), None)
    if block is None:
        return _last_question(user)
    task = re.sub(r"(?im)^\s*question:\s*", "", user[block.end():])
    asked = set(content_terms(task))
    passages = _passages(block.group(1))
    lines = []
    for n, text in passages:
        # an excerpt's pieces are joined by " … ": never one sentence across them
        candidates = [s for piece in re.split(r"\s+…\s+", text) for s in sentences(piece)]
        if not candidates:
            continue
        # max() keeps the first of equal scores: ties go to the earliest sentence
        best = max(candidates, key=lambda s: len(asked & set(content_terms(s.text))))
        lines.append(f"{' '.join(best.text.split())} [{n}]")
    if len(lines) > 1:
        lines = [f"- {line}" for line in lines]
    return "\n".join(lines)


def _passages(block: str) -> list[tuple[int, str]]:
    """(n, text) of each `[n] text` paragraph; an unnumbered paragraph continues the last."""
    out: list[tuple[int, str]] = []
    for para in re.split(r"\n\s*\n", block.strip()):
        numbered = re.match(r"\s*\[(\d+)\]\s*(.*)", para, re.S)
        if numbered:
            out.append((int(numbered.group(1)), numbered.group(2).strip()))
        elif out and para.strip():
            out[-1] = (out[-1][0], f"{out[-1][1]}\n\n{para.strip()}")
    return out


def _last_question(user: str) -> str:
    lines = [line.strip() for line in user.splitlines() if line.strip()]
    if not lines:
        return ""
    line = next((x for x in reversed(lines) if x.endswith("?")), lines[-1])
    unlabelled = re.sub(r"^[A-Za-z][A-Za-z -]{0,40}:\s+", "", line)
    return unlabelled or line


def cut(text: str, max_tokens: int | None) -> tuple[list[str], str]:
    """The reply as word pieces (each with the whitespace before it), cut at max_tokens,
    and the finish reason."""
    pieces = re.findall(r"\s*\S+", text)
    if max_tokens is not None and len(pieces) > max_tokens:
        return pieces[:max(max_tokens, 0)], "length"
    return pieces, "stop"


def _user_text(messages: list[dict]) -> str:
    return next((_content(m) for m in reversed(messages) if m.get("role") == "user"), "")


def _content(message: dict) -> str:
    content = message.get("content") or ""
    if isinstance(content, list):  # content parts
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content)


class StandinServer:
    """The stand-in server; `start()` (or `with`) serves it from a background thread."""

    def __init__(self, mode: str = "faithful", text: str | None = None,
                 host: str = "127.0.0.1", port: int = 0):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if mode == "scripted" and text is None:
            raise ValueError("the scripted mode needs its text")
        self.mode, self.text = mode, text
        self.requests: list[dict] = []
        self._httpd = _Server((host, port), _Handler)
        self._httpd.standin = self
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, http://HOST:PORT/v1."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def reply(self, body: dict) -> str:
        """The full (uncut) reply to a chat-completions request body."""
        if self.mode == "scripted":
            return self.text or ""
        return faithful_reply(_user_text(body.get("messages") or []))

    def start(self) -> StandinServer:
        """Serve from a daemon thread."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name="standin-server")
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve from the calling thread (the command line)."""
        self._httpd.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> StandinServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextmanager
def standin_server(mode: str = "faithful", text: str | None = None) -> Iterator[StandinServer]:
    """A running stand-in server on a free loopback port (`.base_url`, `.requests`)."""
    with StandinServer(mode, text) as server:
        yield server


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A client that hangs up (a stopped stream, a closed pool) is no error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers; streams are chunked
    disable_nagle_algorithm = True  # else each small SSE chunk waits for a delayed ACK

    def log_message(self, format, *args):  # noqa: A002 - quiet: tests read .requests
        pass

    def do_GET(self):
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._json(200, {"object": "list", "data": [
                {"id": MODEL, "object": "model", "created": 0, "owned_by": "sourcechat-tests"}]})
        else:
            self._error(404, f"no route GET {self.path}")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._error(404, f"no route POST {self.path}")
            return
        try:
            request = json.loads(body or b"{}")
            assert isinstance(request, dict) and isinstance(request.get("messages"), list)
        except (ValueError, AssertionError):
            self._error(400, "the body must be a JSON object with a messages list")
            return
        server: StandinServer = self.server.standin
        server.requests.append(request)
        text = server.reply(request)
        for stop in [request["stop"]] if isinstance(request.get("stop"), str) else (
                request.get("stop") or []):
            if stop and stop in text:
                text = text[:text.index(stop)]
        limit = request.get("max_completion_tokens", request.get("max_tokens"))
        pieces, finish = cut(text, limit)
        meta = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "created": int(time.time()),
                "model": request.get("model") or MODEL, "system_fingerprint": None}
        prompt_tokens = sum(len(_content(m).split()) for m in request["messages"])
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(pieces),
                 "total_tokens": prompt_tokens + len(pieces)}
        if request.get("stream"):
            self._stream(meta, pieces, finish, usage,
                         bool((request.get("stream_options") or {}).get("include_usage")))
        else:
            self._json(200, {**meta, "object": "chat.completion", "choices": [{
                "index": 0, "message": {"role": "assistant", "content": "".join(pieces),
                                        "refusal": None},
                "logprobs": None, "finish_reason": finish}], "usage": usage})

    def _stream(self, meta: dict, pieces: list[str], finish: str, usage: dict,
                with_usage: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(delta: dict, finish_reason: str | None) -> dict:
            return {**meta, "object": "chat.completion.chunk", "choices": [{
                "index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]}

        events = [chunk({"role": "assistant", "content": ""}, None)]
        events += [chunk({"content": piece}, None) for piece in pieces]
        events.append(chunk({}, finish))
        if with_usage:
            events.append({**meta, "object": "chat.completion.chunk", "choices": [],
                           "usage": usage})
        try:
            for event in events:
                self._chunk(f"data: {json.dumps(event)}\n\n".encode())
            self._chunk(b"data: [DONE]\n\n")
            self._chunk(b"")
        except (BrokenPipeError, ConnectionResetError):  # the client stopped reading
            self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _json(self, status: int, obj: dict) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": {"message": message, "type": "invalid_request_error",
                                      "param": None, "code": None}})


def main() -> None:
    """`python tests/standin.py --port P`: print the base URL, serve until killed."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8011)
    ap.add_argument("--mode", choices=MODES, default="faithful")
    ap.add_argument("--text", help="the reply of the scripted mode")
    args = ap.parse_args()
    server = StandinServer(args.mode, args.text, args.host, args.port)
    print(server.base_url, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
