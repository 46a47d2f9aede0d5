"""End to end with the real pieces: Chroma on disk, MiniLM, SmolLM2, the console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.seed_eval import DEFAULT_QUESTIONS, score
from corpus import SAMPLE_DIR
from tests.conftest import SAMPLE_QUESTION

pytestmark = pytest.mark.slow
SAMPLE_TEXT = (Path(str(SAMPLE_DIR)) / "000_4c4ce3bc77b71a51.txt").read_text()


@pytest.fixture(params=["llamacpp", "transformers"])
def runtime_assistant(request, sample_embedded, sample_transformers):
    """The embedded backend on each runtime (llama.cpp: the default, when installed)."""
    if request.param == "llamacpp":
        assert sample_embedded.chat_model.uses_llamacpp(), "make test installs llama.cpp"
        return sample_embedded
    assert not sample_transformers.chat_model.uses_llamacpp()
    return sample_transformers


def test_embedded_model_answers_with_the_cited_passage(runtime_assistant):
    answer = runtime_assistant.ask(SAMPLE_QUESTION)
    assert answer.found
    assert "93,000" in answer.text
    assert "[1]" in answer.text
    assert any("93,000" in c.passage.text for c in answer.citations)
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))


def test_embedded_model_declines_general_knowledge(sample_embedded):
    answer = sample_embedded.ask("What is the capital of France?")
    assert not answer.found
    assert answer.citations == []
    assert "Paris" not in answer.text


def test_embedded_streams_then_gives_the_final_answer(sample_embedded):
    events = list(sample_embedded.stream("Who is the Tokyo director at Human Rights Watch?"))
    pieces = [e for e in events if isinstance(e, str)]
    assert len(pieces) > 1  # streamed token by token
    final = events[-1]
    assert "Kanae Doi" in final.text and final.citations


@pytest.mark.parametrize("backend", ["embedded", "transformers", "extractive"])
def test_seed_questions_floor(backend, sample_embedded, sample_transformers, sample_extractive):
    assistant = {"embedded": sample_embedded, "transformers": sample_transformers,
                 "extractive": sample_extractive}[backend]
    items = [json.loads(line) for line in DEFAULT_QUESTIONS.read_text().splitlines() if line]
    right = declined = 0
    for item in items:
        answer = assistant.ask(item["question"])
        if item["answerable"]:
            ok, cited = score(answer, item)
            right += answer.found and ok and cited
        else:
            declined += not answer.found
    assert right >= 10, f"{right}/12 answerable questions right and cited"
    assert declined >= 5, f"{declined}/6 unanswerable questions declined"


def test_public_api_indexes_the_sample_on_first_use(monkeypatch):
    monkeypatch.setenv("SOURCECHAT_LLM", "extractive")
    from assistant import ask, retrieve

    passages = retrieve("How many people migrated?", k=5)
    assert len(passages) == 2  # the sample document is two chunks at the default size
    top = passages[0]
    assert "93,000" in top.text
    assert SAMPLE_TEXT[top.start:top.end] == top.text
    assert top.source.endswith("000_4c4ce3bc77b71a51.txt") and top.page is None
    assert passages[0].score >= passages[1].score
    assert SAMPLE_TEXT[passages[1].start:passages[1].end] == passages[1].text
    answer = ask(SAMPLE_QUESTION, history=[])
    assert answer.found and "93,000" in answer.text and answer.citations[0].n == 1


def _cli(*args, env_extra=None, cwd=None):
    env = dict(os.environ, SOURCECHAT_LLM="extractive", **(env_extra or {}))
    exe = Path(sys.executable).with_name("sourcechat")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, env=env,
                          timeout=600, cwd=cwd)


def test_cli_ask_json(tmp_path):
    out = _cli("--data-dir", str(tmp_path / "d"), "ask", SAMPLE_QUESTION, "--json")
    assert out.returncode == 0, out.stderr
    obj = json.loads(out.stdout)
    assert set(obj) >= {"question", "answer", "found", "citations"}
    assert obj["found"] is True and "93,000" in obj["answer"]
    c = obj["citations"][0]
    assert set(c) >= {"n", "source", "page", "start", "end", "text", "score"}
    assert SAMPLE_TEXT[c["start"]:c["end"]] == c["text"]


def test_cli_bad_input_is_one_line_and_nonzero(tmp_path):
    d = str(tmp_path / "d")
    empty = _cli("--data-dir", d, "ask", "  ")
    assert empty.returncode == 1
    assert empty.stderr.strip().count("\n") == 0 and "empty" in empty.stderr
    assert "Traceback" not in empty.stderr

    (tmp_path / "good.txt").write_text("Zorblat is the capital of the planet Quux.")
    (tmp_path / "bad.pdf").write_bytes(b"not a pdf at all")
    ing = _cli("--data-dir", d, "ingest", "--quiet", str(tmp_path / "good.txt"),
               str(tmp_path / "bad.pdf"), str(tmp_path / "missing"))
    assert ing.returncode == 2, ing.stderr
    lines = [ln for ln in ing.stderr.splitlines() if ln.startswith("skipped:")]
    assert len(lines) == 2 and "bad.pdf" in lines[0] + lines[1]
    assert "1 file(s) indexed" in ing.stdout

    srcs = json.loads(_cli("--data-dir", d, "sources", "--json").stdout)
    assert [Path(s["source"]).name for s in srcs] == ["good.txt"]
    assert srcs[0]["chunks"] == 1

    bad_k = _cli("--data-dir", d, "ask", "Quux?", "--k", "0")
    assert bad_k.returncode == 1 and bad_k.stderr == (
        "error: k, the number of passages per question, must be a whole number from 1 to 50; "
        "got 0.\n")

    mismatch = _cli("--data-dir", d, "ask", "What is Zorblat?",
                    env_extra={"SOURCECHAT_EMBEDDING_MODEL": "/nonexistent/model"})
    # another configured model: the index is read with its own, and the user is told
    assert mismatch.returncode == 0 and "Zorblat" in mismatch.stdout
    assert "built with the embedding model" in mismatch.stderr
    assert "sourcechat reindex" in mismatch.stderr

    rm = _cli("--data-dir", d, "remove", "good.txt")
    assert rm.returncode == 0 and "1 chunks" in rm.stdout
    assert json.loads(_cli("--data-dir", d, "sources", "--json").stdout) == []
    gone = _cli("--data-dir", d, "remove", "good.txt")
    assert gone.returncode == 1 and "No indexed document" in gone.stderr


def test_a_decline_is_explained_with_closest_passages_and_unknown_words(sample_extractive):
    from ui.render import sources_html

    answer = sample_extractive.ask("What is the population of Tokyo?")
    assert answer.status == "declined" and answer.citations == []
    assert answer.missing == ("population",)  # "Tokyo" is in the sample, "population" not
    assert 1 <= len(answer.closest) <= 3
    assert all(p.score > 0 and p.text for p in answer.closest)
    data = answer.to_dict()
    assert data["missing_terms"] == ["population"]
    assert [c["id"] for c in data["closest"]] == [p.id for p in answer.closest]
    panel = sources_html(answer)
    assert "No document contains: <b>population</b>" in panel
    assert "not an answer" in panel and panel.count('class="sc-closest"') == len(answer.closest)
    assert 'class="sc-source"' not in panel  # nothing shown as a citation
    answered = sample_extractive.ask(SAMPLE_QUESTION)
    assert answered.closest == () and answered.missing == ()
