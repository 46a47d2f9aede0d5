"""Bad input from ordinary use (issue #20), refused in one line or read as meant: the
documents a question is limited to, k, questions that are not text or carry markup, an
empty path to ingest, and the web chat's empty question (fakes, fast)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.pipeline import _check_question
from corpus.errors import InvalidQuestionError, SourcechatError
from tests.fakes import fake_assistant

LUNCH = "Lunch is served in the cafeteria from 11:30 to 13:30 every weekday."
SLA = "The support SLA is a response within four business hours for priority one tickets."
K_MESSAGE = "k, the number of passages per question, must be a whole number from 1 to 50; got {}."


def _docs(root: Path) -> Path:
    """cafeteria.txt, sla.txt, and sub/copy.txt: the same content as cafeteria.txt."""
    docs = root / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "cafeteria.txt").write_text(LUNCH)
    (docs / "sla.txt").write_text(SLA)
    (docs / "sub" / "copy.txt").write_text(LUNCH)
    return docs


@pytest.fixture()
def office(tmp_path, monkeypatch):
    """A fake assistant over the three documents, run from the folder above them."""
    a = fake_assistant(tmp_path / "data")
    docs = _docs(tmp_path)
    report = a.ingest([str(docs)], progress=False)
    assert [Path(d).name for d, _ in report.duplicates] == ["copy.txt"]
    monkeypatch.chdir(tmp_path)
    return a, docs


@pytest.mark.parametrize("given", [
    "cafeteria.txt", "docs/cafeteria.txt", "./docs/cafeteria.txt", "docs/sub/../cafeteria.txt",
    "docs/sub/copy.txt",  # a copy, indexed once under the other name
    "CAFETERIA",  # replaced below by the absolute path
])
def test_a_source_is_found_by_name_relative_path_absolute_path_or_copy(office, given):
    a, docs = office
    cafeteria = str((docs / "cafeteria.txt").resolve())
    given = cafeteria if given == "CAFETERIA" else given
    for sources in ([given], given):  # a list, or one source as a plain string
        passages = a.retrieve("When is lunch served?", sources=sources)
        assert {p.source for p in passages} == {cafeteria}
        assert a.ask("When is lunch served?", sources=sources).scope == (cafeteria,)


def test_an_unknown_source_is_one_line_naming_the_close_documents(office):
    a, _ = office
    with pytest.raises(SourcechatError) as err:
        a.ask("When is lunch served?", sources=["cafeteria.tx"])
    assert str(err.value) == ("No indexed document matches 'cafeteria.tx' (did you mean "
                              "cafeteria.txt?): see `sourcechat sources` for the list.")
    with pytest.raises(SourcechatError) as err:
        a.retrieve("When is lunch served?", sources="missing/nothing-like-it.pdf")
    assert str(err.value) == ("No indexed document matches 'missing/nothing-like-it.pdf': "
                              "see `sourcechat sources` for the list.")
    with pytest.raises(SourcechatError, match="^sources must be document names or paths"):
        a.ask("When is lunch served?", sources=[5])
    assert a.remove("./docs/sla.txt")[1] == 1  # remove resolves names the same way
    with pytest.raises(SourcechatError) as err:  # but a copy's path never removes the original
        a.remove("docs/sub/copy.txt")
    cafeteria = str((Path("docs") / "cafeteria.txt").resolve())
    assert str(err.value) == (f"'docs/sub/copy.txt' is not indexed itself: it has the same "
                              f"content as {cafeteria}, indexed once.")
    assert [s for s, _, _ in a.sources()] == [cafeteria]


@pytest.mark.parametrize("k", [0, -5, 51, 1000, 10**9, "abc", "5", 2.5, True, float("nan")])
def test_k_outside_1_to_50_or_not_a_whole_number_is_refused(office, k):
    a, _ = office
    message = K_MESSAGE.format(repr(k))
    for call in (lambda: a.retrieve("When is lunch served?", k=k),
                 lambda: a.ask("When is lunch served?", k=k)):
        with pytest.raises(SourcechatError) as err:
            call()
        assert str(err.value) == message


def test_k_within_the_limit_is_taken(office):
    a, _ = office
    assert len(a.retrieve("When is lunch served?", k=1)) == 1
    assert len(a.retrieve("When is lunch served?", k=50)) == 2  # all there is
    assert len(a.retrieve("When is lunch served?", k=1.0)) == 1  # a JSON number, whole


def test_the_limit_is_the_settings_one():
    from assistant.settings import MAX_K, Settings

    assert MAX_K == 50 and Settings.load(k=MAX_K).k == MAX_K
    with pytest.raises(SourcechatError, match="^invalid setting k: "):
        Settings.load(k=MAX_K + 1)


@pytest.mark.parametrize("question", [5, ["When is lunch served?"], {"q": 1}, b"bytes"])
def test_a_question_that_is_not_text_says_so(question):
    with pytest.raises(InvalidQuestionError) as err:
        _check_question(question)
    assert str(err.value) == (f"The question must be text, not {type(question).__name__}: "
                              "type a question about your documents.")


@pytest.mark.parametrize(("given", "read"), [
    ("<script>alert(1)</script> When is lunch served?", "When is lunch served?"),
    ("<img src=x onerror=alert(1)> What is the SLA?", "What is the SLA?"),
    ("What is the <b>SLA</b>?", "What is the SLA ?"),
    ("<!-- hidden --> What is <svg onload=alert(1)><circle/></svg>the SLA?", "What is the SLA?"),
    ("<IFRAME SRC='x'>fallback</IFRAME>When is lunch served?", "When is lunch served?"),
    ("Is 3 < 5 and 7 > 2?", "Is 3 < 5 and 7 > 2?"),  # not markup: kept
    ("What does <tenant-id> mean?", "What does <tenant-id> mean?"),  # not an HTML tag
])
def test_markup_is_stripped_from_questions(given, read):
    assert _check_question(given) == read


@pytest.mark.parametrize("question", ["", "   ", None, "<b></b>", "<script>alert(1)</script>",
                                      "<img src=x onerror=alert(1)>"])
def test_a_question_that_is_only_markup_is_empty(question):
    with pytest.raises(InvalidQuestionError, match="^The question is empty"):
        _check_question(question)


@pytest.mark.parametrize("empty", ["", "   ", "\t"])
def test_an_empty_path_to_ingest_is_refused_and_nothing_is_indexed(tmp_path, monkeypatch, empty):
    a = fake_assistant(tmp_path / "data")
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text(LUNCH)
    monkeypatch.chdir(work)  # "" used to mean this folder, recursively
    for paths in ([empty], [str(work / "notes.txt"), empty], empty):
        with pytest.raises(SourcechatError) as err:
            a.ingest(paths, progress=False)
        assert str(err.value) == "An empty path was given: name the files or folders to index."
    assert a.store.count() == 0 and a.sources() == []
    with pytest.raises(SourcechatError, match="^An empty path was given"):
        a.watch([empty])


def test_one_path_as_a_string_is_one_path(tmp_path):
    a = fake_assistant(tmp_path / "data")
    (tmp_path / "notes.txt").write_text(LUNCH)
    report = a.ingest(str(tmp_path / "notes.txt"), progress=False)
    assert report.indexed == [str((tmp_path / "notes.txt").resolve())] and report.ok


def test_an_empty_question_in_the_web_chat_adds_no_user_bubble(tmp_path):
    from ui.app import Handlers

    h = Handlers(fake_assistant(tmp_path / "data"))
    before = [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]
    for empty in ("", "   "):
        *_, (messages, _, box) = h.respond(empty, before, 5, "extractive")
        assert messages[:2] == before and box == ""
        assert [m["role"] for m in messages] == ["user", "assistant", "assistant"]
        assert messages[-1]["content"] == ("Error: The question is empty: type a question about "
                                           "your documents.")


def test_a_question_in_the_web_chat_is_shown_as_typed_never_as_markup(office):
    from ui.app import Handlers, chat_history

    a, _ = office
    h = Handlers(a)
    typed = "<img src=x onerror=alert(1)> When is [lunch] served?"
    *_, (messages, _, _) = h.respond(typed, [], 5, "extractive")
    assert messages[0] == {"role": "user", "content": "&lt;img src=x onerror=alert(1)&gt; "
                                                      "When is &#91;lunch&#93; served?"}
    assert chat_history(messages)[0] == {"role": "user", "content": typed}  # as typed again


# -- the real pieces: MiniLM, the console script, a served web chat (slow) ------------------
def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`sourcechat ARGS` as people run it, in `cwd` (the data dir: the test's)."""
    return subprocess.run([sys.executable, "-m", "ui", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600,
                          env={**os.environ, "SOURCECHAT_LLM": "extractive"})


@pytest.mark.slow
def test_cli_names_a_corrupt_pdf_once_and_keeps_the_libraries_quiet(tmp_path):
    from tests.files import make_pdf

    docs = _docs(tmp_path)
    whole = make_pdf(["The annual report covers revenue and staffing in some detail."])
    (docs / "broken.pdf").write_bytes(whole[:-10])  # its %%EOF cut off
    (docs / "garbage.pdf").write_bytes(b"not a pdf at all")
    done = _cli("ingest", "docs", cwd=tmp_path)  # with the progress bar
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert said.count("broken.pdf") == 1 and said.count("garbage.pdf") == 1, said
    assert len([line for line in said.splitlines() if "copy.txt: same content" in line]) == 1
    for noise in ("EOF marker", "invalid pdf header", "startxref", "CAUTION"):
        assert noise not in said, said
    assert "2 file(s) indexed" in done.stdout


@pytest.mark.slow
def test_cli_refuses_an_empty_path_and_resolves_sources(tmp_path):
    docs = _docs(tmp_path)
    for empty in ("", " "):
        done = _cli("ingest", empty, cwd=docs)  # "" was this folder, recursively
        assert (done.returncode, done.stdout) == (1, "")
        assert done.stderr == ("error: An empty path was given: name the files or folders to "
                               "index.\n")
    assert json.loads(_cli("sources", "--json", cwd=tmp_path).stdout) == []

    assert _cli("ingest", "--quiet", "docs", cwd=tmp_path).returncode == 0
    cafeteria = str((docs / "cafeteria.txt").resolve())
    for given in ("./docs/cafeteria.txt", "docs/sub/copy.txt", "cafeteria.txt"):
        done = _cli("ask", "When is lunch served?", "--source", given, "--json", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        got = json.loads(done.stdout)
        assert got["scope"] == [cafeteria] and got["found"], got
        assert {c["source"] for c in got["citations"]} == {cafeteria}
    done = _cli("ask", "When is lunch served?", "--source", "cafeteria.tx", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == ("error: No indexed document matches 'cafeteria.tx' (did you mean "
                           "cafeteria.txt?): see `sourcechat sources` for the list.\n")
    for k in ("0", "1000"):
        done = _cli("ask", "When is lunch served?", "--k", k, cwd=tmp_path)
        assert (done.returncode, done.stdout) == (1, "")
        assert done.stderr == f"error: {K_MESSAGE.format(k)}\n"


@pytest.mark.slow
def test_a_question_with_markup_gets_the_plain_questions_answer(tmp_path):
    from tests import stores

    data = tmp_path / "data"
    a = stores.assistant(data)
    docs = _docs(tmp_path)
    assert a.ingest([str(docs)], progress=False).ok
    for plain, marked in (
            ("When is lunch served?", "<script>alert(1)</script> When is lunch served?"),
            ("What is the SLA?", "<img src=x onerror=alert(1)> What is the SLA?")):
        want, got = a.ask(plain), a.ask(marked)
        assert want.found and got.question == plain
        assert (got.text, got.status) == (want.text, want.status)
        assert [(c.n, c.passage.source, c.passage.start, c.passage.end, c.spans)
                for c in got.citations] == [
            (c.n, c.passage.source, c.passage.start, c.passage.end, c.spans)
            for c in want.citations]
    assert "11:30" in a.ask("<b>When</b> is lunch served?").text
    with pytest.raises(InvalidQuestionError, match="^The question is empty"):
        a.ask("<script>When is lunch served?</script>")


@pytest.mark.slow
def test_the_served_api_refuses_bad_k_and_questions_in_one_line(tmp_path):
    """Through gradio_client, against a real `sourcechat serve`: the one-line message, never
    "The upstream Gradio app has raised an exception"."""
    from gradio_client import Client

    from tests.conftest import SAMPLE_QUESTION
    from tests.serving import running_serve

    with running_serve(tmp_path, "--llm", "extractive") as url:
        client = Client(url, verbose=False)
        for k in (10**9, "abc", 0, -5, 1000):
            with pytest.raises(Exception) as err:  # noqa: PT011 - gradio_client's type varies
                client.predict(SAMPLE_QUESTION, k=k, api_name="/ask")
            assert str(err.value) == K_MESSAGE.format(repr(k)), err.value
        for question in (5, ["When?"]):
            with pytest.raises(Exception) as err:  # noqa: PT011
                client.predict(question, api_name="/ask")
            assert str(err.value) == (f"The question must be text, not "
                                      f"{type(question).__name__}: type a question about "
                                      "your documents."), err.value
        got = client.predict(SAMPLE_QUESTION, k=20, api_name="/ask")
        assert got["found"] and "93,000" in got["answer"]
