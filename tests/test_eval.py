"""Evaluation metrics (exact values on hand-made data) and `sourcechat eval` on a tiny file."""

from __future__ import annotations

import json

import pytest

from assistant.evaluation import (
    contains_answer,
    exact_match,
    f1_score,
    first_hit,
    load_eval,
    normalize_answer,
    percentile,
)

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
                  "answers": [], "plausible_answers": [{"text": "x", "answer_start": 0}],
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
    from corpus.errors import SourcechatError

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SourcechatError, match="neither SQuAD"):
        load_eval(bad)


@pytest.mark.slow
def test_eval_command_on_a_tiny_file(tmp_path, capsys):
    from assistant.cli import main

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
    assert 0 < out["f1"] < 1 and out["em"] == 0.0  # sentence answers vs span golds
    assert out["declining_questions"] in ({"out_of_corpus": 1, "answerable": 3},
                                          {"out_of_corpus": 4, "answerable": 1})
    assert out["declined_unanswerable"] == 1.0 and out["declined_answerable"] == 0.0
    assert set(out["latency_ms"]) == {"p50", "p95"}
