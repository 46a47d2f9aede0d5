"""The document-level questions (summaries, overviews, lists, comparisons, the collection,
and two the documents do not cover) through `sourcechat eval`, with the real corpus, the
real Chroma and MiniLM, per backend: extractive, the embedded SmolLM2, and a capable model
played by the stand-in OpenAI-compatible server (tests/standin.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.standin import standin_server

QUESTIONS = Path(__file__).parent / "data" / "document-questions.jsonl"  # + squad-dev-public


@pytest.mark.slow
def test_document_questions_pass_with_every_backend(tmp_path, capsys):
    from ui.cli import main

    backends = ["extractive", "embedded", "openai:standin"]
    with standin_server() as server:
        args = ["--data-dir", str(tmp_path / "d"), "eval", str(QUESTIONS), "--json", "--quiet",
                "--llm-base-url", server.base_url]
        for b in backends:
            args += ["--llm", b]
        assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["questions"] == 13 and out["documents"] == 13
    kinds = {json.loads(line)["kind"] for line in QUESTIONS.read_text().splitlines()}
    for backend in backends:
        rows = [r for r in out["results"] if r["backend"] == backend]
        passed = [r["id"] for r in rows if r["passed"]]
        assert len(passed) >= 11, (backend, [r for r in rows if not r["passed"]])
        for kind in kinds:  # every kind passes at least once with each backend
            assert any(r["passed"] for r in rows if r["kind"] == kind), (backend, kind)
        declined = [r for r in rows if r["kind"] == "decline"]
        assert declined and all(not r["found"] for r in declined)
        assert all(r["error"] is None for r in rows)
