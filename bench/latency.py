"""Answer latency with the embedded backend, its two runtimes side by side.

(1) Warm: in one process, one assistant per runtime (llama.cpp, transformers) over
the same index, models loaded; every seed question (tests/data/seed-questions.jsonl)
asked once of each, alternating, so no answer is replayed from the cache of
identical requests and a busy machine slows both alike. Reports the median per
runtime and the ratio.
(2) Fresh: `sourcechat ask` processes after a first run built the index (and, for
transformers, converted the model), one question each.
Prints one JSON object.

    .venv/bin/python bench/latency.py [--repeat 6]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIMES = ("llamacpp", "transformers")
QUESTIONS = [
    "How many people migrated from Japan to North Korea between 1959 and 1984?",
    "Who is the Tokyo director at Human Rights Watch?",
    "What is the capital of France?",
]


def fresh_runs(env: dict, repeat: int) -> dict:
    exe = str(Path(sys.executable).with_name("sourcechat"))
    t0 = time.perf_counter()
    first = subprocess.run([exe, "ask", QUESTIONS[0], "--json"], env=env, capture_output=True,
                           text=True, check=True)
    first_s = time.perf_counter() - t0
    assert "93,000" in json.loads(first.stdout)["answer"], first.stdout
    fresh = []
    for i in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([exe, "ask", QUESTIONS[i % len(QUESTIONS)], "--json"], env=env,
                       capture_output=True, check=True)
        fresh.append(time.perf_counter() - t0)
    return {"first_run_s": round(first_s, 2), "median_s": round(statistics.median(fresh), 2),
            "max_s": round(max(fresh), 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=6, help="fresh processes per runtime")
    args = ap.parse_args()
    data_dir = tempfile.mkdtemp(prefix="sourcechat-bench-")
    base = dict(os.environ, SOURCECHAT_DATA_DIR=data_dir, SOURCECHAT_LLM="embedded",
                HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    fresh = {rt: fresh_runs(dict(base, SOURCECHAT_EMBEDDED_RUNTIME=rt), args.repeat)
             for rt in RUNTIMES}

    os.environ.update(base)
    from assistant import Settings, build_assistant

    assistants = {rt: build_assistant(Settings(embedded_runtime=rt)) for rt in RUNTIMES}
    for a in assistants.values():
        a.ask("Who wrote the letter?")  # loads the models (a question not asked below)
    items = [json.loads(line) for line in
             (ROOT / "tests" / "data" / "seed-questions.jsonl").read_text().splitlines()
             if line.strip()]
    questions = [item["question"] for item in items]
    warm: dict[str, list[float]] = {rt: [] for rt in RUNTIMES}
    for q in questions:
        for rt, a in assistants.items():
            t0 = time.perf_counter()
            a.ask(q)
            warm[rt].append(time.perf_counter() - t0)
    medians = {rt: statistics.median(v) for rt, v in warm.items()}
    answerable = {rt: statistics.median(t for t, item in zip(v, items, strict=True)
                                        if item["answerable"]) for rt, v in warm.items()}
    print(json.dumps({
        "warm_ask_s": {rt: {"median": round(medians[rt], 2), "max": round(max(warm[rt]), 2),
                            "median_answerable": round(answerable[rt], 2)}
                       for rt in RUNTIMES},
        "warm_ratio_transformers_vs_llamacpp": round(medians["transformers"]
                                                     / medians["llamacpp"], 2),
        "questions": len(questions),
        "fresh_process_ask": fresh,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
