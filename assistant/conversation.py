"""Follow-up questions: turn "What did she say?" into a query that retrieval can use.

With an LLM the follow-up is rewritten from the recent history (bounded by a
budget, so long chats never overflow the model's context); the rewrite is kept
only if it is one question that keeps the follow-up's words and brings in
words from the conversation, and no others. Otherwise (no LLM, or a rewrite that answers
instead, or resolves nothing) the previous question is searched with it.

An ordinal or "the other" reference ("the second one", "the other depot") is resolved
before any of that, from the previous answer (`references`), with every backend.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from assistant.references import find_reference, resolve
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
    """A question that needs the conversation: a pronoun or vague word, an ordinal or "the
    other" reference to the previous answer's items, or almost no content."""
    if not any(m["role"] == "user" and m["content"] for m in history):
        return False
    return (bool(_ANAPHORA.search(question)) or len(content_terms(question)) <= 1
            or find_reference(question, " ".join(previous_exchange(history))) is not None)


def previous_exchange(history: Sequence[dict]) -> tuple[str, str]:
    """The last user question and the answer given to it ("" when none was)."""
    for i in range(len(history) - 1, -1, -1):
        if history[i]["role"] == "user" and history[i]["content"]:
            answers = [m["content"] for m in history[i + 1:] if m["role"] == "assistant"]
            return history[i]["content"], answers[0] if answers else ""
    return "", ""


def resolve_reference(question: str, history: Sequence[dict],
                      search: Callable[[str], Sequence[str]] | None = None) -> str | None:
    """The follow-up with its ordinal or "the other" reference replaced by the item of the
    previous answer it names (`references.resolve`: "the other depot" may be found by
    `search`); None when there is none to resolve."""
    asked, answered = previous_exchange(history)
    return resolve(question, asked, answered, search) if asked else None


def standalone_query(question: str, history: Sequence[dict], max_turns: int = 6) -> str:
    """The retrieval query without an LLM: a reference resolved from the previous answer,
    else the previous user question plus the follow-up."""
    prior = [m["content"] for m in history[-max_turns:] if m["role"] == "user" and m["content"]]
    if not prior or not is_follow_up(question, history):
        return question
    return resolve_reference(question, history) or f"{prior[-1]} {question}"


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
