"""Citation markers: parsing, dropping invalid ones, attribution, renumbering."""

from __future__ import annotations

from assistant.citations import Claim, attribute, parse_markers, render
from index import Passage


def _p(i: int, text: str) -> Passage:
    return Passage(text=text, source=f"/docs/{i}.txt", page=None, start=0, end=len(text),
                   score=0.5, id=f"id{i}")


def test_parse_markers_keeps_valid_and_drops_unknown():
    claims = parse_markers("Apples are red [2]. Pears are green [7]. Both grow [1, 2].", 3)
    assert claims == [Claim("Apples are red.", (1,)), Claim("Pears are green.", ()),
                      Claim("Both grow.", (0, 1))]


def test_render_renumbers_in_order_of_first_use():
    passages = [_p(0, "zero"), _p(1, "one"), _p(2, "two")]
    claims = [Claim("First fact.", (2,)), Claim("Second fact.", (0, 2))]
    text, citations = render(claims, passages)
    assert text == "First fact [1]. Second fact [2][1]."
    assert [(c.n, c.passage.id) for c in citations] == [(1, "id2"), (2, "id0")]


def test_uncited_passages_are_not_returned():
    passages = [_p(0, "zero"), _p(1, "one")]
    _, citations = render([Claim("Only one.", (1,))], passages)
    assert [c.passage.id for c in citations] == ["id1"]


def test_sentences_without_markers_are_attributed():
    passages = [_p(0, "Bananas are yellow."), _p(1, "Kiwis are green and fuzzy.")]
    claims = parse_markers("Kiwis are fuzzy. Bananas are yellow [9].", 2)
    assert [c.refs for c in claims] == [(), ()]

    def best(text):
        return 1 if "Kiwi" in text else 0

    text, citations = render(attribute(claims, best), passages)
    assert text == "Kiwis are fuzzy [1]. Bananas are yellow [2]."
    assert [c.passage.id for c in citations] == ["id1", "id0"]


def test_marker_placement_with_quotes():
    text, _ = render([Claim('They called it "heaven on earth."', (0,))], [_p(0, "x")])
    assert text == 'They called it "heaven on earth." [1]'


def test_citation_dict_has_the_cli_json_fields():
    _, citations = render([Claim("Fact.", (0,))], [_p(0, "Fact text.")],
                          lambda text, i: ((0, 5),))
    d = citations[0].to_dict()
    assert {"n", "source", "page", "start", "end", "text", "score"} <= set(d)
    assert d["n"] == 1 and d["highlights"] == [[0, 5]]
