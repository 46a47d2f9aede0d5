"""The `sourcechat` command line (also `python -m ui`): ingest, status, ask, sources,
remove, eval, feedback, serve.

Errors are translated here: one line on stderr, a non-zero exit status, no traceback
(unless SOURCECHAT_DEBUG=1: then the full traceback follows the line).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback

from corpus.errors import SourcechatError
from corpus.injection import flagged_note

EXIT_OK, EXIT_ERROR, EXIT_PARTIAL = 0, 1, 2


def parser() -> argparse.ArgumentParser:
    """The argument parser (global options, then one sub-command)."""
    from assistant.settings import MAX_K

    p = argparse.ArgumentParser(
        prog="sourcechat", description="Chat with your documents; answers cite their passages.")
    p.add_argument("--data-dir", help="where the index lives (env SOURCECHAT_DATA_DIR)")
    p.add_argument("--collection", help="index collection name (env SOURCECHAT_COLLECTION)")
    p.add_argument("--chroma-url", help="use a Chroma server, http://HOST:PORT "
                   "(env SOURCECHAT_CHROMA_URL; default: the on-disk index in the data dir)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ing = sub.add_parser("ingest", help="index files and folders (default: the sample corpus)")
    ing.add_argument("paths", nargs="*", metavar="PATH")
    ing.add_argument("--quiet", action="store_true", help="no progress bar")
    ing.add_argument("--sync", action="store_true",
                     help="also remove indexed files that are gone from the folders given")
    ing.add_argument("--json", action="store_true", help="print the report as one JSON object")
    ing.add_argument("--watch", action="store_true",
                     help="then keep watching the folders: added, changed, renamed and "
                     "deleted files are indexed as they happen (implies --sync; Ctrl-C stops)")

    rx = sub.add_parser("reindex", help="re-embed every chunk with the configured "
                        "embedding model into a new index, then switch to it (the old one "
                        "answers questions until the switch)")
    rx.add_argument("--quiet", action="store_true", help="no progress bar")
    rx.add_argument("--json", action="store_true", help="print the report as one JSON object")

    st = sub.add_parser("status", help="check that Chroma, the records and the keyword "
                        "index agree (counts and ids)")
    st.add_argument("--json", action="store_true")
    st.add_argument("--repair", action="store_true",
                    help="make them agree (what an interrupted run left is removed)")

    ask = sub.add_parser("ask", help="answer a question with cited passages")
    ask.add_argument("question")
    ask.add_argument("--k", type=int, help=f"passages to retrieve, 1-{MAX_K} (default: the k "
                     "setting, SOURCECHAT_K)")
    ask.add_argument("--llm", help="backend: embedded | extractive | ollama:MODEL | "
                     "openai:MODEL | llamacpp:PATH.gguf (env SOURCECHAT_LLM)")
    ask.add_argument("--llm-base-url",
                     help="ollama/openai server URL (env SOURCECHAT_LLM_BASE_URL)")
    ask.add_argument("--source", action="append", dest="sources", metavar="SOURCE",
                     help="only use this indexed document: its full path or a unique file "
                     "name (repeatable)")
    ask.add_argument("--json", action="store_true", help="print one JSON object")

    src = sub.add_parser("sources", help="list indexed documents with chunk counts")
    src.add_argument("--json", action="store_true")

    rm = sub.add_parser("remove", help="remove a document and all its chunks")
    rm.add_argument("source", help="full source path, or a file name that is unique")

    ev = sub.add_parser("eval", help="measure retrieval, answers and declining on a file")
    ev.add_argument("file", help="SQuAD-format JSON, seed-questions JSON lines, or "
                    "document-questions JSON lines (items with `nuggets`)")
    ev.add_argument("--k", type=int, nargs="+", default=[1, 3, 5, 10], dest="ks")
    ev.add_argument("--answers", type=int, default=100, help="questions to answer (EM/F1)")
    ev.add_argument("--max-questions", type=int, help="cap the questions (quick runs)")
    ev.add_argument("--llm", action="append", dest="llms", metavar="BACKEND",
                    help="backend for the answers (default: the configured one); repeatable: "
                    "document questions are answered by each, other files use the first")
    ev.add_argument("--llm-base-url", help="ollama/openai server URL")
    ev.add_argument("--corpus-squad", metavar="PATH",
                    help="document questions: the SQuAD file whose articles they are about "
                    "(default: squad-dev-public.json beside the questions file)")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    ev.add_argument("--json", action="store_true", help="print one JSON object")

    fb = sub.add_parser("feedback", help="list the web chat's thumbs up/down on answers")
    fb.add_argument("--json", action="store_true", help="print one JSON array")

    srv = sub.add_parser("serve", help="start the web chat")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=7860)
    srv.add_argument("--llm", help="default backend in the chat")
    srv.add_argument("--llm-base-url", help="ollama/openai server URL")
    srv.add_argument("--auth", action="append", metavar="USER:PASS",
                     help="require this login (repeatable; env SOURCECHAT_AUTH)")
    srv.add_argument("--auth-file", metavar="PATH",
                     help="logins, one USER:PASS per line (env SOURCECHAT_AUTH_FILE)")
    srv.add_argument("--watch", action="append", metavar="FOLDER",
                     help="keep the index in step with this folder while serving (repeatable)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `sourcechat` console script."""
    args = parser().parse_args(argv)
    try:
        status = _run(args)
        if args.command == "ask" and argv is None:
            # Read-only and done: skip the interpreter's slow teardown of torch and
            # Chroma threads (about a second), as a console script only (exit handlers
            # do not run: a read-only index's private copy is removed here).
            from index.private_copy import remove_copies

            remove_copies()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
        return status
    except SourcechatError as err:
        _report(f"error: {err}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `sourcechat ask ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as err:  # the last resort: still one line (a traceback only to debug)
        _report(f"error: unexpected {type(err).__name__}: {err}")
        return EXIT_ERROR


def _report(line: str) -> None:
    """One line on stderr; with SOURCECHAT_DEBUG=1, the traceback of the error after it."""
    print(line, file=sys.stderr)
    if os.environ.get("SOURCECHAT_DEBUG") == "1":
        traceback.print_exc(file=sys.stderr)


def _settings(args):
    from assistant.settings import Settings

    overrides = {}
    if args.data_dir:
        overrides["data_dir"] = args.data_dir
    if args.collection:
        overrides["collection"] = args.collection
    if args.chroma_url:
        overrides["chroma_url"] = args.chroma_url
    if getattr(args, "auth_file", None):
        overrides["auth_file"] = args.auth_file
    if getattr(args, "llm", None):
        overrides["llm"] = args.llm
    if getattr(args, "llm_base_url", None):
        overrides["llm_base_url"] = args.llm_base_url
    return Settings.load(**overrides)


def _run(args) -> int:
    from assistant.factory import build_assistant

    settings = _settings(args)
    if args.command == "serve":
        from ui.app import serve  # gradio loads only for `serve`

        serve(settings, host=args.host, port=args.port, auth=args.auth, watch=args.watch)
        return EXIT_OK
    if args.command == "eval":
        return _eval(settings, args)
    if args.command == "feedback":
        return _feedback(settings, args)
    if args.command in ("ingest", "remove", "reindex") or getattr(args, "repair", False):
        from assistant.factory import check_not_served

        check_not_served(settings)
    assistant = build_assistant(settings)

    if args.command == "ingest" and args.watch:
        return _watch(assistant, args)
    if args.command == "ingest":
        report = assistant.ingest(args.paths or None,
                                  progress=not (args.quiet or args.json), sync=args.sync)
        if args.json:
            print(json.dumps(ingest_json(report, assistant.store.count()), ensure_ascii=False))
        else:
            _print_ingest(report, assistant.store.count())
        return EXIT_OK if report.ok else EXIT_PARTIAL

    if args.command == "reindex":
        report = assistant.reindex(progress=not (args.quiet or args.json))
        print(json.dumps(report.to_dict()) if args.json else report.summary())
        return EXIT_OK

    if args.command == "status":
        from index import check, repair

        if args.repair:
            with assistant.store.records.writer_lock():
                fixed = repair(assistant.store)
            print(f"repaired {fixed} leftover(s)", file=sys.stderr)
        state = check(assistant.store, assistant.retriever.keyword)
        state["suspect"] = assistant.store.suspect_sources()
        if args.json:
            print(json.dumps(state))
        else:
            print(f"{state['chunks']} chunks in Chroma, {state['records']} recorded, "
                  f"{state['keyword_index']} in the keyword index, {state['sources']} sources, "
                  f"embedding model {state['embedding_model']}: "
                  + ("consistent" if state["consistent"] else
                     "INCONSISTENT (run `sourcechat status --repair`)"))
            for source, n in state["suspect"].items():
                print(f"warning: {source}: {flagged_note(n)}")
        return EXIT_OK if state["consistent"] else EXIT_ERROR

    if args.command == "ask":  # the assistant checks the question, --k and --source
        return _ask(assistant, args)

    if args.command == "sources":
        rows = assistant.sources()
        if args.json:
            print(json.dumps([{"source": s, "title": t, "chunks": n} for s, t, n in rows]))
        elif not rows:
            print("The index is empty: run `sourcechat ingest [PATH ...]`.")
        else:
            for s, _, n in rows:
                print(f"{n:6d}  {s}")
        return EXIT_OK

    if args.command == "remove":
        source, n = assistant.remove(args.source)
        print(f"removed {source} ({n} chunks)")
        return EXIT_OK
    return EXIT_ERROR


def _watch(assistant, args) -> int:
    """`ingest --watch`: index the folders, then keep them in step until Ctrl-C."""
    from index.watch import watch_folders

    if not args.paths:
        raise SourcechatError("--watch needs the folders to watch: sourcechat ingest --watch "
                              "FOLDER...")
    folders = watch_folders(args.paths)
    report = assistant.ingest(folders, progress=not (args.quiet or args.json), sync=True)
    _show(report, assistant, args.json)
    print(f"watching {len(folders)} folder(s) for changes; Ctrl-C stops", file=sys.stderr,
          flush=True)
    try:
        assistant.watch(folders, lambda r: _show(r, assistant, args.json))
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def _show(report, assistant, as_json: bool) -> None:
    total = assistant.store.count()
    if as_json:
        print(json.dumps(ingest_json(report, total), ensure_ascii=False), flush=True)
    else:
        _print_ingest(report, total)
        sys.stdout.flush()


def ingest_json(report, total: int) -> dict:
    """The `sourcechat ingest --json` object."""
    return {"indexed": report.indexed, "unchanged": report.unchanged,
            "duplicates": [{"path": d, "same_as": t} for d, t in report.duplicates],
            "removed": report.removed,
            "errors": [{"path": e.path, "reason": e.reason} for e in report.errors],
            "pages": {s: {"ocr": n.read_by_ocr, "empty": n.no_text, "summary": n.summary()}
                      for s, n in report.pages.items()},
            "suspect": report.suspect,
            "chunks_added": report.chunks_added, "chunks_kept": report.chunks_kept,
            "chunks_removed": report.chunks_removed, "repaired": report.repaired,
            "seconds": round(report.seconds, 2), "chunks_in_index": total}


def _print_ingest(report, total: int) -> None:
    for source, notes in report.pages.items():
        print(f"note: {source}: {notes.summary()}", file=sys.stderr)
    for source, n in report.suspect.items():
        print(f"warning: {source}: {flagged_note(n)}", file=sys.stderr)
    for err in report.errors:
        print(f"skipped: {err}", file=sys.stderr)
    for dup, twin in report.duplicates:
        print(f"skipped: {dup}: same content as {twin} (indexed once)", file=sys.stderr)
    if report.repaired:
        print(f"repaired {report.repaired} leftover(s) of an interrupted ingest", file=sys.stderr)
    for gone in report.removed:
        print(f"removed: {gone} (no longer in the folder)", file=sys.stderr)
    if not report.indexed and not report.removed and not report.chunks_removed:
        print(f"Nothing to embed: {len(report.unchanged)} file(s) unchanged, "
              f"{len(report.errors)} failed, {len(report.duplicates)} duplicate(s) "
              f"in {report.seconds:.1f}s ({total} chunks in the index)")
        return
    print(f"{len(report.indexed)} file(s) indexed, {len(report.unchanged)} unchanged, "
          f"{len(report.duplicates)} duplicate(s), {len(report.errors)} failed, "
          f"{len(report.removed)} removed; {report.chunks_added} chunk(s) embedded, "
          f"{report.chunks_kept} kept, {report.chunks_removed} deleted in "
          f"{report.seconds:.1f}s ({total} chunks in the index)")


def _ask(assistant, args) -> int:
    from assistant.citations import Answer

    answer = None
    streamed = False
    stream_to_tty = not args.json and sys.stdout.isatty()
    for event in assistant.stream(args.question, [], k=args.k, sources=args.sources):
        if isinstance(event, Answer):
            answer = event
        elif stream_to_tty:
            print(event, end="", flush=True)
            streamed = True
    if answer is None:  # the stream ended without its final Answer
        raise SourcechatError("The assistant returned no answer (its stream ended early).")
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
        return EXIT_OK
    if streamed:  # the final answer replaces the draft (it may have failed the grounding check)
        print("\r\033[J", end="")
        print("\n" + "─" * 40)
    if answer.warning:
        print(f"Warning: {answer.warning}\n")
    print(answer.text)
    if answer.removed_note:
        print(f"({answer.removed_note})")
    if answer.citations:
        print("\nSources:")
        for c in answer.citations:
            p = c.passage
            # the supporting sentences when known, else the passage's beginning
            quote = " … ".join(p.text[a:b] for a, b in c.spans) or p.text
            quote = " ".join(quote.split())
            score = f", score {p.score:.2f}" if p.score else ""
            print(f"  [{c.n}] {p.name} (chars {p.start}-{p.end}{score})")
            print(f"      {quote[:300]}{'…' if len(quote) > 300 else ''}")
    if answer.missing:
        print(f"\nNo document contains: {', '.join(answer.missing)}")
    if answer.closest:
        print("\nClosest passages found (not an answer):")
        for p in answer.closest:
            quote = " ".join(p.text.split())
            print(f"  {p.name} (chars {p.start}-{p.end}, score {p.score:.2f})")
            print(f"      {quote[:200]}{'…' if len(quote) > 200 else ''}")
    return EXIT_OK


def _feedback(settings, args) -> int:
    from ui.conversations import ChatStore, chats_file

    path = chats_file(settings.data_dir)
    entries = ChatStore(path).feedback() if path.is_file() else []
    if args.json:
        print(json.dumps(entries, ensure_ascii=False))
        return EXIT_OK
    if not entries:
        print(f"No feedback yet in {path} (thumbs up/down under an answer in the web chat).")
    for e in entries:
        reason = f" ({e['reason']})" if e["reason"] else ""
        print(f"{e['created']}  {e['rating']:<4}{reason}  {e['login'] or '-'}: "
              f"{e['question']}  -> {e['answer'].get('status', '')}")
    return EXIT_OK


def _eval(settings, args) -> int:
    from assistant.eval_run import run_eval
    from assistant.pipeline import check_k

    for k in args.ks:  # each is retrieved as a question's k is
        check_k(k)
    if args.answers < 0:
        raise SourcechatError("--answers must be >= 0")
    result = run_eval(args.file, settings, args.ks, args.answers, args.max_questions,
                      progress=not args.quiet, backends=args.llms,
                      corpus_squad=args.corpus_squad)
    result["file"] = args.file
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return EXIT_OK
    if result.get("format") == "documents":
        _print_document_eval(result)
        return EXIT_OK
    print(f"{result['questions']} answerable questions, {result['chunks']} chunks")
    print(f"{'k':>4}  {'recall':>7}  {'baseline':>8}  {'paragraph':>9}")
    for k in result["recall"]:
        para = (result["paragraph_recall"] or {}).get(k)
        print(f"{k:>4}  {result['recall'][k]:>7.3f}  {result['baseline_recall'][k]:>8.3f}  "
              f"{para if para is not None else '-':>9}")
    lat = result["latency_ms"]
    print(f"MRR {result['mrr']:.3f}; retrieval latency p50 {lat['p50']:.1f} ms, "
          f"p95 {lat['p95']:.1f} ms")
    print(f"answers ({result['answers']}, {result['answered']} answered): EM {result['em']:.3f}, "
          f"F1 {result['f1']:.3f}, contains gold {result['contains_gold']:.3f}, "
          f"citation precision {result['citation_precision']:.3f}")
    for group, ends in (result.get("premise") or {}).items():
        decoy = (f", answered with the decoy {ends['answered_with_decoy']:.3f}"
                 if "answered_with_decoy" in ends else "")
        print(f"{group} questions ({ends['questions']}): answered {ends['answered']:.3f}, partial "
              f"{ends['partial']:.3f}, declined {ends['declined']:.3f}{decoy}")
    print(f"declined: out-of-corpus {result['declined_unanswerable']:.3f}, "
          f"answerable (wrongly) {result['declined_answerable']:.3f}")
    return EXIT_OK


def _print_document_eval(result: dict) -> None:
    """Passes per kind (rows) and backend (columns), the overall count, the misses."""
    backends = result["backends"]
    table = result["by_backend_kind"]
    print(f"{result['questions']} document questions, {result['documents']} documents "
          f"({result['chunks']} chunks)")
    width = max([len("kind"), *(len(k) for k in result["by_kind"])])

    def line(label: str, cells: list[str]) -> str:
        return f"{label:<{width}}" + "".join(f"  {c:>{max(len(b), 7)}}"
                                             for b, c in zip(backends, cells, strict=True))

    def cell(c: dict | None) -> str:
        return f"{c['passed']}/{c['total']}" if c else "-"

    print(line("kind", backends))
    for kind in result["by_kind"]:
        print(line(kind, [cell(table.get(b, {}).get(kind)) for b in backends]))
    print(line("all", [cell(result["by_backend"].get(b)) for b in backends]))
    overall = result["overall"]
    print(f"overall {overall['passed']}/{overall['total']} passed ({overall['rate']:.1%})")
    for b in backends:
        rows = [r for r in result["results"] if r["backend"] == b]
        misses = [r["id"] for r in rows if not r["passed"]]
        if misses:
            print(f"missed by {b}: {' '.join(misses)}")
        errors = [r["error"] for r in rows if r["error"]]
        if errors:
            print(f"{b}: {len(errors)} failed, first: {errors[0]}", file=sys.stderr)
