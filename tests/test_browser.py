"""The web chat as a person uses it: real `sourcechat serve`, real headless Chromium.

Chromium is Debian's (/usr/bin/chromium, installed by .ci/run), driven by
Playwright's Python package; no browser download. A screenshot is saved to
tests/artifacts/ on failure (and to $CHAT_SCREENSHOT after the first answer,
which is how docs/chat.png is made).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_QUESTION
from tests.serving import running_serve

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]
ANSWER_TIMEOUT_MS = 240_000  # readiness waits, not performance limits: the machine is shared


@pytest.fixture()
def server(tmp_path, model_cache):
    env = {"SOURCECHAT_DATA_DIR": str(tmp_path / "data"),
           "SOURCECHAT_MODEL_CACHE_DIR": str(model_cache)}
    try:
        with running_serve(tmp_path, env=env) as url:
            yield url
    except RuntimeError as err:
        pytest.fail(str(err))


@pytest.fixture()
def page(request):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: apt-get install chromium (.ci/run does it)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 950})
        pg.set_default_timeout(ANSWER_TIMEOUT_MS)
        yield pg
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            ARTIFACTS.mkdir(exist_ok=True)
            pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        browser.close()


def _ask(page, question: str, n_answers_before: int):
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    # the sources panel fills when the final answer is in
    page.wait_for_function(
        "n => document.querySelectorAll('#chat [data-testid=\"bot\"]').length > n "
        "&& !document.querySelector('#sources .sc-empty') "
        "|| document.querySelector('#sources').innerText.includes('No passage')",
        arg=n_answers_before)
    page.wait_for_selector("#sources .sc-source")
    bots = page.locator('#chat [data-testid="bot"]').all_inner_texts()
    return bots, page.locator("#sources").inner_text()


def test_chat_answers_with_cited_sources_and_uploads(server, page, tmp_path):
    page.goto(server, wait_until="networkidle")
    bots, sources = _ask(page, SAMPLE_QUESTION, 0)
    answer = bots[0]
    assert "93,000" in answer
    assert "[1]" in answer
    assert "[1]" in sources and "More than 93,000 people migrated" in sources
    assert page.locator("#sources mark").count() >= 1
    if os.environ.get("CHAT_SCREENSHOT"):
        page.screenshot(path=os.environ["CHAT_SCREENSHOT"])

    # a question about the document as a whole: a cited bulleted summary, sources listed
    n_before = page.locator('#chat [data-testid="bot"]').count()
    bots, sources = _ask(page, "Summarize the document.", n_before)
    summary = page.locator('#chat [data-testid="bot"]').nth(n_before)
    assert summary.locator("li").count() >= 3  # rendered as a list, not one run-on line
    assert "93,000" in bots[n_before] and "[2]" in bots[n_before]
    assert "[2]" in sources and page.locator("#sources .sc-source").count() >= 2

    # upload a document from the page, then ask what only it answers
    doc = tmp_path / "zorblat.txt"
    doc.write_text("The Zorblat festival is held every March in the town of Quuxville.\n")
    page.get_by_role("tab", name="Documents").click()
    page.locator("#upload input[type=file]").set_input_files(str(doc))
    page.wait_for_selector("#upload-status :text('zorblat.txt: added')")
    page.wait_for_function(
        "document.querySelector('#documents').innerText.includes('zorblat.txt')")
    page.get_by_role("tab", name="Chat").click()
    n_before = page.locator('#chat [data-testid="bot"]').count()
    bots, sources = _ask(page, "When is the Zorblat festival held?", n_before)
    assert "March" in bots[n_before]
    assert "zorblat.txt" in sources
