"""Warm latency of document-level answers, per backend, in one process.

Indexes the document questions' corpus (the sample plus the 12 SQuAD articles), warms
each backend with one question, then asks each question `--repeat` times through
`Assistant.stream` and records the time to the first streamed event (text or the final
answer) and to the final answer. Prints one JSON object (p50 and max per question and
backend).

    .venv/bin/python bench/document_latency.py [--repeat 3] [--llm extractive --llm embedded]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SQUAD = ROOT / "tests" / "data" / "squad-dev-public.json"
QUESTIONS = [
    "Summarize the article about the Normans.",   # 39 paragraphs
    "What are the key ideas of computational complexity theory?",
    "What topics do my documents cover?",
    "Compare the Huguenots and the Normans.",
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--llm", action="append", dest="llms", metavar="BACKEND")
    ap.add_argument("--llm-base-url")
    args = ap.parse_args()
    backends = args.llms or ["extractive", "embedded"]

    from assistant import Answer, Settings, build_assistant
    from assistant.eval_run import write_document_corpus

    tmp = Path(tempfile.mkdtemp(prefix="sourcechat-doclat-"))
    folder = write_document_corpus(SQUAD, tmp / "corpus")
    settings = Settings(data_dir=tmp / "data", llm=backends[0],
                        llm_base_url=args.llm_base_url)
    assistant = build_assistant(settings)
    t0 = time.perf_counter()
    assistant.ingest([str(folder)], progress=False)
    out = {"indexing_seconds": round(time.perf_counter() - t0, 1), "results": []}
    for backend in backends:
        assistant.ask("How many people migrated from Japan to North Korea?", backend=backend)
        for q in QUESTIONS:
            first, done = [], []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                t_first = None
                for event in assistant.stream(q, backend=backend):
                    t_first = t_first or time.perf_counter() - t0
                    if isinstance(event, Answer):
                        answer = event
                done.append(time.perf_counter() - t0)
                first.append(t_first)
            out["results"].append({
                "backend": backend, "question": q, "kind": answer.kind,
                "points": answer.text.count("\n- ") + 1, "found": answer.found,
                "first_event_s": {"p50": round(statistics.median(first), 3),
                                  "max": round(max(first), 3)},
                "done_s": {"p50": round(statistics.median(done), 3),
                           "max": round(max(done), 3)}})
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
