"""Follow-up questions: turn "What did she say?" into a query that retrieval can use."""

from __future__ import annotations

import re
from collections.abc import Sequence

from corpus.errors import InvalidQuestionError
from corpus.text import content_terms

_ANAPHORA = re.compile(
    r"\b(he|she|him|her|his|hers|they|them|their|it|its|this|that|these|those|there|"
    r"the same|the other|that one|which one|why|how so)\b", re.IGNORECASE)


def check_history(history: Sequence[dict] | None) -> list[dict]:
    """Validate a Gradio-style history: [{"role": "user"|"assistant", "content": str}, ...]."""
    out = []
    for i, msg in enumerate(history or []):
        if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant"):
            raise InvalidQuestionError(
                f"history[{i}] must be {{'role': 'user' or 'assistant', 'content': str}}")
        content = msg.get("content")
        if isinstance(content, list | tuple):  # gradio multimodal content parts
            content = " ".join(p.get("text", "") if isinstance(p, dict) else str(p)
                               for p in content)
        out.append({"role": msg["role"], "content": str(content or "")})
    return out


def standalone_query(question: str, history: Sequence[dict], max_turns: int = 6) -> str:
    """The retrieval query: the question, plus the previous user question for follow-ups."""
    prior = [m["content"] for m in history[-max_turns:] if m["role"] == "user" and m["content"]]
    if not prior:
        return question
    follow_up = bool(_ANAPHORA.search(question)) or len(content_terms(question)) <= 1
    return f"{prior[-1]} {question}" if follow_up else question
