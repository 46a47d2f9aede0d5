"""The right sentence from the right passage, on ordinary office documents (issue #20).

Headings, titles, copyright lines and list labels share the question's words but
are not answers; a code block's command is. The documents are made here by their
libraries (python-docx, Markdown and HTML text) and answered by the real assistant.
"""

from __future__ import annotations

import pytest

from assistant.labels import expected, is_command, is_label
from tests import stores


@pytest.mark.parametrize("text", [
    "# Installing frobnicate", "Northwind Cooperative - Annual Report 2023", "X200 Pro",
    "Budget meeting Q3", "© 2024 Zephyr Appliances Ltd", "Copyright 2021 Acme Inc.",
    "Attendees:", "```", "Key figures",
])
def test_labels(text):
    assert is_label(text)


@pytest.mark.parametrize("text", [
    "Price: $1,299 including delivery.", "Price: $1,299", "pip install frobnicate",
    "Dana Whitfield has led the cooperative as chief executive since 2020.",
    "Revenue grew by 12 percent.", "Run `frobnicate --init` once.",
    "2021 8.3 million euros South", "Marketing 75,000 euros", "- 12% off all pumps",
    "More than 93,000 people migrated from Japan to North Korea from 1959 to 1984.",
])
def test_not_labels(text):
    assert not is_label(text)


def test_what_a_question_asks_for():
    assert expected("What command installs frobnicate?") == "command"
    assert expected("How do I install frobnicate?") == "command"
    assert expected("Who is the CEO of Northwind?") == "name"
    assert expected("How much does the X200 Pro cost?") == "number"
    assert is_command("$ make test") and is_command("sudo apt-get install chromium")
    assert not is_command("Install the printer driver from the vendor's site.")


@pytest.fixture(scope="module")
def office(tmp_path_factory):
    import docx

    folder = tmp_path_factory.mktemp("office")
    d = docx.Document()
    d.add_heading("Northwind Cooperative - Annual Report 2023", 0)
    d.add_paragraph("This report covers the financial year ending 31 December 2023.")
    d.add_paragraph("Dana Whitfield has led the cooperative as chief executive since 2020.")
    d.add_paragraph("Revenue grew by 12 percent to 48 million euros.")
    d.save(folder / "northwind.docx")
    (folder / "budget.md").write_text(
        "# Budget meeting Q3\n\nAttendees: finance team, marketing leads.\n\n"
        "Marketing will receive 75,000 euros for the quarter, approved by the board on "
        "3 July.\nTravel spending stays frozen until October.\n")
    (folder / "x200.html").write_text(
        "<html><head><title>X200 Pro</title></head><body><h1>X200 Pro</h1>"
        "<p>Price: $1,299 including delivery.</p><p>Ships in two colours, graphite and sand."
        " Battery life is rated at 14 hours.</p><footer>© 2024 Zephyr Appliances Ltd"
        "</footer></body></html>")
    (folder / "install.md").write_text(
        "# Installing frobnicate\n\nFrobnicate needs Python 3.10 or newer.\n\n```\n"
        "pip install frobnicate\n```\n\nThen run `frobnicate --init` once to create the "
        "configuration file.\n")
    data = tmp_path_factory.mktemp("office-data")
    with stores.kept(data) as a:
        report = a.ingest([folder], progress=False)
        assert report.ok and len(report.indexed) == 4
        yield a


@pytest.mark.slow
@pytest.mark.parametrize(("question", "fact", "label"), [
    ("Who is the CEO of Northwind Cooperative?", "Dana Whitfield", "Annual Report"),
    ("What was the marketing budget for Q3?", "75,000", "Budget meeting"),
    ("How much does the X200 Pro cost?", "$1,299", "X200 Pro ["),
    ("What command installs frobnicate?", "pip install frobnicate", "# Installing"),
])
def test_the_fact_is_quoted_not_the_heading(office, question, fact, label):
    answer = office.ask(question)
    assert answer.status == "answered" and answer.citations
    assert fact in answer.text and label not in answer.text
    assert "©" not in answer.text
    cited = answer.citations[0]
    assert fact in cited.passage.text
    start, end = cited.spans[0]
    assert fact in cited.passage.text[start:end]


@pytest.mark.slow
def test_one_enormous_line_is_answered_with_the_sentence_not_the_filler(tmp_path):
    from corpus.text import MAX_SENTENCE_CHARS

    filler = " ".join(f"node {i % 97} heartbeat received status nominal queue depth {i % 13}"
                      for i in range(2200))
    text = (filler + " The cooling pump failed on 3 May because its shaft seal cracked "
            + filler)
    assert len(text) > 150_000 and "\n" not in text
    (tmp_path / "log.txt").write_text(text)
    data = tmp_path / "data"
    a = stores.assistant(data)
    assert a.ingest([tmp_path / "log.txt"], progress=False).ok
    answer = a.ask("When did the cooling pump fail?")
    assert answer.status == "answered" and "shaft seal cracked" in answer.text
    assert len(answer.text) <= MAX_SENTENCE_CHARS + 10
    assert answer.text.startswith("The cooling pump failed")
    start, end = answer.citations[0].spans[0]
    assert end - start <= MAX_SENTENCE_CHARS


def test_a_copyright_line_answers_who_is_credited():
    assert is_label("© 2009 Reuters", "Is there a lifetime warranty?")
    assert not is_label("© 2009 Reuters", "Which news agency is credited in the document?")


@pytest.mark.slow
def test_a_table_without_rules_is_answered_from_its_row(tmp_path):
    from tests.files import make_table_pdf

    rows = [[str(y), f"{1.1 + 0.3 * (y - 1997):.1f} million euros",
             ["North", "South", "East", "West"][y % 4]] for y in range(1997, 2022)]
    (tmp_path / "revenue.pdf").write_bytes(make_table_pdf(
        "Revenue by year", ["Year", "Revenue", "Region"], rows, "Figures are unaudited.",
        ruled=False))
    data = tmp_path / "data"
    a = stores.assistant(data)
    assert a.ingest([tmp_path / "revenue.pdf"], progress=False).ok
    answer = a.ask("What was the revenue in 2021?")
    assert answer.status == "answered"
    assert "8.3 million euros" in answer.text and "Year Revenue" not in answer.text
    assert answer.citations[0].passage.page == 1
