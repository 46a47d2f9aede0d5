"""Prompt files (assistant/prompts/*.md), loaded once and filled in."""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def prompt(name: str) -> str:
    """The text of `assistant/prompts/<name>.md`, without its trailing newline."""
    return (files("assistant") / "prompts" / f"{name}.md").read_text(encoding="utf-8").strip()


def format_sources(texts: list[str]) -> str:
    """Number passages [1]..[n] for the prompt; angle brackets escaped so none closes the tag."""
    return "\n\n".join(
        f"[{i}] " + " ".join(t.replace("<", "‹").replace(">", "›").split())
        for i, t in enumerate(texts, start=1)
    )
