"""Ordinal and "the other" references in follow-ups (assistant/references.py), resolved
from the previous answer without a model; and the query the pipeline searches with."""

from __future__ import annotations

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from assistant.conversation import (
    is_follow_up,
    previous_exchange,
    resolve_reference,
    standalone_query,
)
from assistant.references import find_reference, listing, names, plain, resolve
from tests.fakes import fake_assistant

HEATER_Q = "What modes does the heater have?"
HEATER_A = "The heater has two modes: eco and turbo [1]."
DEPOT_Q = "Why was the Leeds depot closed?"
BOTH_DEPOTS = ("The Leeds depot closed in 2019 because its lease ended [1]. "
               "The Hull depot closed in 2021 after flooding [1].")


def turns(*messages: str) -> list[dict]:
    return [{"role": ("user", "assistant")[i % 2], "content": m}
            for i, m in enumerate(messages)]


@pytest.mark.parametrize(("answer", "items", "head"), [
    (HEATER_A, ("eco", "turbo"), "modes"),
    ("There are basic, standard, and premium plans [2].", ("basic", "standard", "premium"),
     "plans"),
    ("The stove burns wood, coal or peat [1].", ("wood", "coal", "peat"), ""),
    ("Maria Alvarez and Daniel Osei lead Northwind [1].", ("Maria Alvarez", "Daniel Osei"),
     ""),
    ("- **Eco** – runs for 12 hours [1]\n- **Turbo** – runs for 3 hours [1]",
     ("Eco", "Turbo"), ""),
    ("1. Apples grow in the north [1].\n2. Pears grow in the valley [2].",
     ("Apples grow in the north", "Pears grow in the valley"), ""),
    ("Northwind hired Maria Alvarez in 2005 and Tom Berg in 2018 [1].",
     ("Maria Alvarez", "Tom Berg"), ""),  # no list: the names it mentions
    ("The depot closed in 2019 [1].", (), ""),
])
def test_the_items_of_an_answer_are_read_in_order(answer, items, head):
    found = listing(answer)
    assert (found.items, found.head) == (items, head)


def test_an_answer_as_the_web_chat_shows_it_is_read_as_its_words():
    shown = ('**⚠️ Partial answer:** Maria Alvarez &amp; Daniel Osei lead it '
             '<a href="#view-abc_0-10">[1]</a>.\n\n<small><i>1 sentence was removed.</i></small>')
    assert plain(shown).startswith("⚠️ Partial answer: Maria Alvarez & Daniel Osei lead it.")
    assert names("The Leeds depot closed. In 2021 the CEO of Hull Ltd said so.") == \
        ["Leeds", "Hull Ltd"]  # a sentence's opening word and acronyms are not names


@pytest.mark.parametrize(("question", "found"), [
    ("How long does the second one last?", (14, 28, 2, "")),
    ("What about the last?", (11, 19, -1, "")),
    ("And the latter?", (4, 14, -1, "")),
    ("Tell me about number 2.", (14, 22, 2, "")),
    ("How long does the second mode last?", (14, 29, 2, "mode")),  # "modes" in the context
    ("Why was the other depot closed?", (8, 23, 0, "depot")),
    ("Who was the first president of Kenya?", None),  # no president in the context
    ("What is on the other hand?", None),
])
def test_a_reference_is_an_ordinal_or_the_other(question, found):
    ref = find_reference(question, f"{HEATER_Q} {HEATER_A} {DEPOT_Q}")
    assert (ref and (ref.start, ref.end, ref.position, ref.noun)) == found


@pytest.mark.parametrize(("question", "previous", "answer", "query"), [
    ("How long does the second one last?", HEATER_Q, HEATER_A,
     "How long does the turbo mode last? (heater)"),
    ("How long does the second mode last?", HEATER_Q, HEATER_A,
     "How long does the turbo mode last? (heater)"),
    ("And the first one?", HEATER_Q, HEATER_A, "And the eco mode? (heater)"),
    ("And why was the other depot closed?", DEPOT_Q, BOTH_DEPOTS,
     "And why was the Hull depot closed?"),
    ("What about the second one?", "Who is the CEO of Northwind?",
     "Northwind Traders has two co-CEOs: Maria Alvarez and Daniel Osei [1].",
     "What about Daniel Osei?"),  # a name is its own topic
    ("What does the last one cost?", "Which plans are there?",
     "There are basic, standard and premium plans [1].", "What does the premium plan cost?"),
    ("What about the other one?", "Who runs Contoso?",
     "Contoso is run by Priya Nair and Tom Berg [1].", None),  # two others: which one?
    ("What about the third one?", HEATER_Q, HEATER_A, None),  # the answer lists two
    ("How long does the second one last?", HEATER_Q, "Eco mode runs for 12 hours [1].", None),
])
def test_a_reference_is_replaced_by_the_item_it_names(question, previous, answer, query):
    assert resolve(question, previous, answer) == query


def test_the_other_one_not_in_the_answer_is_looked_for_in_the_passages():
    searched = []

    def search(text):
        searched.append(text)
        return ["Sales fell that year.", "The Hull depot closed in 2021 after flooding."]

    only_leeds = "The Leeds depot closed in 2019 because its lease ended [1]."
    q = "And why was the other depot closed?"
    assert resolve(q, DEPOT_Q, only_leeds) is None
    assert resolve(q, DEPOT_Q, only_leeds, search) == "And why was the Hull depot closed?"
    assert searched == [f"{DEPOT_Q} {q}"]
    assert resolve(q, DEPOT_Q, BOTH_DEPOTS, search) and len(searched) == 1  # not needed


def test_an_ordinal_makes_a_follow_up_and_is_resolved_else_the_previous_question_joins():
    history = turns(HEATER_Q, HEATER_A)
    q = "How long does the second one last?"  # three content words: not vague on its face
    assert is_follow_up(q, history) and not is_follow_up(q, [])
    assert previous_exchange(history) == (HEATER_Q, HEATER_A)
    assert standalone_query(q, history) == "How long does the turbo mode last? (heater)"
    unlisted = turns(HEATER_Q, "Eco mode runs for 12 hours [1].")
    assert resolve_reference(q, unlisted) is None
    assert standalone_query(q, unlisted) == f"{HEATER_Q} {q}"  # as the README says
    assert standalone_query("How long does the eco mode last?", history) == \
        "How long does the eco mode last?"  # not a follow-up


DOCS = {"heater.txt": "The heater has two modes: eco and turbo. Eco mode runs for 12 hours "
                      "on one charge. Turbo mode runs for 3 hours.",
        "depots.txt": "The Leeds depot closed in 2019 because its lease ended.\n\n"
                      "Sales fell that year across the region.\n\n"
                      "The Hull depot closed in 2021 after flooding."}


def ingested(tmp_path, chat=None):
    a = fake_assistant(tmp_path / "data", chat)
    for name, text in DOCS.items():
        (tmp_path / name).write_text(text)
    a.ingest([str(tmp_path / n) for n in DOCS], progress=False)
    return a


def test_the_query_used_is_the_resolved_one_without_a_model(tmp_path):
    a = ingested(tmp_path)
    answer = a.ask("How long does the second one last?", turns(HEATER_Q, HEATER_A))
    assert answer.query == "How long does the turbo mode last? (heater)"
    only_leeds = "The Leeds depot closed in 2019 because its lease ended [1]."
    answer = a.ask("And why was the other depot closed?", turns(DEPOT_Q, only_leeds))
    assert answer.query == "And why was the Hull depot closed?"  # found by searching


def test_the_model_answers_the_resolved_question_and_is_not_asked_to_rewrite_it(
        tmp_path, monkeypatch):
    from assistant.writer import Writer

    asked = []
    write = Writer.write

    def recording(self, system, question, *args, **kw):
        asked.append(question)
        return write(self, system, question, *args, **kw)

    monkeypatch.setattr(Writer, "write", recording)
    # one reply only: a rewrite request would take it, and the answer would have none
    a = ingested(tmp_path, GenericFakeChatModel(
        messages=iter([AIMessage("Turbo mode runs for 3 hours [1].")])))
    answer = a.ask("How long does the second one last?", turns(HEATER_Q, HEATER_A))
    assert asked == ["How long does the turbo mode last? (heater)"]
    assert answer.query == asked[0] and "3 hours" in answer.text


def test_an_unresolved_ordinal_is_searched_with_the_previous_question_by_every_backend(
        tmp_path):
    history = turns(HEATER_Q, "Eco mode runs for 12 hours [1].")
    q = "How long does the second one last?"
    a = ingested(tmp_path / "x")
    assert a.ask(q, history).query == f"{HEATER_Q} {q}"
    a = ingested(tmp_path / "m", GenericFakeChatModel(
        messages=iter([AIMessage("The second one lasts long."), AIMessage("Eco [1].")])))
    assert a.ask(q, history).query == f"{HEATER_Q} {q}"  # the rewrite answered: refused
