"""The premise check and the three outcomes (answered / partial / declined), on small
hand-made documents with the real MiniLM, the real Chroma and the shipped weights; a
stand-in OpenAI-compatible server plays a capable model that answers confidently."""

from __future__ import annotations

import json
import re

import pytest

from assistant import Answer, Settings
from assistant.citations import ANSWERED, DECLINED, PARTIAL
from assistant.evidence import Relevance
from assistant.premise import FEATURES, PremiseCheck, explain, features, names, tokens
from tests import stores
from tests.standin import standin_server

# one paragraph per line (a hard-wrapped line break ends a sentence for the splitter)
COMPLEXITY = (
    "Computational complexity theory\n\n"
    "Computational complexity theory classifies computational problems according to their "
    "inherent difficulty. The question of whether P equals NP is one of the most important "
    "open questions in theoretical computer science. Stephen Cook stated the problem "
    "precisely in 1971, and a solution is rewarded with one million dollars by the Clay "
    "Mathematics Institute.\n\n"
    "A problem is regarded as inherently difficult if its solution requires significant "
    "resources, whatever the algorithm used. Time and memory are the resources most often "
    "measured.\n")

YUAN = (
    "Science and medicine under the Yuan dynasty\n\n"
    "Several medical advances were made in the Yuan period. Physicians of the Yuan studied "
    "Persian and Arab medicine, and the court founded an academy of medicine in 1271. "
    "Astronomers built new observatories and revised the calendar under Guo Shoujing.\n\n"
    "Printing spread during the Yuan as well: paper money was printed in large amounts, and "
    "the government issued the Zhiyuan notes from 1287.\n")


@pytest.fixture(scope="module")
def handmade(tmp_path_factory):
    """The data dir of an assistant (extractive) over the two documents above; in server
    mode its Chroma server lives until the module is done."""
    root = tmp_path_factory.mktemp("premise")
    docs = root / "docs"
    docs.mkdir()
    (docs / "complexity.txt").write_text(COMPLEXITY)
    (docs / "yuan.txt").write_text(YUAN)
    with stores.kept(root / "data") as a:
        a.ingest([str(docs)], progress=False)
        yield root / "data"


@pytest.fixture()
def hm(handmade):
    return stores.assistant(handmade, keep=True)


def test_a_question_the_documents_answer_is_answered(hm):
    answer = hm.ask("What is one of the most important open questions in "
                          "theoretical computer science?")
    assert answer.status == ANSWERED and answer.found
    assert "P equals NP" in answer.text and answer.citations


def test_an_opposite_premise_is_a_partial_answer_that_says_so(hm):
    answer = hm.ask("What is one of the least important open questions in "
                          "theoretical computer science?")
    assert answer.status == PARTIAL and not answer.found
    assert answer.text.startswith("The documents do not say exactly what the question asks")
    assert "“most”, not “least”" in answer.text
    # ... then what they do say, cited: the sentence with "most important"
    assert answer.citations and "[1]" in answer.text
    assert any("most important" in c.passage.text for c in answer.citations)
    assert answer.to_dict()["status"] == PARTIAL and answer.to_dict()["found"] is False


def test_an_added_negation_is_a_partial_answer(hm):
    answer = hm.ask("Which fields of study were not advanced during the Yuan period?")
    assert answer.status == PARTIAL
    assert "“not”" in answer.text
    assert any("Yuan" in c.passage.text for c in answer.citations)


def test_a_question_about_another_subject_is_declined(hm):
    answer = hm.ask("What is the population of Tokyo?")
    assert answer.status == DECLINED and not answer.found and not answer.citations


def test_the_check_can_be_turned_off(tmp_path):
    a = stores.assistant(tmp_path, premise_check=False)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "complexity.txt").write_text(COMPLEXITY)
    a.ingest([str(docs)], progress=False)
    answer = a.ask("What is one of the least important open questions in theoretical "
                   "computer science?")
    assert answer.status == ANSWERED  # as before the check existed: the nearby sentence


def test_a_capable_models_confident_answer_to_a_false_premise_is_partial(hm):
    """The model would answer ("P versus NP is the least important ..."); the check runs
    on the evidence before it is asked, so its answer never reaches the user."""
    confident = "The least important open question is whether P equals NP [1]."
    with standin_server("scripted", confident) as server:
        a = stores.assistant(hm.settings.data_dir, keep=True, llm="openai:standin",
                             llm_base_url=server.base_url)
        answer = a.ask("What is one of the least important open questions in theoretical "
                       "computer science?")
        partial_requests = len(server.requests)
        answered = a.ask("What is one of the most important open questions in theoretical "
                         "computer science?")
    assert answer.status == PARTIAL and confident not in answer.text
    assert partial_requests == 0
    assert answered.status == ANSWERED and len(server.requests) == 1


def test_a_capable_model_that_finds_no_answer_makes_it_partial(hm):
    """A capable model read the passages and says they do not answer: the user is told
    so, with what the passages do say, instead of a quote passed off as the answer."""
    with standin_server("scripted", "NOT FOUND") as server:
        a = stores.assistant(hm.settings.data_dir, keep=True, llm="openai:standin",
                             llm_base_url=server.base_url)
        answer = a.ask("Who stated the problem of whether P equals NP precisely?")
    assert answer.status == PARTIAL and answer.citations
    assert "found no answer" in answer.text


def test_answer_status_and_found_agree():
    assert Answer("x", True).status == ANSWERED
    assert Answer("x", False).status == DECLINED
    assert Answer("x", False, status=PARTIAL).status == PARTIAL
    with pytest.raises(ValueError, match="contradicts"):
        Answer("x", True, status=PARTIAL)
    with pytest.raises(ValueError, match="unknown answer status"):
        Answer("x", False, status="maybe")


def test_feature_helpers_read_raw_words():
    assert tokens("Who wasn't there?") == ["who", "was", "n't", "there"]
    assert names("Who did the Mongols bring to Japan as administrators?") == ["Mongols", "Japan"]
    assert names("In what year was Huguon built?") == ["Huguon"]


def test_features_name_what_the_window_lacks(hm):
    q = "In which year did Stephen Cook state the problem in Ireland?"
    passages = hm.retrieve(q)
    evidence = hm.scorer.evidence(q, passages)
    rel = hm.scorer.relevance(q, passages, evidence)
    f, findings = features(q, evidence, passages, rel, hm.scorer.idf)
    assert set(f) == set(FEATURES)
    assert findings.names == ("Ireland",) and f["names_missing"] == 1.0
    assert f["answer_type_missing"] == 0.0  # "1971" is a year
    weights = {"names_missing": 2.0}
    assert explain(findings, f, weights) == "they do not mention “Ireland” in this connection"
    check = PremiseCheck({"bias": -1.0, "names_missing": 2.0}, 0.5)
    assert check.check(q, evidence, passages, rel).status == PARTIAL
    assert PremiseCheck({"bias": -1.0}, 0.5).check(q, evidence, passages, rel).status == ANSWERED
    assert PremiseCheck({}, 0.0).check(q, [], [], Relevance(0, 0, 0)).status == ANSWERED


def test_unknown_features_are_refused_in_one_line():
    from corpus.errors import SourcechatError

    with pytest.raises(ValueError, match="unknown premise features: colour"):
        PremiseCheck({"colour": 1.0}, 0.0)
    with pytest.raises(SourcechatError, match="unknown premise features colour"):
        Settings.load(premise_weights={"colour": 1.0})


def test_json_output_carries_the_status(hm, capsys, monkeypatch):
    from ui import cli

    for var, value in stores.env_for(hm.settings.data_dir).items():
        monkeypatch.setenv(var, value)
    code = cli.main(["ask", "--llm", "extractive", "--json",
                     "What is one of the least important open questions in theoretical "
                     "computer science?"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["status"] == PARTIAL and out["found"] is False
    assert out["citations"]


def test_the_web_chat_marks_a_partial_answer_and_its_sources(hm):
    from ui.app import Handlers
    from ui.render import PARTIAL_BADGE

    h = Handlers(hm, max_upload_mb=1)
    question = ("What is one of the least important open questions in theoretical computer "
                "science?")
    *_, (messages, panel, _) = h.respond(question, [], 5, "extractive")
    assert messages[1]["content"].startswith(f"**{PARTIAL_BADGE}:** The documents do not say")
    assert re.search(r'href="#view-[0-9a-f]+(_\d+-\d+)+">\[1\]</a>', messages[1]["content"])
    assert "Partial: the documents do not state what the question asks" in panel
    assert "<mark>" in panel and "most important" in panel
    assert h.api_ask(question, None, None, "extractive")["status"] == PARTIAL
