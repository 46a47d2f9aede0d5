"""Answer latency with the default (embedded) backend.

Measures (1) a second `ask` inside one process (models already loaded) and
(2) a fresh `sourcechat ask` process after a first run has cached the converted
model. Prints one JSON object.

    .venv/bin/python bench/latency.py [--repeat 5]
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

QUESTIONS = [
    "How many people migrated from Japan to North Korea between 1959 and 1984?",
    "Who is the Tokyo director at Human Rights Watch?",
    "What is the capital of France?",
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    data_dir = tempfile.mkdtemp(prefix="sourcechat-bench-")
    env = dict(os.environ, SOURCECHAT_DATA_DIR=data_dir, SOURCECHAT_LLM="embedded",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    exe = str(Path(sys.executable).with_name("sourcechat"))

    t0 = time.perf_counter()
    first = subprocess.run([exe, "ask", QUESTIONS[0], "--json"], env=env, capture_output=True,
                           text=True, check=True)
    first_s = time.perf_counter() - t0
    assert "93,000" in json.loads(first.stdout)["answer"]

    fresh = []
    for i in range(args.repeat):
        t0 = time.perf_counter()
        subprocess.run([exe, "ask", QUESTIONS[i % len(QUESTIONS)], "--json"], env=env,
                       capture_output=True, check=True)
        fresh.append(time.perf_counter() - t0)

    os.environ.update(env)
    from assistant import Settings, build_assistant

    assistant = build_assistant(Settings())
    assistant.ask(QUESTIONS[0])  # first ask in this process: loads the models
    second = []
    for i in range(args.repeat):
        t0 = time.perf_counter()
        assistant.ask(QUESTIONS[(i + 1) % len(QUESTIONS)])
        second.append(time.perf_counter() - t0)

    print(json.dumps({
        "first_run_process_s (converts the model)": round(first_s, 2),
        "fresh_process_ask_s": {"median": round(statistics.median(fresh), 2),
                                "max": round(max(fresh), 2)},
        "second_ask_in_process_s": {"median": round(statistics.median(second), 2),
                                    "max": round(max(second), 2)},
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
