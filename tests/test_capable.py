"""A capable model behind an OpenAI-compatible server gets room, and is still checked per
sentence: a stand-in server on loopback (tests/standin.py) plays the model, with the
real Chroma, the real MiniLM and the real pipeline.
"""

from __future__ import annotations

import pytest

from assistant.profiles import CAPABLE
from tests import stores
from tests.standin import standin_server

ORGS = ("Human Rights Watch, Citizens' Alliance for North Korean Human Rights, Life Funds for "
        "North Korean Refugees, and The Society to Help Returnees to North Korea also urged "
        "Japan to address the plight of North Korean refugees.")
RIGHT = (
    "The letter was sent by four organizations:\n"
    f"- {ORGS} [1]\n"
    "- Kanae Doi is the Tokyo director at Human Rights Watch [2].\n"
    "- More than 93,000 people migrated from Japan to North Korea from 1959 to 1984 [3].\n"
    "\n"
    "The letter asks Japan to press China to protect and recognize North Korean refugees [2]."
)
INVENTED = "- The letter was delivered by carrier pigeon to Osaka in 2011 [1]."
QUESTION = "Which organizations wrote the letter, and what does it ask of Japan?"


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory):
    data = tmp_path_factory.mktemp("capable")
    yield data
    stores.release(data)


def _assistant(sample_dir, server):
    a = stores.assistant(sample_dir, keep=True, llm="openai:standin",
                         llm_base_url=server.base_url)
    a.ensure_indexed()
    return a


def test_a_multi_line_cited_answer_reaches_the_user_whole(sample_dir):
    with standin_server("scripted", RIGHT) as server:
        answer = _assistant(sample_dir, server).ask(QUESTION)
        request = server.requests[-1]
    assert answer.found and answer.dropped == 0
    for fact in ("Citizens' Alliance for North Korean Human Rights", "Life Funds",
                 "Kanae Doi is the Tokyo director", "More than 93,000 people",
                 "press China to protect and recognize"):
        assert fact in answer.text
    assert answer.text.count("\n- ") == 3  # the bullets stay bullets
    # every sentence cites a passage that holds it (wrong markers are re-cited)
    for line, fact in (("Citizens", "Citizens' Alliance"), ("Kanae", "Kanae Doi"),
                       ("93,000", "93,000"), ("press China", "pressing China")):
        cited = [c for c in answer.citations
                 if any(f"[{c.n}]" in ln for ln in answer.text.splitlines() if line in ln)]
        assert cited and all(fact in c.passage.text for c in cited), line
    # room for a capable model: its answer budget, whole paragraphs, no "…" cuts
    assert request.get("max_completion_tokens", request.get("max_tokens")) == \
        CAPABLE.max_new_tokens
    user = request["messages"][-1]["content"]
    assert " … " not in user and "[2]" in user


def test_only_the_invented_sentence_is_dropped(sample_dir):
    with standin_server("scripted", RIGHT.replace("\n\n", f"\n{INVENTED}\n\n")) as server:
        answer = _assistant(sample_dir, server).ask(QUESTION)
    assert answer.found
    assert answer.dropped == 1
    assert "carrier pigeon" not in answer.text and "2011" not in answer.text
    for fact in ("Life Funds", "Kanae Doi", "93,000", "press China"):
        assert fact in answer.text


def test_a_sentence_cut_by_the_token_budget_is_not_shown(sample_dir):
    text = ("More than 93,000 people migrated from Japan to North Korea from 1959 to 1984 [1]. "
            + "Japan has resettled a small number of former Japanese residents who " * 200)
    with standin_server("scripted", text) as server:
        answer = _assistant(sample_dir, server).ask(
            "How many people migrated from Japan to North Korea?")
    assert answer.found
    assert answer.text.startswith("More than 93,000 people migrated")
    assert "resettled" not in answer.text  # cut at the budget: never shown half-written


def test_a_long_document_is_summarized_part_by_part_then_combined(sample_dir, monkeypatch):
    monkeypatch.setenv("SOURCECHAT_LLM_CONTEXT_CHARS", "1000")  # the sample is ~3,400 chars
    with standin_server("faithful") as server:
        a = stores.assistant(sample_dir, keep=True, llm="openai:standin",
                             llm_base_url=server.base_url, llm_context_chars=1000)
        answer = a.ask("Summarize the document.")
        bodies = [r["messages"][-1]["content"] for r in server.requests]
    assert answer.found and answer.kind == "summary"
    maps, reduce = bodies[:-1], bodies[-1]
    assert len(maps) >= 3  # one request per part...
    seen = " ".join(maps)
    for part in ("© 2009 Reuters", "Kanae Doi", "93,000", "daunting task"):
        assert part in seen  # ... and every part of the document was read
    assert len(answer.citations) >= 3
    assert all(c.passage.text in a.store.document(c.passage.source)[0].text
               or any(c.passage.text in p.text for p in a.store.document(c.passage.source))
               for c in answer.citations)
    assert "<sources>" in reduce


def test_document_questions_over_the_sample_without_a_model(sample_extractive):
    """Extractive, the real index: the whole (only) document is summarized, a file name
    selects it, an uncovered subject is declined, an unknown name is one clear error."""
    from assistant import SourcechatError

    a = sample_extractive
    summary = a.ask("What are the key points?", sources=["000_4c4ce3bc77b71a51.txt"])
    assert summary.found and summary.kind == "key_points"
    assert summary.scope == (a.sources()[0][0],)
    for fact in ("Hatoyama", "93,000", "China"):
        assert fact in summary.text
    assert summary.text.count("\n- ") >= 3
    assert {c.passage.source for c in summary.citations} == {a.sources()[0][0]}
    assert summary.citations[0].passage.start == 0  # in document order, from the top
    assert not a.ask("Summarize the report about photosynthesis.").found
    with pytest.raises(SourcechatError, match="No indexed document matches 'nope.txt'"):
        a.ask("Summarize the document.", sources=["nope.txt"])


def test_a_document_question_after_a_conversation_is_about_the_document(sample_extractive):
    """'Summarize the document.' is not a follow-up of the question before it."""
    history = [{"role": "user", "content": "How many people migrated from Japan?"},
               {"role": "assistant", "content": "More than 93,000 people [1]."}]
    answer = sample_extractive.ask("Summarize the document.", history=history)
    assert answer.kind == "summary" and answer.query == "Summarize the document."
    assert "Hatoyama" in answer.text and answer.text.count("\n- ") >= 3
    follow = sample_extractive.ask("Give me an overview of it.", history=history)
    assert follow.query != "Give me an overview of it."  # "it" comes from the conversation


def test_a_summary_whose_sentences_all_fail_falls_back_to_the_documents_own(sample_dir):
    invented = ("- The letter was written on Mars in 2031 [1].\n"
                "- Penguins signed it with quills made of glass [2].")
    with standin_server("scripted", invented) as server:
        answer = _assistant(sample_dir, server).ask("Summarize the document.")
    assert answer.found and answer.kind == "summary"
    assert answer.dropped == 2
    assert "Mars" not in answer.text and "Penguins" not in answer.text
    assert "93,000" in answer.text  # the document's own representative sentences


def test_a_follow_ups_accepted_rewrite_is_the_question_the_model_answers(sample_dir):
    """The model is shown passages, never the conversation: "What did she say about
    Japan?" alone names nobody, so the rewrite it accepted is what it answers."""
    rewrite = "What did Kanae Doi say about Japan?"
    history = [{"role": "user", "content": "Who is Kanae Doi?"},
               {"role": "assistant", "content": "Kanae Doi is the Tokyo director at Human "
                                                "Rights Watch [1]."}]
    with standin_server("scripted", rewrite) as server:
        answer = _assistant(sample_dir, server).ask("What did she say about Japan?", history)
        bodies = [r["messages"][-1]["content"] for r in server.requests]
    assert answer.query == rewrite, answer.text
    assert answer.status == "answered", answer.text
    assert len(bodies) == 2 and "<sources>" not in bodies[0]  # the rewrite, then the answer
    assert bodies[1].split("</sources>")[-1].strip().endswith(rewrite)
