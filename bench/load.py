"""Many users at once: N gradio_client clients drive a real `sourcechat serve` for S seconds.

Each client is its own session and holds its own conversations: a seed question,
or a two-turn follow-up (tests/data/followups.jsonl) whose second turn carries
that client's history. Every answer is checked against the accepted strings, so a
history mixed up between sessions shows as a wrong answer. Loopback only.
Prints one JSON object: requests, errors, wrong answers, p50/p95 latency.

    .venv/bin/python bench/load.py [--clients 20] [--seconds 60] [--llm extractive]
    .venv/bin/python bench/load.py --url http://127.0.0.1:7860   # a server already running
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from pathlib import Path

EVAL = Path(__file__).resolve().parents[1] / "tests" / "data"


def conversations() -> list[tuple[list[str], list[str]]]:
    """(turns, accepted answers) for every answerable seed question and follow-up."""
    out = []
    for line in (EVAL / "seed-questions.jsonl").read_text().splitlines():
        item = json.loads(line) if line.strip() else None
        if item and item["answerable"] and not item.get("all_answers_required"):
            out.append(([item["question"]], item["answers"]))
    for line in (EVAL / "followups.jsonl").read_text().splitlines():
        if line.strip():
            item = json.loads(line)
            out.append((item["turns"], item["answers"]))
    return out


def client_loop(url: str, auth, me: int, until: float, convs, results: list, lock) -> None:
    """One user: ask conversation after conversation until the deadline."""
    from gradio_client import Client

    client = Client(url, auth=auth, verbose=False)
    n = me
    while time.monotonic() < until:
        conv = n % len(convs)
        turns, accepted = convs[conv]
        n += 1
        history: list[dict] = []
        for i, question in enumerate(turns):
            t0 = time.perf_counter()
            try:
                got = client.predict(question, history, 5, None, api_name="/ask")
                error = None
            except Exception as err:  # noqa: BLE001 - counted and reported
                got, error = None, f"{type(err).__name__}: {str(err)[:120]}"
            seconds = time.perf_counter() - t0
            last = i == len(turns) - 1
            right = None
            if got is not None and last:
                text = got.get("answer", "").lower()
                right = any(a.lower() in text for a in accepted)
            with lock:
                results.append({"client": me, "seconds": seconds, "error": error,
                                "right": right, "turns": len(turns), "conv": conv})
            if got is None:
                break
            history += [{"role": "user", "content": question},
                        {"role": "assistant", "content": got["answer"]}]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--llm", default="extractive", help="backend the served chat uses")
    ap.add_argument("--url", help="drive this server instead of starting one")
    ap.add_argument("--auth", help="USER:PASS for a server that requires a login")
    args = ap.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.serving import running_serve

    work = Path(tempfile.mkdtemp(prefix="sourcechat-load-"))
    auth = tuple(args.auth.split(":", 1)) if args.auth else None
    serve_args = ["--llm", args.llm] + (["--auth", args.auth] if args.auth else [])
    env = {"SOURCECHAT_DATA_DIR": str(work / "data")}
    ctx = nullcontext(args.url) if args.url else running_serve(work, *serve_args, env=env)
    convs = conversations()
    results: list[dict] = []
    lock = threading.Lock()
    with ctx as url:
        until = time.monotonic() + args.seconds
        threads = [threading.Thread(target=client_loop,
                                    args=(url, auth, i, until, convs, results, lock))
                   for i in range(args.clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    ok = [r["seconds"] for r in results if r["error"] is None]
    judged = [r for r in results if r["right"] is not None]
    latencies = sorted(ok)
    print(json.dumps({
        "clients": args.clients, "seconds": round(wall, 1), "llm": args.llm,
        "requests": len(results), "errors": sum(r["error"] is not None for r in results),
        "error_samples": sorted({r["error"] for r in results if r["error"]})[:3],
        "answers_checked": len(judged), "answers_right": sum(r["right"] for r in judged),
        "followups_right": sum(r["right"] for r in judged if r["turns"] > 1),
        "followups_checked": sum(r["turns"] > 1 for r in judged),
        # the same conversation judged right once and wrong another time would mean
        # answers (or histories) leaking between sessions: it must be 0
        "conversations_inconsistent": len({r["conv"] for r in judged if r["right"]}
                                          & {r["conv"] for r in judged if not r["right"]}),
        "clients_served": len({r["client"] for r in results if r["error"] is None}),
        "p50_s": round(statistics.median(latencies), 2) if latencies else None,
        "p95_s": round(latencies[int(0.95 * (len(latencies) - 1))], 2) if latencies else None,
        "throughput_per_s": round(len(ok) / wall, 2),
    }))
    return 0 if not any(r["error"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
