"""Answer logic with fakes (fast): gate, grounding check, fallback, markers, bad input.

The real models are exercised in test_end_to_end.py; here the embeddings and the
chat model are LangChain's fakes and the store is a real Chroma in tmp_path.
"""

from __future__ import annotations

import re

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from assistant import Answer, Assistant, Settings
from assistant.evidence import EvidenceScorer
from corpus.errors import IndexMismatchError, InvalidQuestionError
from index import ChunkStore, KeywordIndex, PassageRetriever
from tests.stores import client_for

DOC = ("Kiwis grow on vines in New Zealand. A kiwi vine yields 25 kilograms of fruit. "
       "Bananas grow in the tropics.")


def make(tmp_path, reply: str | None, min_relevance: float = -10.0, model="fake-a",
         **overrides) -> Assistant:
    client = client_for(tmp_path)
    emb = DeterministicFakeEmbedding(size=16)
    store = ChunkStore(client, "test", emb, model)
    settings = Settings(data_dir=tmp_path, min_relevance=min_relevance, chunk_size=200,
                        chunk_overlap=50, **overrides)
    chat = GenericFakeChatModel(messages=iter([AIMessage(reply)])) if reply else None
    retriever = PassageRetriever(store=store, keyword=KeywordIndex(store, tmp_path / "kw"),
                                 k=settings.k, dense_weight=settings.dense_weight,
                                 keyword_weight=settings.keyword_weight,
                                 exact_identifiers=settings.exact_identifiers)
    scorer = EvidenceScorer(emb, gate_weights=settings.gate_weights)
    a = Assistant(settings, store, retriever, chat, scorer)
    (tmp_path / "fruit.txt").write_text(DOC)
    a.ingest([str(tmp_path / "fruit.txt")], progress=False)
    return a


def test_grounded_llm_answer_is_kept_with_its_marker(tmp_path):
    a = make(tmp_path, "A kiwi vine yields 25 kilograms [1].")
    answer = a.ask("How much fruit does a kiwi vine yield?")
    assert answer.found
    assert answer.text == "A kiwi vine yields 25 kilograms [1]."
    assert [c.n for c in answer.citations] == [1]
    assert "25 kilograms" in answer.citations[0].passage.text


def test_invented_number_is_replaced_by_quoted_evidence(tmp_path):
    a = make(tmp_path, "A kiwi vine yields 90 kilograms [1].")
    answer = a.ask("How much fruit does a kiwi vine yield?")
    assert answer.found
    assert "90" not in answer.text
    # the fallback quotes sentences of the passages verbatim, each followed by its marker
    quoted = re.split(r" \[\d+\]\.? ?", answer.text)
    assert [q for q in quoted if q]
    for sentence in filter(None, quoted):
        assert sentence.rstrip(".") in DOC
    assert answer.citations[0].n == 1


def test_marker_to_a_passage_not_retrieved_is_dropped_and_reattributed(tmp_path):
    a = make(tmp_path, "Kiwis grow on vines in New Zealand [7].")
    answer = a.ask("Where do kiwis grow?")
    assert "[7]" not in answer.text
    assert answer.text.endswith("[1].")
    assert len(answer.citations) == 1


def test_gate_declines_without_calling_the_model(tmp_path):
    a = make(tmp_path, "Paris is the capital of France [1].", min_relevance=10.0)
    answer = a.ask("What is the capital of France?")
    assert answer == Answer(answer.text, False, [], "What is the capital of France?",
                            "What is the capital of France?", closest=answer.closest,
                            missing=answer.missing)
    assert "do not cover" in answer.text
    assert answer.closest and "Kiwis" in answer.closest[0].text  # shown as not an answer


def test_model_saying_not_found_declines_when_words_do_not_match(tmp_path):
    # the gate is off in these fake-embedding tests; so is the premise check (which
    # would make it partial: "France" is not in the passages), to reach the model
    a = make(tmp_path, "NOT FOUND", premise_check=False)
    answer = a.ask("What is the capital of France?")
    assert not answer.found and answer.citations == [] and answer.status == "declined"


def test_extractive_answer_quotes_the_passage(tmp_path):
    a = make(tmp_path, None)
    answer = a.ask("Where do bananas grow?")
    assert answer.found
    assert answer.citations
    for c in answer.citations:
        for start, end in c.spans:
            assert c.passage.text[start:end] in DOC


@pytest.mark.parametrize("question", ["", "   ", None])
def test_empty_question_is_a_clear_error(tmp_path, question):
    a = make(tmp_path, None)
    with pytest.raises(InvalidQuestionError, match="empty"):
        a.ask(question)


def test_bad_history_is_a_clear_error(tmp_path):
    a = make(tmp_path, None)
    with pytest.raises(InvalidQuestionError, match="history"):
        a.ask("Where do kiwis grow?", history=[{"role": "robot", "content": "x"}])


def test_follow_up_query_uses_the_previous_question(tmp_path):
    a = make(tmp_path, None)
    history = [{"role": "user", "content": "Where do kiwis grow?"},
               {"role": "assistant", "content": "On vines in New Zealand [1]."}]
    answer = a.ask("How much does it yield?", history=history)
    assert answer.query == "Where do kiwis grow? How much does it yield?"


def test_reingest_unchanged_adds_nothing_and_changed_replaces(tmp_path):
    a = make(tmp_path, None)
    before = a.store.count()
    report = a.ingest([str(tmp_path / "fruit.txt")], progress=False)
    assert report.unchanged and report.chunks_added == 0 and a.store.count() == before
    (tmp_path / "fruit.txt").write_text("Only cherries now.")
    report = a.ingest([str(tmp_path / "fruit.txt")], progress=False)
    assert report.chunks_added == 1 and a.store.count() == 1
    assert a.retrieve("cherries")[0].text == "Only cherries now."


def test_remove_by_file_name(tmp_path):
    a = make(tmp_path, None)
    source, n = a.remove("fruit.txt")
    assert source == str((tmp_path / "fruit.txt").resolve()) and n >= 1
    assert a.store.count() == 0


def test_index_built_with_another_model_is_refused(tmp_path):
    make(tmp_path, None, model="fake-a")
    client = client_for(tmp_path)
    store = ChunkStore(client, "test", DeterministicFakeEmbedding(size=16), "fake-b")
    with pytest.raises(IndexMismatchError, match="fake-a"):
        store.count()


def test_follow_up_rewrites_are_kept_only_when_they_resolve_something():
    from assistant.conversation import accept_rewrite, recent_history

    history = [{"role": "user", "content": "Who is Kanae Doi?"},
               {"role": "assistant", "content": "Kanae Doi is the Tokyo director [1]."}]
    q = "What did she say Japan should do?"
    good = "What did Kanae Doi say Japan should do?\n\nThe answer is: invented."
    assert accept_rewrite(good, q, history) == "What did Kanae Doi say Japan should do?"
    assert accept_rewrite("Kanae Doi said Japan should act [1].", q, history) is None  # answers
    assert accept_rewrite("What did she say Japan should do?", q, history) is None  # no change
    assert accept_rewrite("What did Kanae Doi say?", q, history) is None  # dropped "Japan"
    assert accept_rewrite("", q, history) is None
    long = [{"role": "user", "content": "word " * 1000}, *history]
    kept = recent_history(long, 200)
    assert kept[-2:] == history and sum(len(m["content"]) for m in kept) <= 202


def test_follow_up_query_comes_from_the_llm_or_the_fallback(tmp_path):
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    a = make(tmp_path, None)
    a.chat_model = GenericFakeChatModel(
        messages=iter([AIMessage("What did Kanae Doi say about the apples?")]))
    history = [{"role": "user", "content": "Who is Kanae Doi?"},
               {"role": "assistant", "content": "Kanae Doi is the Tokyo director."}]
    assert a._standalone("What did she say about the apples?", history, a.chat_model, 5,
                         None) == ("What did Kanae Doi say about the apples?",) * 2  # both
    assert a._standalone("How many apples grow on vines?", history, a.chat_model, 5, None) == \
        ("How many apples grow on vines?",) * 2  # not a follow-up: no rewrite asked
    assert a._standalone("What did she say?", history, None, 5, None) == \
        ("Who is Kanae Doi? What did she say?",  # extractive: the previous question joins it
         "What did she say?")


def test_a_rewrite_that_invents_context_is_refused():
    from assistant.conversation import accept_rewrite

    history = [{"role": "user", "content": "How many people went from Japan to North Korea?"},
               {"role": "assistant", "content": "More than 93,000 people migrated [1]."}]
    q = "Who organised that campaign?"
    assert accept_rewrite("Who organised the campaign against abuses in the 20th century?",
                          q, history) is None
    assert accept_rewrite("Who organised the campaign to North Korea?", q, history) == \
        "Who organised the campaign to North Korea?"


def test_a_draft_that_only_echoes_the_question_is_replaced_by_evidence(tmp_path):
    a = make(tmp_path, "A kiwi vine [1].")
    answer = a.ask("How many kilograms of fruit does a kiwi vine yield?")
    quoted = re.sub(r"\s*\[\d+\]", "", answer.text)
    assert answer.found and quoted != "A kiwi vine." and quoted in DOC  # evidence, verbatim


def test_arithmetic_the_passage_does_not_write_is_invented(tmp_path):
    a = make(tmp_path, "A kiwi vine yields 25 * 1 = 25 kilograms [1].")
    answer = a.ask("How much fruit does a kiwi vine yield?")
    assert answer.found and "*" not in answer.text and "=" not in answer.text
    assert "25 kilograms" in answer.text


def test_grounding_checks_arithmetic_as_written():
    from assistant.grounding import Grounding
    from index.passages import Passage

    g = Grounding([Passage("The budget is 75,000 euros. Two plus two: 2 + 2 = 4.", "b.txt",
                           None, 0, 52, 1.0, "c1")])
    assert g.supports("The budget is 75,000 euros.")
    assert not g.supports("The budget is 75,000 * 1 = 75,000 euros.")
    assert not g.supports("The budget is = 75,000 euros.")
    assert g.supports("Two plus two: 2 + 2 = 4.")
    assert g.supports("The budget ran from 2019-2021 at 75,000 euros.") is False  # 2019: new
