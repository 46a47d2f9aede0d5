"""Evaluation metrics (exact values on hand-made data), document-question loading and
scoring, and `sourcechat eval` on tiny files (SQuAD, and document questions with the
extractive backend and the stand-in OpenAI-compatible server)."""

from __future__ import annotations

import json

import pytest

from assistant.evaluation import (
    AnswerScore,
    DocumentQuestion,
    contains_answer,
    exact_match,
    f1_score,
    find_nuggets,
    first_hit,
    is_document_questions,
    judge_document,
    load_document_questions,
    load_eval,
    normalize_answer,
    percentile,
    score_answer,
    squad_articles,
    strip_markers,
    summarize_answers,
    tally,
)
from corpus.errors import SourcechatError

TINY = {"version": "v2.0", "data": [
    {"title": "Zorblat", "paragraphs": [
        {"context": "The Zorblat festival is held every March in the town of Quuxville. "
                    "Visitors eat roasted turnips.",
         "qas": [{"id": "z1", "question": "When is the Zorblat festival held?",
                  "answers": [{"text": "every March", "answer_start": 28}],
                  "is_impossible": False},
                 {"id": "z2", "question": "What do visitors of the Zorblat festival eat?",
                  "answers": [{"text": "roasted turnips", "answer_start": 80}],
                  "is_impossible": False}]},
        {"context": "Quuxville has a population of 4,200 and a single bakery.",
         "qas": [{"id": "z3", "question": "What is the population of Quuxville?",
                  "answers": [{"text": "4,200", "answer_start": 30}],
                  "is_impossible": False},
                 {"id": "z4", "question": "Who founded the bakery of Quuxville?",
                  "answers": [],
                  "plausible_answers": [{"text": "a single bakery", "answer_start": 44}],
                  "is_impossible": True}]}]},
    {"title": "Quokka", "paragraphs": [
        {"context": "Quokkas are small marsupials that live on Rottnest Island near Perth.",
         "qas": [{"id": "q1", "question": "Where do quokkas live?",
                  "answers": [{"text": "Rottnest Island", "answer_start": 40}],
                  "is_impossible": False}]}]},
]}


def test_normalization_and_squad_metrics_exact_values():
    assert normalize_answer("The  Cat's hat!") == "cats hat"
    assert exact_match("the cat", ["Cat"]) == 1.0
    assert exact_match("a cat sat", ["cat"]) == 0.0
    assert f1_score("a red cat sat", ["the cat sat"]) == pytest.approx(0.8)
    assert f1_score("dog", ["cat", "dog house"]) == pytest.approx(2 / 3)
    assert f1_score("", ["cat"]) == 0.0
    assert contains_answer("More than 93,000 people.", ["93,000"])
    assert not contains_answer("In 1930 there were few.", ["93"])
    assert first_hit(["no", "yes: Rottnest Island", "Rottnest Island"], ["rottnest island"]) == 1
    assert first_hit(["no"], ["x"]) is None
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10.0], 95) == 10.0


def test_load_squad_and_seed_formats(tmp_path):
    f = tmp_path / "tiny.json"
    f.write_text(json.dumps(TINY))
    data = load_eval(f)
    assert list(data.documents) == ["Zorblat#0", "Zorblat#1", "Quokka#0"]
    assert data.articles == {"Zorblat": ["Zorblat#0", "Zorblat#1"], "Quokka": ["Quokka#0"]}
    assert [q.id for q in data.answerable] == ["z1", "z2", "z3", "q1"]
    assert data.questions[3].answerable is False
    seed = tmp_path / "seed.jsonl"
    seed.write_text('{"id": "s1", "question": "Q?", "answers": ["a", "b"], "answerable": true, '
                    '"all_answers_required": true}\n')
    (q,) = load_eval(seed).questions
    assert q.answers == ("a", "b") and q.all_required and not load_eval(seed).documents


def test_bad_eval_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SourcechatError, match="neither SQuAD"):
        load_eval(bad)


@pytest.mark.slow
def test_eval_command_on_a_tiny_file(tmp_path, capsys):
    from ui.cli import main

    f = tmp_path / "tiny.json"
    f.write_text(json.dumps(TINY))
    status = main(["--data-dir", str(tmp_path / "d"), "eval", str(f), "--k", "1", "3",
                   "--answers", "4", "--llm", "extractive", "--json", "--quiet"])
    assert status == 0
    out = json.loads(capsys.readouterr().out)
    assert out["questions"] == 4 and out["chunks"] == 3
    assert out["recall"] == {"1": 1.0, "3": 1.0}
    assert out["baseline_recall"] == {"1": 1.0, "3": 1.0}
    assert out["paragraph_recall"] == {"1": 1.0, "3": 1.0}
    assert out["mrr"] == 1.0
    assert out["answers"] == 4 and out["answered"] == 4
    assert out["citation_precision"] == 1.0
    # 3 of 4 quoted sentences hold their gold span; "What do visitors of the Zorblat festival
    # eat?" is answered with the festival's date sentence (its cited passage holds the answer)
    assert out["contains_gold"] == 0.75
    assert 0 < out["f1"] < 1 and out["em"] == 0.0  # sentence answers vs span golds
    assert out["declining_questions"] in ({"out_of_corpus": 1, "answerable": 3},
                                          {"out_of_corpus": 4, "answerable": 1})
    assert out["declined_unanswerable"] == 1.0 and out["declined_answerable"] == 0.0
    assert set(out["latency_ms"]) == {"p50", "p95"}
    # premise checks: the impossible question about an indexed article, and the answerable
    premise = out["premise"]
    assert premise["impossible"]["questions"] == 1 and premise["answerable"]["questions"] == 4
    assert premise["answerable"]["answered"] == 1.0
    imp = premise["impossible"]
    assert imp["answered"] + imp["partial"] + imp["declined"] == 1.0
    assert imp["not_answered"] == round(1 - imp["answered"], 4)
    # "Who founded the bakery?" -- the text names no founder; if it was answered, the
    # answer quotes the bakery sentence, which holds the decoy
    assert imp["answered_with_decoy"] == imp["answered"]


# -- document questions ----------------------------------------------------------------------
DOC_LINES = [
    {"id": "t1", "kind": "list", "question": "When is the Zorblat festival held?",
     "scope": ["Zorblat.txt"], "nuggets": [["March"], ["Quuxville", "Quux"]],
     "min_nuggets": 1},
    {"id": "t2", "kind": "compare", "question": "Compare Zorblat and quokkas.",
     "nuggets": [["turnips"], ["marsupials"]], "min_nuggets": 2, "min_documents": 2},
    {"id": "t3", "kind": "decline", "question": "What do my documents say about the Aztec "
     "calendar?", "nuggets": [], "answerable": False},
]


def _write_lines(path, items) -> None:
    path.write_text("".join(json.dumps(item) + "\n" for item in items))


def test_load_document_questions_and_detect_the_format(tmp_path):
    f = tmp_path / "docs.jsonl"
    _write_lines(f, DOC_LINES)
    assert is_document_questions(f)
    t1, t2, t3 = load_document_questions(f)
    assert t1 == DocumentQuestion("t1", "list", "When is the Zorblat festival held?",
                                  (("March",), ("Quuxville", "Quux")), 1, 0, ("Zorblat.txt",),
                                  True)
    assert (t2.min_documents, t2.scope, t2.answerable) == (2, (), True)
    assert (t3.nuggets, t3.min_nuggets, t3.answerable) == ((), 0, False)
    seed = tmp_path / "seed.jsonl"
    seed.write_text('{"id": "s1", "question": "Q?", "answers": ["a"], "answerable": true}\n')
    squad = tmp_path / "tiny.json"
    squad.write_text(json.dumps(TINY))
    assert not is_document_questions(seed) and not is_document_questions(squad)
    assert not is_document_questions(tmp_path / "missing.jsonl")
    _write_lines(f, [DOC_LINES[0], {**DOC_LINES[1], "min_nuggets": 3}])
    with pytest.raises(SourcechatError, match="docs.jsonl:2: min_nuggets must be between"):
        load_document_questions(f)
    _write_lines(f, [{"id": "x", "nuggets": []}])
    with pytest.raises(SourcechatError, match="docs.jsonl:1: not a document question"):
        load_document_questions(f)


def test_nuggets_and_the_pass_criteria():
    t1, t2, t3 = (DocumentQuestion("t1", "list", "Q", (("March",), ("Quuxville", "Quux")), 1),
                  DocumentQuestion("t2", "compare", "Q", (("turnips",), ("marsupials",)), 2, 2),
                  DocumentQuestion("t3", "decline", "Q", (), 0, answerable=False))
    assert find_nuggets("Held every MARCH in quux.", t1.nuggets) == ("March", "Quux")
    assert find_nuggets("Citizens’ Alliance", [["Citizens' Alliance"], ["x"]]) == (
        "Citizens' Alliance", None)
    assert strip_markers("Rollo [1] led [2][3] them [1, 2].") == "Rollo led them."
    # markers do not break a nugget: "every March" is found across "[1]"
    v = judge_document(DocumentQuestion("m", "k", "Q", (("every march",),), 1),
                       "Held every [1] March.", True, ["/c/Zorblat.txt"])
    assert (v.passed, v.nuggets, v.documents) == (True, ("every march",), ("/c/Zorblat.txt",))
    assert judge_document(t1, "Held in March [1].", True, ["/c/Zorblat.txt"]).passed
    assert not judge_document(t1, "Held in spring [1].", True, ["/c/Zorblat.txt"]).passed
    assert not judge_document(t1, "March", False, []).passed  # declined but answerable
    both = "Turnips [1]. Marsupials [2]."
    one_doc = judge_document(t2, both, True, ["/c/Zorblat.txt", "/c/Zorblat.txt"])
    assert (one_doc.passed, one_doc.nuggets_found, one_doc.documents) == (
        False, 2, ("/c/Zorblat.txt",))
    assert judge_document(t2, both, True, ["/c/Zorblat.txt", "/c/Quokka.txt"]).passed
    assert not judge_document(t2, "Turnips [1].", True, ["/c/Z.txt", "/c/Q.txt"]).passed
    assert judge_document(t3, "The documents do not cover this.", False, []).passed
    assert not judge_document(t3, "Aztecs [1].", True, ["/c/Z.txt"]).passed


def test_tally_counts_passes_per_backend_and_kind():
    rows = [{"backend": "extractive", "kind": "list", "passed": True},
            {"backend": "extractive", "kind": "summary", "passed": False},
            {"backend": "openai:m", "kind": "list", "passed": True},
            {"backend": "openai:m", "kind": "summary", "passed": True}]
    t = tally(rows)
    assert t["overall"] == {"passed": 3, "total": 4, "rate": 0.75}
    assert t["by_backend"] == {"extractive": {"passed": 1, "total": 2, "rate": 0.5},
                               "openai:m": {"passed": 2, "total": 2, "rate": 1.0}}
    assert t["by_kind"]["summary"] == {"passed": 1, "total": 2, "rate": 0.5}
    assert t["by_backend_kind"]["extractive"] == {
        "list": {"passed": 1, "total": 1, "rate": 1.0},
        "summary": {"passed": 0, "total": 1, "rate": 0.0}}
    assert tally([])["overall"] == {"passed": 0, "total": 0, "rate": 0.0}


def test_answer_scores_contains_gold_over_all_questions():
    right = score_answer("It is held every March [1].", True,
                         ["The Zorblat festival is held every March."], ["every March"])
    assert right == AnswerScore(True, 0.0, pytest.approx(2 * (2 / 5) * 1 / (2 / 5 + 1)),
                                True, True)
    exact = score_answer("every March [1]", True, ["Nothing here."], ["every March"])
    assert exact == AnswerScore(True, 1.0, 1.0, True, False)
    declined = score_answer("every March", False, [], ["every March"])
    assert declined == AnswerScore(False, 0.0, 0.0, False, False)
    summary = summarize_answers([right, exact, declined])
    assert summary == {"answers": 3, "answered": 2, "em": round(1 / 3, 4),
                       "f1": round((right.f1 + 1.0) / 3, 4),
                       "contains_gold": round(2 / 3, 4), "citation_precision": 0.5}


def test_squad_articles_become_files(tmp_path):
    from assistant.eval_run import write_document_corpus
    from corpus import SAMPLE_DIR

    squad = tmp_path / "tiny.json"
    squad.write_text(json.dumps(TINY))
    assert squad_articles(squad) == {
        "Zorblat": TINY["data"][0]["paragraphs"][0]["context"] + "\n\n"
        + TINY["data"][0]["paragraphs"][1]["context"],
        "Quokka": TINY["data"][1]["paragraphs"][0]["context"]}
    folder = write_document_corpus(squad, tmp_path / "corpus")
    samples = sorted(f.name for f in SAMPLE_DIR.iterdir() if f.is_file())
    assert sorted(f.name for f in folder.iterdir()) == sorted(
        ["Quokka.txt", "Zorblat.txt", *samples])
    assert (folder / "Quokka.txt").read_text() == squad_articles(squad)["Quokka"] + "\n"
    with pytest.raises(SourcechatError, match="pass --corpus-squad PATH"):
        write_document_corpus(tmp_path / "nowhere.json", tmp_path / "c2")


def test_document_eval_without_its_corpus_says_what_to_pass(tmp_path, capsys):
    from ui.cli import main

    f = tmp_path / "docs.jsonl"
    _write_lines(f, DOC_LINES)
    assert main(["eval", str(f), "--llm", "extractive", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: The document questions are about the articles of ")
    assert err.rstrip().endswith("squad-dev-public.json, which is not there: pass "
                                 "--corpus-squad PATH.")
    assert main(["eval", str(f), "--llm", "gpt4", "--quiet"]) == 1
    assert "Unknown backend 'gpt4'" in capsys.readouterr().err


@pytest.mark.slow
def test_document_eval_through_extractive_and_the_standin(tmp_path, capsys):
    from tests.standin import standin_server
    from ui.cli import main

    f = tmp_path / "docs.jsonl"
    _write_lines(f, DOC_LINES)
    (tmp_path / "squad-dev-public.json").write_text(json.dumps(TINY))  # found beside f
    with standin_server() as server:
        status = main(["--data-dir", str(tmp_path / "d"), "eval", str(f), "--llm", "extractive",
                       "--llm", "openai:standin", "--llm-base-url", server.base_url, "--json",
                       "--quiet"])
        assert status == 0
        out = json.loads(capsys.readouterr().out)
        shown = [r["messages"][-1]["content"] for r in server.requests]
    assert (out["format"], out["questions"], out["backends"]) == (
        "documents", 3, ["extractive", "openai:standin"])
    assert out["documents"] == 3  # the sample, Zorblat.txt, Quokka.txt
    rows = {(r["backend"], r["id"]): r for r in out["results"]}
    for backend in out["backends"]:
        lookup, decline = rows[backend, "t1"], rows[backend, "t3"]
        assert lookup["passed"] and lookup["found"], lookup
        assert lookup["nuggets_found"] == ["March", "Quuxville"]
        assert lookup["documents_cited"] == ["Zorblat.txt"]  # the scope was applied
        assert isinstance(lookup["kind_detected"], str) and lookup["seconds"] > 0
        assert decline["passed"] and not decline["found"] and decline["error"] is None
    assert out["by_backend_kind"]["extractive"]["decline"] == {
        "passed": 1, "total": 1, "rate": 1.0}
    assert out["overall"]["total"] == 6
    # the stand-in was shown t1 with the Zorblat passages only (its scope), never the quokkas
    t1 = [text for text in shown if text.rstrip().endswith(DOC_LINES[0]["question"])]
    assert t1 and all("Zorblat festival" in text and "Rottnest" not in text for text in t1)
