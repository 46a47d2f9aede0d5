"""How much room each backend gets: passages shown, answer length, context budget.

The embedded 135M model is kept on a short leash (few, focused passages; a
two-sentence answer; document-level answers are chosen from the documents'
own sentences, since it cannot summarize reliably). A capable model behind
Ollama, an OpenAI-compatible server or llama.cpp gets whole passages, hundreds
of tokens, lists and multi-line answers, and writes summaries from per-part
notes. Every limit can be overridden by a setting; these are the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from assistant.backends import parse_backend


@dataclass(frozen=True)
class AnswerLimits:
    """What one backend is given and allowed: see the `Settings` fields of the same names."""

    llm_passages: int          # passages shown to the model for a question
    llm_passage_chars: int     # each cut to its best sentences beyond this (0: whole passages)
    max_new_tokens: int        # answer budget per request
    max_answer_sentences: int  # sentences (or bullets) an answer may keep
    llm_context_chars: int     # source text per request (a long document is read in parts)
    writes_summaries: bool     # the model writes document-level answers (else: chosen sentences)


SMALL = AnswerLimits(llm_passages=3, llm_passage_chars=500, max_new_tokens=40,
                     max_answer_sentences=2, llm_context_chars=1500, writes_summaries=False)
CAPABLE = AnswerLimits(llm_passages=8, llm_passage_chars=0, max_new_tokens=700,
                       max_answer_sentences=12, llm_context_chars=12000, writes_summaries=True)
OVERRIDABLE = ("llm_passages", "llm_passage_chars", "max_new_tokens", "max_answer_sentences",
               "llm_context_chars")


def default_limits(backend: str) -> AnswerLimits:
    """The defaults of a backend spec: SMALL for the embedded model, CAPABLE for servers
    and GGUF files people bring (extractive uses no model: SMALL, for the shared bits)."""
    kind = parse_backend(backend).kind
    return CAPABLE if kind in ("ollama", "openai", "llamacpp") else SMALL


def limits_for(backend: str, settings) -> AnswerLimits:
    """A backend's limits: its defaults, with each setting that is set (not None) applied."""
    base = default_limits(backend)
    changes = {name: getattr(settings, name) for name in OVERRIDABLE
               if getattr(settings, name, None) is not None}
    return replace(base, **changes)
