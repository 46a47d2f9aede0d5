"""Where a fresh `sourcechat ask` process spends its time, stage by stage.

Builds an index of the sample corpus once (or uses --data-dir), answers once per
backend to warm the caches (keyword index, converted models, the OS page cache),
then times N fresh processes per backend, two ways:

- `wall_s`: the console script itself, `sourcechat ask --llm BACKEND QUESTION`;
- `stages_s`: the same command run through a small timing hook (this file with
  --child): it wraps the functions that do each stage, runs `ui.cli.main()` as the
  console script does, and writes each stage's own time (nested stages excluded)
  when the process exits; the stages add up to the hooked process's wall time.

Each figure is the median over the runs. Up to three more runs under
`python -X importtime` give the import time per top-level package (`imports_ms`,
their median; importtime itself adds some overhead). Prints one JSON object.
`--tree DIR` times another checkout of the code with this venv (e.g. the commit
before a change, from `git archive COMMIT | tar -x -C DIR`).

    .venv/bin/python bench/startup.py [--runs 5] [--llm extractive --llm embedded]
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

QUESTION = "How many people migrated from Japan to North Korea between 1959 and 1984?"
ROOT = Path(__file__).resolve().parent.parent

# (stage, module, attribute): the functions whose calls make up each stage. A stage's
# time excludes the stages nested in it (the query embedding inside retrieval...).
HOOKS = [
    ("settings", "assistant.settings", "Settings.load"),
    ("Chroma open (import chromadb, client)", "assistant.factory", "chroma_client"),
    ("build assistant", "assistant.factory", "build_assistant"),
    ("first-use check (collection, count)", "assistant.pipeline", "Assistant._first_use"),
    ("embeddings model load (import torch, weights)", "index.embeddings", "_load"),
    ("query embedding", "index.embeddings", "SentenceTransformerEmbeddings.embed_query"),
    ("keyword index load", "index.keyword", "KeywordIndex._load"),
    ("keyword index load", "index.keyword", "KeywordIndex._build"),
    ("retrieval (Chroma queries, BM25, fusion)", "index.search", "PassageRetriever.search"),
    ("answer (kinds, evidence, grounding)", "assistant.pipeline", "Assistant.stream"),
    ("LLM generation", "assistant.writer", "Writer.write"),
    ("CLI (arguments, output)", "ui.cli", "main"),
]
# loaded only by the backends that use them: hooked once make_chat_model imported them
LLM_HOOKS = [
    ("LLM load", "assistant.llamacpp", "ContextPool._new"),
    ("LLM load", "assistant.embedded", "_load"),
]
START, IMPORTS, EXIT = ("interpreter start", "imports (CLI, pipeline: langchain, pydantic, "
                        "numpy)", "process exit")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="fresh processes per backend")
    ap.add_argument("--llm", action="append", dest="llms", metavar="BACKEND",
                    help="backend to time (repeatable; default: extractive and embedded)")
    ap.add_argument("--question", default=QUESTION)
    ap.add_argument("--data-dir", help="an index to use (default: a new one of the sample "
                    "corpus in a temporary folder)")
    ap.add_argument("--tree", default=str(ROOT), help="the checkout whose code is timed")
    ap.add_argument("--no-importtime", action="store_true", help="skip the -X importtime run")
    ap.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        return _child(args.child[0], args.child[1:])

    tree = Path(args.tree).resolve()
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="sourcechat-startup-")
    env = dict(os.environ, SOURCECHAT_DATA_DIR=data_dir, HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(tree))
    env.pop("SOURCECHAT_DEBUG", None)
    exe = str(Path(sys.executable).with_name("sourcechat"))
    if args.data_dir is None:
        subprocess.run([exe, "ingest", "--quiet"], env=env, cwd=tree, check=True,
                       capture_output=True)
    result = {"question": args.question, "runs": args.runs, "cpus": os.cpu_count(),
              "tree": str(tree), "data_dir": data_dir, "backends": {}}
    for llm in args.llms or ["extractive", "embedded"]:
        command = ["ask", "--llm", llm, args.question]
        subprocess.run([exe, *command], env=env, cwd=tree, check=True, capture_output=True)
        walls, hooked, stages = [], [], []
        for _ in range(args.runs):  # alternate the two kinds so both see the same load
            t0 = time.perf_counter()
            subprocess.run([exe, *command], env=env, cwd=tree, check=True, capture_output=True)
            walls.append(time.perf_counter() - t0)
            wall, times = _hooked_run(command, env, tree)
            hooked.append(wall)
            stages.append(times)
        names = list(dict.fromkeys(n for times in stages for n in times))
        result["backends"][llm] = {
            "wall_s": _median(walls), "wall_runs_s": [round(w, 2) for w in walls],
            "hooked_wall_s": _median(hooked),
            "stages_s": {n: _median([t.get(n, 0.0) for t in stages]) for n in names},
        }
        if not args.no_importtime:  # the median of up to 3 runs: one is noisy
            runs = [_import_times(exe, command, env, tree) for _ in range(min(3, args.runs))]
            result["backends"][llm]["imports_ms"] = _top_packages(runs)
    print(json.dumps(result, indent=1))
    return 0


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def _hooked_run(command: list[str], env: dict, tree: Path) -> tuple[float, dict[str, float]]:
    """One fresh process through the timing hook: its wall time and stage times."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        started = time.time()
        t0 = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--child", out.name, *command], env=env,
                       cwd=tree, check=True, capture_output=True)
        wall = time.perf_counter() - t0
        ended = started + wall
        report = json.loads(Path(out.name).read_text())
    times = {START: report["entered"] - started, **report["stages"]}
    if report["missing"]:
        times["(hooks not found: " + ", ".join(report["missing"]) + ")"] = 0.0
    times[EXIT] = ended - report["exited"]
    return wall, times


def _import_times(exe: str, command: list[str], env: dict, tree: Path) -> dict[str, float]:
    """Import time (ms, self times summed) per top-level package, in one -X importtime run."""
    run = subprocess.run([sys.executable, "-X", "importtime", exe, *command], env=env, cwd=tree,
                         check=True, capture_output=True, text=True)
    per_package: dict[str, float] = {}
    for line in run.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line.removeprefix("import time:").split("|")
        top = name.strip().split(".")[0]
        per_package[top] = per_package.get(top, 0.0) + int(self_us) / 1000
    return per_package


def _top_packages(runs: list[dict[str, float]], top: int = 15) -> dict[str, int]:
    """The median import time per package over runs: the total, the top ones, the rest."""
    names = {n for run in runs for n in run}
    median = {n: statistics.median([run.get(n, 0.0) for run in runs]) for n in names}
    ranked = sorted(median.items(), key=lambda kv: -kv[1])
    return {"total": round(statistics.median([sum(run.values()) for run in runs])),
            **{k: round(v) for k, v in ranked[:top]},
            "others": round(sum(v for _, v in ranked[top:]))}


# -- the timing hook (runs in the timed process) ---------------------------------------------
def _child(out_path: str, argv: list[str]) -> int:
    entered = time.time()
    if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
        del sys.path[0]  # bench/ is not a package root: its scripts must not shadow modules
    import importlib
    import threading
    import types

    own: dict[str, float] = {}
    stack: list[list] = []  # [stage, started, time of nested stages]
    main_thread = threading.main_thread()

    def enter(stage: str) -> None:
        stack.append([stage, time.perf_counter(), 0.0])

    def leave() -> None:
        stage, started, nested = stack.pop()
        spent = time.perf_counter() - started
        own[stage] = own.get(stage, 0.0) + spent - nested
        if stack:
            stack[-1][2] += spent

    def timed(stage: str, fn):
        def resumed(gen):  # a generator's time is spent while it runs, not when made
            while True:
                enter(stage)
                try:
                    item = next(gen)
                except StopIteration as stop:
                    return stop.value
                finally:
                    leave()
                yield item

        def wrapper(*a, **kw):
            if threading.current_thread() is not main_thread:
                return fn(*a, **kw)
            enter(stage)
            try:
                result = fn(*a, **kw)
            finally:
                leave()
            return resumed(result) if isinstance(result, types.GeneratorType) else result

        wrapper.timed_stage = stage
        return wrapper

    missing: list[str] = []

    def hook(stage: str, module: str, attr: str) -> None:
        owner = importlib.import_module(module)
        *path, name = attr.split(".")
        for part in path:
            owner = getattr(owner, part)
        raw = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
        if raw is None:
            missing.append(f"{module}.{attr}")
        elif isinstance(raw, classmethod):
            setattr(owner, name, classmethod(timed(stage, raw.__func__)))
        else:
            setattr(owner, name, timed(stage, raw))

    enter(IMPORTS)
    importlib.import_module("ui.cli")
    importlib.import_module("assistant.factory")  # what `sourcechat ask` imports first
    leave()
    for stage, module, attr in HOOKS:
        hook(stage, module, attr)
    backends = importlib.import_module("assistant.backends")
    make_chat_model = backends.make_chat_model

    def make_and_hook(*a, **kw):
        model = make_chat_model(*a, **kw)
        for stage, module, attr in LLM_HOOKS:
            if module in sys.modules and not hasattr(
                    _lookup(sys.modules[module], attr), "timed_stage"):
                hook(stage, module, attr)
        return model

    backends.make_chat_model = make_and_hook
    importlib.import_module("assistant.factory").make_chat_model = make_and_hook

    def report() -> None:
        Path(out_path).write_text(json.dumps({
            "entered": entered, "exited": time.time(), "missing": missing,
            "stages": {k: round(v, 4) for k, v in own.items()}}))

    real_exit = os._exit

    def exiting(status: int) -> None:  # `ask` ends the process with os._exit
        while stack:
            leave()
        report()
        real_exit(status)

    os._exit = exiting
    sys.argv = ["sourcechat", *argv]
    status = importlib.import_module("ui.cli").main()
    exiting(status)
    return status


def _lookup(owner, attr: str):
    for part in attr.split("."):
        owner = getattr(owner, part, None)
    return owner


if __name__ == "__main__":
    sys.exit(main())
