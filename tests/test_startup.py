"""A fresh `sourcechat ask` imports only what answering needs (docs/startup.md): no
sentence-transformers, transformers, scikit-learn, scipy, bm25s, gradio or document
converters, whose imports once took most of its 9 s."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import SAMPLE_QUESTION

pytestmark = pytest.mark.slow

NOT_FOR_QUESTIONS = ("sentence_transformers", "transformers", "sklearn", "scipy", "bm25s",
                     "gradio", "langchain_ollama", "langchain_openai", "llama_cpp", "pypdf",
                     "bs4", "docx")


def test_a_fresh_ask_imports_only_what_answering_needs():
    env = dict(os.environ)
    ingest = subprocess.run([sys.executable, "-m", "ui", "ingest", "--quiet"], env=env,
                            capture_output=True, text=True, timeout=600)
    assert ingest.returncode == 0, ingest.stderr
    ask = subprocess.run([sys.executable, "-X", "importtime", "-m", "ui", "ask", SAMPLE_QUESTION,
                          "--llm", "extractive", "--json"], env=env, capture_output=True,
                         text=True, timeout=600)
    assert ask.returncode == 0, ask.stderr
    assert "93,000" in json.loads(ask.stdout)["answer"]
    imported = {line.rpartition("|")[2].strip().split(".")[0] for line in
                ask.stderr.splitlines() if line.startswith("import time:")}
    assert {"torch", "chromadb", "index"} <= imported  # the listing is what it seems
    assert sorted(imported.intersection(NOT_FOR_QUESTIONS)) == []
