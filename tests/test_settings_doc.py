"""The README's configuration table names every setting with its default (no drift)."""

from __future__ import annotations

from pathlib import Path

from assistant.settings import Settings

README = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
SECTION = README[README.index("## Configuration"):README.index("## How an answer is made")]


def _row(name: str) -> str | None:
    up = name.upper()
    return next((line for line in SECTION.splitlines() if line.startswith("|")
                 and (f"SOURCECHAT_{up}`" in line or f"`_{up}`" in line)), None)


def test_every_setting_is_in_the_configuration_table_with_its_default():
    for name, field in Settings.model_fields.items():
        row = _row(name)
        assert row is not None, f"SOURCECHAT_{name.upper()} is missing from the README table"
        default = field.default
        if isinstance(default, bool) or default is None or not isinstance(
                default, int | float | str):
            continue
        shown = f"{default:g}" if isinstance(default, float) else str(default)
        assert shown in row, (name, default, row)
