"""The README's configuration table is the one `make docs` generates from the settings'
descriptions: a setting added, renamed or given another default fails here until the
README is regenerated."""

from __future__ import annotations

from pathlib import Path

from assistant.settings import TABLE_END, TABLE_START, Settings, markdown_table

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")


def test_the_readme_table_is_the_generated_one():
    block = README[README.index(TABLE_START) + len(TABLE_START):README.index(TABLE_END)]
    assert block.strip() == markdown_table(), "the README's table drifted: run `make docs`"


def test_the_table_names_every_setting_with_its_default():
    table = markdown_table()
    for name, field in Settings.model_fields.items():
        row = next(line for line in table.splitlines() if f"`SOURCECHAT_{name.upper()}`" in line)
        default = field.default
        if isinstance(default, int | float) and not isinstance(default, bool):
            assert f"| {default:g} |" in row, (name, row)
        elif isinstance(default, str):
            assert f"| `{default}` |" in row, (name, row)
        assert field.description and field.description in row.replace("\\|", "|")
