"""Answer quality per backend on SQuAD dev: the same questions, the same index, one process.

Indexes the 472 paragraphs of squad-dev-public.json (one document per paragraph, as
`sourcechat eval` does), asks the first N answerable questions with each backend and
prints, per backend: the share answered, the share whose answer text contains a gold
answer (over all questions), citation precision (share of the answered whose cited
passages contain a gold answer), SQuAD EM and F1, and the median seconds per answer.

    .venv/bin/python bench/answer_quality.py [--questions 200] [--llm extractive --llm embedded]
        [--llm openai:MODEL --llm-base-url URL] [--json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

EVAL = Path(__file__).resolve().parents[1] / "tests" / "data" / "squad-dev-public.json"


def measure(assistant, questions, backend: str) -> dict:
    """Ask every question with one backend; the answer figures and p50 seconds."""
    from assistant.evaluation import percentile, score_answer, summarize_answers

    scores, seconds = [], []
    for i, q in enumerate(questions, start=1):
        t0 = time.perf_counter()
        answer = assistant.ask(q.question, backend=backend)
        seconds.append(time.perf_counter() - t0)
        scores.append(score_answer(answer.text, answer.found,
                                   [c.passage.text for c in answer.citations], q.answers))
        if i % 50 == 0:
            print(f"  {backend}: {i}/{len(questions)}", file=sys.stderr, flush=True)
    figures = summarize_answers(scores)
    return {"backend": backend, **figures,
            "answered_share": round(figures["answered"] / max(len(scores), 1), 4),
            "p50_seconds": round(percentile(seconds, 50), 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", default=str(EVAL), help="SQuAD-format JSON")
    ap.add_argument("--questions", type=int, default=200, help="first N answerable questions")
    ap.add_argument("--llm", action="append", dest="llms", metavar="BACKEND",
                    help="repeatable (default: --llm extractive --llm embedded)")
    ap.add_argument("--llm-base-url", help="ollama/openai server URL")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()

    from assistant import Settings
    from assistant.backends import parse_backend
    from assistant.eval_run import eval_documents, fresh_assistant
    from assistant.evaluation import load_eval
    from corpus.errors import SourcechatError
    from index import index_documents

    tmp = Path(tempfile.mkdtemp(prefix="sourcechat-answers-"))
    try:
        backends = [parse_backend(b).name for b in args.llms or ["extractive", "embedded"]]
        data = load_eval(args.file)
        if not data.documents:
            raise SourcechatError(f"{args.file} is not a SQuAD file")
        # a fresh index in a temp dir; converted models stay cached in the usual data dir
        settings = Settings(llm=backends[0], llm_base_url=args.llm_base_url, chroma_url=None)
        assistant = fresh_assistant(settings, tmp, "answer-quality")
        t0 = time.perf_counter()
        index_documents(eval_documents(data), assistant.store, chunk_size=settings.chunk_size,
                        chunk_overlap=settings.chunk_overlap, batch_size=settings.batch_size)
        assistant.retrieve("warm up")  # loads the model and builds the keyword index
        print(f"indexed {len(data.documents)} paragraphs ({assistant.store.count()} chunks) in "
              f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
        questions = data.answerable[:args.questions]
        rows = [measure(assistant, questions, b) for b in backends]
    except SourcechatError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        print(json.dumps({"file": args.file, "paragraphs": len(data.documents),
                          "questions": len(questions), "backends": rows}))
        return 0
    print(f"{len(questions)} answerable questions, {len(data.documents)} paragraphs")
    width = max(len("backend"), *(len(r["backend"]) for r in rows))
    print(f"{'backend':<{width}}  answered  contains gold  citation prec.     EM     F1  p50 s")
    for r in rows:
        print(f"{r['backend']:<{width}}  {r['answered_share']:>8.3f}  {r['contains_gold']:>13.3f}"
              f"  {r['citation_precision']:>14.3f}  {r['em']:>5.3f}  {r['f1']:>5.3f}"
              f"  {r['p50_seconds']:>5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
