"""An exact match of a rare code or identifier wins over near-misses (issue #20 item 7).

500 support tickets, each with an error code; exactly one has E1377, and others
carry the codes a digit away (E1370, E1376, E1378, ...). A small embedding model
sees those codes as the same word, and a tokenizer splitting "E1377" into "e" and
"1377" lets ticket #1377 match it, so the near-misses must lose to the one exact
match, in retrieval and in the sentence the answer quotes.
"""

from __future__ import annotations

import random

import pytest

from assistant.evidence import holding_identifiers
from assistant.grounding import Grounding, keeps_evidence
from corpus.text import content_terms, identifiers, is_identifier, words
from index.passages import Passage
from tests import stores


@pytest.mark.parametrize(("text", "terms"), [
    ("Which ticket had error code E1377?", ["ticket", "error", "code", "e1377"]),
    ("E1377's fix, (E1377) and E1377.", ["e1377", "s", "fix", "e1377", "e1377"]),
    ("Invoice INV-2023-0042", ["invoice", "inv-2023-0042", "inv", "2023", "0042"]),
    ("SKU 88-1921", ["sku", "88-1921", "88", "1921"]),
    ("version 3.10.2 of v3.10.2", ["version", "3.10.2", "v3.10.2", "v", "3.10.2"]),
    ("ticket #1042", ["ticket", "1042"]),
    ("COVID-19 vaccine", ["covid-19", "covid", "19", "vaccine"]),
    ("x86_64 H2O MP3s", ["x86_64", "x", "86", "64", "h2o", "mp3"]),
    # numbers and words read as before
    ("1,299 euros, 3.5 km, 1,000,000 people", ["1299", "euro", "3.5", "km", "1000000", "people"]),
    ("the 1990s and the 19th century", ["1990", "19th", "century"]),
    ("Don't e-mail the U.S. state-of-the-art", ["don't", "e", "mail", "u", "s", "art"]),
])
def test_identifiers_are_one_term(text, terms):
    assert content_terms(text) == terms


def test_the_words_of_a_code_and_which_terms_are_identifiers():
    assert words("Ticket #1412: error code E1377, SKU 88-1921.") == [
        "Ticket", "1412", "error", "code", "E1377", "SKU", "88-1921"]
    assert identifiers("Which ticket had E1377 or INV-2023-0042, SKU 88-1921, version "
                       "3.10.2, ticket #1042 or order 123456? E1377 again.") == [
        "e1377", "inv-2023-0042", "88-1921", "3.10.2", "123456", "1042"]
    # quantities, years, decades and ordinals name no one thing
    assert identifiers("In the 19th century, 1,000,000 people (3.5 percent) left in "
                       "1959 and the 1990s.") == []
    assert [t for t in ("e1377", "19th", "88-1921", "3.10.2", "1959", "3.5", "1000000", "covid")
            if is_identifier(t)] == ["e1377", "19th", "88-1921", "3.10.2"]


def test_a_long_run_of_joined_words_is_read_in_linear_time():
    import time

    start = time.perf_counter()
    assert len(content_terms("ab-" * 100_000 + "E1377")) == 1 + 100_000 + 2  # whole, pieces
    assert time.perf_counter() - start < 2


def _p(text: str, i: int = 0) -> Passage:
    return Passage(text, f"/t/{i}.txt", None, 0, len(text), 0.5, f"id{i}")


def test_a_model_may_not_write_a_near_miss_of_a_code():
    passages = [_p("Ticket #1412: customer reports error code E1377 on every login.")]
    grounding = Grounding(passages)
    assert grounding.supports("Ticket 1412 had error code E1377.")
    # four of its five terms are there, but a code is matched whole, as a number is
    assert not grounding.supports("Ticket 1412 had error code E1378.")
    assert not grounding.numbers_found("The code was E1370")
    assert not keeps_evidence("The ticket had error E1370.", passages[0].text,
                              "Which error did ticket 1412 have?")


def test_the_answer_is_drawn_from_the_passages_holding_the_questions_identifiers():
    passages = [_p("Ticket #1412 had E1377 and INV-2023-0042.", 0), _p("E1377 again.", 1),
                _p("Ticket #1377 had E1370.", 2), _p("E1377 once more.", 3)]
    assert holding_identifiers("Which ticket had E1377?", passages) == 2  # ranked first
    assert holding_identifiers("E1377 and INV-2023-0042?", passages) == 1  # holds both
    assert holding_identifiers("Which ticket had E9999?", passages) == 0  # none holds it
    assert holding_identifiers("Which ticket failed?", passages) == 0  # it names none
    assert holding_identifiers("What about ticket #1377?", passages) == 0  # first lacks it


PRODUCTS = ["calendar sync", "mail client", "billing portal", "mobile app", "VPN gateway",
            "printer driver", "file sharing", "video calls", "password reset", "report export"]
WHEN = ["when syncing the calendar", "after the last update", "while exporting a report",
        "on every login", "when uploading attachments", "during the nightly backup",
        "when opening shared folders", "after changing the password"]
PLATFORMS = ["Windows 11", "macOS 14", "Ubuntu 22.04", "Android 14", "iOS 17", "ChromeOS"]
FIXES = ["Clearing the local cache resolved it.", "A reinstall of the client fixed the problem.",
         "The customer was asked to update to the latest release.",
         "Escalated to the second-line team for a closer look.",
         "Resetting the account permissions solved it.",
         "The issue disappeared after a restart of the device."]
NAMES = ["Alice Moreau", "Ben Okafor", "Chen Wei", "Dara Nolan", "Eva Lindqvist", "Farid Haddad",
         "Grace Kim", "Hugo Silva", "Ines Varga", "Jonas Berg"]
EXACT = "E1377"
NEAR = ["E1370", "E1371", "E1373", "E1376", "E1378", "E1379", "E1307", "E1737"]


OPENINGS = [  # how a ticket names its error; the near-misses use the first, the one
    "customer reports error code {code} {when} in the {product}",  # with E1377 the last
    "the {product} fails with error {code} {when}",
    "customer cannot use the {product}: error code {code} {when}",
    "{code} shown {when}; the {product} stops",
]


def ticket(number: int, code: str, rng: random.Random, opening: str | None = None) -> str:
    """One support ticket's text."""
    product = rng.choice(PRODUCTS)
    opening = (opening or rng.choice(OPENINGS)).format(code=code, when=rng.choice(WHEN),
                                                       product=product)
    return (f"Ticket #{number}: {opening}.\n\n"
            f"Reported by {rng.choice(NAMES)} on {rng.choice(PLATFORMS)}. "
            f"The {product} showed the message once and then stopped responding. "
            f"{rng.choice(FIXES)}\n")


def tickets() -> dict[int, str]:
    """500 tickets by number (#1000 ... #1499): one with E1377, eight with its neighbours
    (the one numbered #1377 among them), the rest with codes far from it. The near-misses
    say "error code" as the question does; the exact one does not."""
    rng = random.Random(20)
    numbers = list(range(1000, 1500))
    far = [c for c in range(1000, 2000) if abs(c - 1377) > 20 and c not in (1737, 1307)]
    codes = {n: f"E{rng.choice(far)}" for n in numbers}
    near = rng.sample([n for n in numbers if n not in (1377, 1412)], len(NEAR) - 1)
    for n, code in zip([1377, *near], NEAR, strict=True):
        codes[n] = code
    codes[1412] = EXACT
    openings = {n: OPENINGS[0] for n in (1377, *near)} | {1412: OPENINGS[-1]}
    return {n: ticket(n, codes[n], rng, openings.get(n)) for n in numbers}


@pytest.fixture(scope="module")
def helpdesk(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tickets")
    for n, text in tickets().items():
        (folder / f"ticket-{n}.txt").write_text(text)
    data = tmp_path_factory.mktemp("tickets-data")
    with stores.kept(data) as a:
        report = a.ingest([folder], progress=False)
        assert report.ok and len(report.indexed) == 500
        yield a


def test_the_tickets_have_one_exact_code_and_its_neighbours():
    texts = tickets()
    assert [n for n, t in texts.items() if EXACT in t] == [1412]
    assert sorted(c for t in texts.values() for c in NEAR if c in t) == sorted(NEAR)
    assert f"error code {NEAR[0]}" in texts[1377]


@pytest.mark.slow
def test_the_exact_code_is_retrieved_first(helpdesk):
    passages = helpdesk.retrieve("Which ticket had error code E1377?")
    assert passages[0].source.endswith("ticket-1412.txt")
    assert EXACT in passages[0].text
    assert all(EXACT not in p.text for p in passages[1:])


@pytest.mark.slow
@pytest.mark.parametrize(("question", "fact"), [
    ("Which ticket had error code E1377?", EXACT), ("E1377", EXACT),
    ("Which ticket had E1377?", EXACT), ("Who reported error E1377?", "Reported by Ines Varga"),
])
def test_the_answer_cites_and_quotes_the_exact_code(helpdesk, question, fact):
    answer = helpdesk.ask(question)
    assert answer.status == "answered" and answer.citations
    first = answer.citations[0]
    assert first.n == 1 and first.passage.source.endswith("ticket-1412.txt")
    assert fact in answer.text and fact in tickets()[1412]
    assert all(c.passage.source.endswith("ticket-1412.txt") for c in answer.citations)
    assert not any(code in answer.text for code in NEAR)
