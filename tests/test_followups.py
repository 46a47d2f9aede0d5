"""Follow-up conversations (../shared/eval/followups.jsonl) with the default embedded backend:
the last turn's answer contains an accepted string, and the query used is the rewritten one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
CONVERSATIONS = [json.loads(line) for line in
                 (Path(__file__).parent / "data" / "followups.jsonl").read_text().splitlines()
                 if line.strip()]


@pytest.mark.parametrize("conv", CONVERSATIONS, ids=[c["id"] for c in CONVERSATIONS])
def test_follow_up_is_answered_from_the_conversation(sample_embedded, conv):
    history: list[dict] = []
    answer = None
    for turn in conv["turns"]:
        answer = sample_embedded.ask(turn, history=history)
        history += [{"role": "user", "content": turn},
                    {"role": "assistant", "content": answer.text}]
    assert answer.found, answer.text
    assert any(a.lower() in answer.text.lower() for a in conv["answers"]), (answer.query,
                                                                            answer.text)
    assert answer.query != conv["turns"][-1]  # retrieval used a standalone question
    assert answer.citations
