"""Follow-up questions: turn "What did she say?" into a query that retrieval can use.

With an LLM the follow-up is rewritten from the recent history (bounded by a
budget, so long chats never overflow the model's context); the rewrite is kept
only if it is one question that keeps the follow-up's words and brings in
words from the conversation, and no others. Otherwise (no LLM, or a rewrite that answers
instead, or resolves nothing) the previous question is searched with it.
"""

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


def is_follow_up(question: str, history: Sequence[dict]) -> bool:
    """A question that needs the conversation: a pronoun or vague word, or almost no content."""
    if not any(m["role"] == "user" and m["content"] for m in history):
        return False
    return bool(_ANAPHORA.search(question)) or len(content_terms(question)) <= 1


def standalone_query(question: str, history: Sequence[dict], max_turns: int = 6) -> str:
    """The retrieval query without an LLM: the previous user question plus a follow-up."""
    prior = [m["content"] for m in history[-max_turns:] if m["role"] == "user" and m["content"]]
    if not prior or not is_follow_up(question, history):
        return question
    return f"{prior[-1]} {question}"


def recent_history(history: Sequence[dict], budget_chars: int) -> list[dict]:
    """The latest messages that fit in a character budget (long ones cut), oldest first."""
    kept: list[dict] = []
    left = budget_chars
    for msg in reversed(history):
        if left <= 0:
            break
        text = " ".join(msg["content"].split())
        if len(text) > left:
            text = text[:left].rsplit(" ", 1)[0] + " …"
        kept.append({"role": msg["role"], "content": text})
        left -= len(text)
    return kept[::-1]


def format_conversation(history: Sequence[dict]) -> str:
    """The history as `User: ...` / `Assistant: ...` lines for the rewrite prompt."""
    names = {"user": "User", "assistant": "Assistant"}
    return "\n".join(f"{names[m['role']]}: {m['content']}" for m in history)


def accept_rewrite(text: str, question: str, history: Sequence[dict]) -> str | None:
    """The LLM's rewrite if it is usable: one question that keeps the follow-up's content
    words and adds words from the conversation, and only from it; else None."""
    line = next((ln.strip() for ln in (text or "").splitlines() if ln.strip()), "")
    line = line.strip('"“”').strip()
    if not line.endswith("?") or "[" in line or len(line) > 3 * len(question) + 80:
        return None
    asked = set(content_terms(question))
    got = set(content_terms(line))
    context = set(content_terms(" ".join(m["content"] for m in history)))
    added = got - asked
    if asked - got or not added or not added <= context:  # lost words, resolved nothing, invented
        return None
    return line
