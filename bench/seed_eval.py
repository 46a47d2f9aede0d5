"""Score the assistant on tests/data/seed-questions.jsonl (the sample document).

An answerable question counts when the answer contains an accepted string (all of
them where `all_answers_required`) and a cited passage contains it too; an
unanswerable one counts when it is declined.

    .venv/bin/python bench/seed_eval.py [--llm embedded|extractive] [--questions FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# a copy of ../shared/eval/seed-questions.jsonl, so a clean clone can run it
DEFAULT_QUESTIONS = ROOT / "tests" / "data" / "seed-questions.jsonl"


def norm(s: str) -> str:
    return " ".join(s.lower().replace("’", "'").split())


def contains(text: str, needle: str) -> bool:
    return norm(needle) in norm(text)


def score(answer, item) -> tuple[bool, bool]:
    """(answer right, a cited passage contains the accepted string(s))."""
    accepted = item["answers"]
    cited = " ".join(c.passage.text for c in answer.citations)
    if item.get("all_answers_required"):
        right = all(contains(answer.text, a) for a in accepted)
        cites = all(contains(cited, a) for a in accepted)
    else:
        hits = [a for a in accepted if contains(answer.text, a)]
        right = bool(hits)
        cites = any(contains(cited, a) for a in hits)
    return right, cites


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llm", default="embedded")
    ap.add_argument("--questions", default=str(DEFAULT_QUESTIONS))
    ap.add_argument("--data-dir", help="reuse a data dir (default: a fresh temp dir)")
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args()

    from assistant import Settings, build_assistant

    data_dir = args.data_dir or tempfile.mkdtemp(prefix="sourcechat-eval-")
    assistant = build_assistant(Settings(data_dir=data_dir, llm=args.llm))
    assistant.ensure_indexed()
    items = [json.loads(line) for line in open(args.questions) if line.strip()]
    answered = declined = n_ans = n_unans = 0
    times = []
    for item in items:
        t0 = time.perf_counter()
        answer = assistant.ask(item["question"])
        times.append(time.perf_counter() - t0)
        if item["answerable"]:
            n_ans += 1
            right, cites = score(answer, item)
            ok = answer.found and right and cites
            answered += ok
        else:
            n_unans += 1
            ok = not answer.found
            declined += ok
        mark = "ok  " if ok else "MISS"
        print(f"{mark} {item['id']} {item['question']}\n     -> {answer.text[:200]}",
              file=sys.stderr if not args.verbose else sys.stdout)
    print(json.dumps({
        "backend": args.llm,
        "answerable_correct_and_cited": f"{answered}/{n_ans}",
        "unanswerable_declined": f"{declined}/{n_unans}",
        "mean_seconds_per_question": round(sum(times) / len(times), 2),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
