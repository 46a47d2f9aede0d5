"""Question kinds, subjects, scope and per-sentence grounding: logic only, exact values.

The questions here are not the evaluation file's: they are other phrasings, about
other subjects, as people ask them.
"""

from __future__ import annotations

import numpy as np
import pytest

from assistant.citations import Claim, parse_markers, render
from assistant.grounding import Grounding, answer_terms, check_claims, keeps_evidence
from assistant.kinds import classify
from assistant.profiles import CAPABLE, SMALL, default_limits, limits_for
from assistant.scope import covers, display_name, named_documents
from assistant.selection import points_for, representative
from assistant.settings import Settings
from corpus.text import content_terms
from index.passages import Passage


@pytest.mark.parametrize("question, kind", [
    ("Can you summarise this report for me?", "summary"),
    ("Give me a quick recap of the meeting notes.", "summary"),
    ("tl;dr of the paper please", "summary"),
    ("What's this file about?", "overview"),
    ("Tell me about the Hanseatic League.", "overview"),
    ("What do the contracts say about termination?", "overview"),
    ("What are the main findings?", "key_points"),
    ("List the key takeaways from the second chapter.", "key_points"),
    ("What subjects do these files cover?", "collection"),
    ("Which documents mention penicillin?", "collection"),
    ("What documents do I have?", "collection"),
    ("Which suppliers were late in March?", "list"),
    ("List every deadline in the contract.", "list"),
    ("What kinds of vehicles are allowed?", "list"),
    ("Who are the authors?", "list"),
    ("How does the cooling system work?", "explain"),
    ("Why did the bridge collapse?", "explain"),
    ("Explain the refund policy.", "explain"),
    ("What is the difference between leasing and renting?", "compare"),
    ("Compare the 2019 budget with the 2020 budget.", "compare"),
    ("How do cats and dogs differ?", "compare"),
    ("When was the treaty signed?", "lookup"),
    ("Which river flows through the capital?", "lookup"),
    ("Which news agency is credited?", "lookup"),
    ("What is the boiling point of ethanol?", "lookup"),
])
def test_kind_is_the_shape_of_the_answer(question, kind):
    assert classify(question).kind == kind


def test_subject_is_what_is_left_after_the_cue_and_document_words():
    assert classify("Summarize the report about the Hanseatic League.").subject == (
        "hanseatic", "league")
    assert classify("Give me the gist of this document.").subject == ()
    assert classify("What do my files say about solar panels?").subject == ("solar", "panel")
    assert classify("Compare the Romans with the Greeks").sides == ("the Romans", "the Greeks")
    assert classify("What is the difference between leasing and renting?").sides == (
        "leasing", "renting")


DOCS = [("/d/Roman_Empire.txt", "Roman_Empire.txt", 10), ("/d/Greeks.txt", "Greeks.txt", 5),
        ("/d/notes.md", "Meeting notes", 2)]


def test_a_question_resolves_to_the_document_it_names():
    assert display_name("/d/Roman_Empire.txt", "Roman_Empire.txt") == "Roman Empire"
    assert display_name("/d/notes.md", "Meeting notes") == "Meeting notes"
    def named(subject: str) -> list[str]:
        return named_documents(tuple(content_terms(subject)), DOCS)

    assert named("the Roman Empire") == ["/d/Roman_Empire.txt"]
    assert named("the Greeks") == ["/d/Greeks.txt"]
    assert named("meeting notes") == ["/d/notes.md"]
    assert named("meeting") == []
    assert named("empire") == []  # one word of a two-word name does not name it
    assert named("the Greek army") == ["/d/Greeks.txt"]  # the name, and more


def _p(text: str, i: int = 0, source: str = "/d/a.txt") -> Passage:
    return Passage(text, source, None, 0, len(text), 0.5, f"id{i}", "a.txt")


def test_a_subject_is_covered_only_when_all_its_words_meet_in_one_passage():
    ps = [_p("The Yuan calendar was reformed in 1280.", 0),
          _p("Aztec traders reached the coast.", 1)]
    assert covers(("aztec", "calendar"), ps) == []
    assert covers(("yuan", "calendar"), ps) == [0]
    assert covers((), ps) == [0, 1]


def test_each_sentence_is_kept_or_dropped_on_its_own():
    ps = [_p("More than 93,000 people migrated from Japan to North Korea.", 0),
          _p("Kanae Doi is the Tokyo director at Human Rights Watch.", 1)]
    claims = parse_markers("- 93,000 people migrated from Japan to North Korea [1].\n"
                           "- The letter was delivered by carrier pigeon in 1802 [1].\n"
                           "- Kanae Doi directs the Tokyo office of Human Rights Watch [1].",
                           len(ps))
    kept, dropped = check_claims(claims, Grounding(ps), "What does the letter say?", True)
    assert dropped == 1
    assert [c.text for c in kept] == ["93,000 people migrated from Japan to North Korea.",
                                      "Kanae Doi directs the Tokyo office of Human Rights Watch."]
    assert [c.refs for c in kept] == [(0,), (1,)]  # the wrong marker [1] is re-cited to [2]
    assert all(c.bullet for c in kept)


def test_a_sentence_cut_by_the_budget_or_a_role_prefix_is_never_shown():
    ps = [_p("More than 93,000 people migrated from Japan to North Korea.")]
    claims = parse_markers("A: More than 93,000 people migrated from Japan to North", 1)
    assert claims[0].text.startswith("More than")
    assert check_claims(claims, Grounding(ps), "How many migrated?", None) == ([], 0)
    assert check_claims(claims, Grounding(ps), "How many migrated?", False) == ([], 0)
    done = parse_markers("Answer: More than 93,000 people migrated [1].", 1)
    kept, _ = check_claims(done, Grounding(ps), "How many migrated?", None)
    assert [c.text for c in kept] == ["More than 93,000 people migrated."]


def test_a_small_model_sentence_must_keep_what_its_evidence_says():
    evidence = ("The letter noted that Japan has raised awareness about North Korea's human "
                "rights conditions by co-sponsoring several United Nations resolutions.")
    question = "How has Japan raised awareness about North Korea's human rights conditions?"
    assert "co" in answer_terms(evidence, question) or "sponsor" in " ".join(
        answer_terms(evidence, question))
    assert keeps_evidence("Japan raised awareness by co-sponsoring several United Nations "
                          "resolutions.", evidence, question)
    assert not keeps_evidence("Japan raised awareness about North Korea's human rights.",
                              evidence, question)
    assert not keeps_evidence("76,000 people migrated.", "More than 93,000 people migrated.",
                              "How many people migrated?")


def test_render_lays_out_bullets_labels_and_headings():
    ps = [_p("x", i) for i in range(3)]
    claims = [Claim("Romans built roads.", (0,), True, heading="Romans"),
              Claim("Greeks wrote plays.", (1,), True, heading="Greeks"),
              Claim("Both traded.", (2,), True, label="Both")]
    text, cites = render(claims, ps)
    assert text == ("**Romans**\n\n- Romans built roads [1].\n\n**Greeks**\n\n"
                    "- Greeks wrote plays [2].\n- **Both**: Both traded [3].")
    assert [c.n for c in cites] == [1, 2, 3]


def test_limits_are_sized_to_the_backend_and_each_can_be_set():
    assert default_limits("embedded") is SMALL and default_limits("extractive") is SMALL
    for spec in ("openai:gpt", "ollama:llama3", "llamacpp:/m.gguf"):
        assert default_limits(spec) is CAPABLE
    assert SMALL.max_new_tokens == 40 and CAPABLE.max_new_tokens >= 300
    assert CAPABLE.llm_passage_chars == 0 and CAPABLE.llm_passages > SMALL.llm_passages
    s = Settings(max_new_tokens=99, llm_passages=4)
    assert limits_for("openai:gpt", s).max_new_tokens == 99
    assert limits_for("openai:gpt", s).llm_passages == 4
    assert limits_for("openai:gpt", s).llm_context_chars == CAPABLE.llm_context_chars


def test_representative_sentences_cover_every_part_in_document_order():
    assert points_for(4, 10) == 4 and points_for(16, 10) == 6 and points_for(400, 10) == 10
    topics = ["apples", "rivers", "engines", "violins"]
    passages, vecs = [], {}
    for i, topic in enumerate(topics):
        text = " ".join(f"This sentence number {j} talks about {topic} at some length."
                        for j in range(4))
        passages.append(Passage(text, "/d/a.txt", None, i * 1000, i * 1000 + len(text), 0,
                                f"c{i}", "a.txt"))
        base = np.eye(4, dtype=np.float32)[i]
        vecs[f"c{i}"] = np.stack([base + 0.01 * j for j in range(4)])
    picked = representative(passages, lambda ps: {p.id: vecs[p.id] for p in ps}, 4)
    assert [p.passage for p in picked] == [0, 1, 2, 3]  # one point from each part, in order


def test_the_chat_says_when_sentences_were_removed_and_what_the_question_was_limited_to():
    from assistant.citations import Answer
    from ui.render import answer_markdown, sources_html

    one = Answer("Kanae Doi directs it [1].", True, [], dropped=1, scope=("/d/a b.txt",))
    assert answer_markdown(one).endswith(
        "<small><i>1 sentence not supported by the sources was removed.</i></small>")
    assert "2 sentences not supported by the sources were removed." in answer_markdown(
        Answer("x", True, [], dropped=2))
    assert "removed" not in answer_markdown(Answer("x", True, []))
    assert "Limited to: a b.txt" in sources_html(one)


def test_review_findings_stay_fixed():
    from assistant.pipeline import _enumerates
    from assistant.selection import candidates
    from assistant.writer import document_paragraphs

    # an enumeration test that backtracked exponentially on comma lists without "and"
    assert not _enumerates("word,  " * 60)
    assert _enumerates("Austria, Belgium, Denmark and France joined.")
    # chunks with a one-character gap (a single newline dropped): offsets stay exact
    doc = "First para one.\nstill first.\n\nSecond para."
    i = doc.index("\nstill")
    paras = document_paragraphs([  # given out of order, too
        Passage(doc[i + 1:], "/d/a.txt", None, i + 1, len(doc), 0, "b", "a.txt"),
        Passage(doc[:i], "/d/a.txt", None, 0, i, 0, "a", "a.txt")])
    assert [doc[p.start:p.end] for p in paras] == [p.text for p in paras]
    assert [p.id for p in paras] == ["a", "b", "b"]
    # a last bullet without a full stop is kept when the end is unknown
    ps = [_p("France, Germany and Italy are countries.")]
    kept, _ = check_claims(parse_markers("- France [1]\n- Germany [1]\n- Italy [1]", 1),
                           Grounding(ps), "Which countries?", None)
    assert [c.text for c in kept] == ["France", "Germany", "Italy"]
    # a dropped claim's heading goes to the next kept one
    ps = [_p("The Normans conquered England in 1066."), _p("The Huguenots were Protestants.")]
    kept, dropped = check_claims(parse_markers(
        "**Normans**\n- The Normans conquered England in 1066 [1].\n**Huguenots**\n"
        "- Huguenots sailed to the Moon in 1999 [2].\n- The Huguenots were Protestants [2].",
        2), Grounding(ps), "Compare them", True)
    assert dropped == 1 and [c.heading for c in kept] == ["Normans", "Huguenots"]
    # a one-word document name stays the subject
    assert classify("Summarize the Normans article").subject == ("norman",)
    assert classify("What is the 1973 oil crisis article about?").kind == "overview"
    # a document without a quotable sentence still has candidates
    assert candidates([_p("Agenda\n\nBudget\n\nRoadmap")])


def test_a_markdown_image_in_a_document_or_an_answer_never_renders_as_one():
    from assistant.citations import Answer, Citation
    from ui.render import answer_markdown, sources_html, sources_markdown

    leak = "The code is 4471 ![status](http://127.0.0.1:7944/leak.png) and <img src=x>."
    p = _p(leak)
    answer = Answer(f"{leak} [1]", True, [Citation(1, p, ((0, len(leak)),))])
    for shown in (answer_markdown(answer), sources_markdown(answer), sources_html(answer)):
        assert "![" not in shown and "](" not in shown and "<img" not in shown
        assert "127.0.0.1:7944/leak.png" in shown  # shown as text, not loaded
    assert f'<a href="#view-{p.id}_0-{len(leak)}">[1]</a>' in answer_markdown(answer)
