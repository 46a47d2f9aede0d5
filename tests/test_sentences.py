"""Sentence-sized units from real layouts: hard-wrapped paragraphs, headings, list items,
and text with no sentence end at all."""

from __future__ import annotations

from corpus.text import MAX_SENTENCE_CHARS, sentences


def _texts(text):
    out = sentences(text)
    assert all(text[s.start:s.end] == s.text for s in out)
    return [s.text for s in out]


def test_a_hard_wrapped_paragraph_is_one_sentence():
    text = ("The lease on the Leeds depot ended in March,\nand the board decided not to renew"
            "\nit after the audit.\nThe Hull depot stays open.")
    assert _texts(text) == [
        "The lease on the Leeds depot ended in March,\nand the board decided not to renew"
        "\nit after the audit.", "The Hull depot stays open."]


def test_headings_and_list_items_are_their_own_lines():
    text = "# Installing frobnicate\nfrobnicate needs python\n- first item\n- second item"
    assert _texts(text) == ["# Installing frobnicate", "frobnicate needs python",
                            "- first item", "- second item"]


def test_text_without_sentence_ends_is_cut_into_sentence_sized_units():
    filler = "lorem ipsum dolor sit amet " * 2000
    text = filler + "The pump failed on 3 May because its seal cracked. " + filler
    parts = sentences(text)
    assert all(len(p.text) <= MAX_SENTENCE_CHARS for p in parts)
    assert all(text[p.start:p.end] == p.text for p in parts)
    assert any("pump failed" in p.text for p in parts)
    # cuts fall between words
    assert all(not text[p.end - 1].isspace() and (p.end == len(text) or text[p.end] == " "
               or text[p.end - 1] in ";:,") for p in parts[:-1])
