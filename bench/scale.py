"""Scale: 100k+ passages, embedded and server mode side by side; build, disk, hybrid p50/p95.

Passages come from the public evaluation text (the SQuAD dev articles): each is a
window of 2-3 consecutive sentences of one paragraph followed by 1-2 consecutive
sentences of another (seeded, all distinct), so every passage has real, distinct
embeddings and the index is full of near-duplicates, the hard case for retrieval.

The same passages go, in batches, through the ingest path (`index_documents`:
chunk, embed, Chroma upsert, records) into two indexes at once: on disk
(`PersistentClient`) and behind a real `chroma run` server on loopback. Each batch is
embedded once (the work is the same in both modes): embedding time is reported once,
and each mode's build time is that plus its own writing time. At each checkpoint
(`--sizes`) and for each mode it reports the chunks held, disk size (Chroma files,
records, keyword index), the keyword index's build from nothing (a new process
with no saved index) and its catch-up after a one-chunk write (what a writer
waits for), and retrieval latency p50/p95 of `Assistant.retrieve` (the public path: query
embedding, HNSW candidates, BM25 candidates, exact best-sentence scoring) over
`--questions` SQuAD questions, with hit@5 (an accepted answer in the top 5). The two
modes answer the questions alternately. Prints one JSON object per checkpoint, then
a Markdown table.

    .venv/bin/python bench/scale.py [--sizes 10000,30000,100000] [--questions 300]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings

EVAL = Path(__file__).resolve().parents[1] / "tests" / "data" / "squad-dev-public.json"


def make_passages(squad: Path, n: int, max_chars: int, seed: int = 0) -> list[Document]:
    """`n` distinct passages of mixed sentence windows, one source each."""
    from corpus.text import sentences

    data = json.loads(squad.read_text())["data"]
    paras = [(a["title"], [s.text for s in sentences(p["context"])])
             for a in data for p in a["paragraphs"]]
    paras = [(t, s) for t, s in paras if len(s) >= 2]
    rng = random.Random(seed)
    seen: set[str] = set()
    out: list[Document] = []
    while len(out) < n:
        (title, first), (_, second) = rng.choice(paras), rng.choice(paras)
        i, w = rng.randrange(len(first) - 1), rng.randint(2, 3)
        j, w2 = rng.randrange(len(second)), rng.randint(1, 2)
        text = " ".join(first[i:i + w] + second[j:j + w2])
        if len(text) > max_chars or text in seen:
            continue
        seen.add(text)
        source = f"scale/{len(out):06d}.txt"
        out.append(Document(page_content=text, metadata={"source": source, "title": title}))
    return out


def questions(squad: Path, n: int, seed: int = 1) -> list[tuple[str, list[str]]]:
    """`n` answerable SQuAD questions with their accepted answers (seeded order)."""
    data = json.loads(squad.read_text())["data"]
    qs = [(q["question"], [a["text"] for a in q["answers"]])
          for a in data for p in a["paragraphs"] for q in p["qas"]
          if q["answers"] and not q.get("is_impossible")]
    random.Random(seed).shuffle(qs)
    return qs[:n]


class SharedEmbeddings(Embeddings):
    """The real model, with each batch's document vectors kept until `forget()`, so the
    second index gets the vectors the first one paid for; queries are always encoded."""

    def __init__(self, inner):
        self.inner = inner
        self.model_name = inner.model_name
        self.seconds = 0.0  # time spent encoding documents
        self.texts = 0
        self._memo: dict[str, np.ndarray] = {}

    def embed_array(self, texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if todo:
            t0 = time.perf_counter()
            vectors = self.inner.embed_array(todo)
            self.seconds += time.perf_counter() - t0
            self.texts += len(todo)
            self._memo.update(zip(todo, vectors, strict=True))
        return np.stack([self._memo[t] for t in texts])

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_array(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)

    def forget(self) -> None:
        self._memo.clear()


def du(*paths: Path) -> int:
    """Bytes under these paths."""
    return sum(f.stat().st_size for p in paths if p.exists() for f in p.rglob("*")
               if f.is_file())


def rss_mb(pid: int | str = "self", field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,30000,100000",
                    help="checkpoints: passages indexed when measured")
    ap.add_argument("--questions", type=int, default=300)
    ap.add_argument("--batch", type=int, default=2000, help="passages per index_documents call")
    ap.add_argument("--modes", default="disk,server")
    ap.add_argument("--eval", type=Path, default=EVAL, help="SQuAD-format JSON")
    ap.add_argument("--keep", action="store_true", help="keep the indexes (prints where)")
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    modes = args.modes.split(",")

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from assistant import Settings
    from assistant.factory import build_assistant
    from index import (
        KeywordIndex,
        SentenceTransformerEmbeddings,
        check,
        index_documents,
        remove_sources,
    )
    from tests.stores import start_server

    work = Path(tempfile.mkdtemp(prefix="sourcechat-scale-"))
    base = Settings(data_dir=work / "disk")
    shared = SharedEmbeddings(SentenceTransformerEmbeddings(
        base.embedding_model, batch_size=base.batch_size, precision=base.embedding_precision))
    server = None
    assistants, paths = {}, {}
    for mode in modes:
        data = work / mode
        settings = Settings(data_dir=data)
        paths[mode] = [data]
        if mode == "server":
            server, url = start_server(work / "chroma-server")
            settings = Settings(data_dir=data, chroma_url=url)
            paths[mode].append(work / "chroma-server")
        assistants[mode] = build_assistant(settings, embeddings=shared)

    passages = make_passages(args.eval, sizes[-1], base.chunk_size)
    asked = questions(args.eval, args.questions + 10)
    warmup, asked = asked[:10], asked[10:]
    build = {m: 0.0 for m in modes}
    rows = []
    done = 0
    try:
        for size in sizes:
            while done < size:
                batch = passages[done:min(done + args.batch, size)]
                order = modes if (done // args.batch) % 2 == 0 else modes[::-1]
                for mode in order:
                    spent = shared.seconds
                    t0 = time.perf_counter()
                    index_documents(batch, assistants[mode].store, chunk_size=base.chunk_size,
                                    chunk_overlap=base.chunk_overlap,
                                    batch_size=base.batch_size)
                    build[mode] += time.perf_counter() - t0 - (shared.seconds - spent)
                shared.forget()
                done += len(batch)
                print(f"[scale] {done:,} passages, embedding {shared.seconds:.0f} s",
                      file=sys.stderr, flush=True)
            row = {"passages": size, "embedding_s": round(shared.seconds, 1),
                   "sentences_embedded": shared.texts}
            for mode in modes:
                asst = assistants[mode]
                t0 = time.perf_counter()
                KeywordIndex(asst.store, None).count()  # a process with no saved index
                rebuild = time.perf_counter() - t0
                keyword = asst.retriever.keyword
                keyword.refresh()
                extra = Document(page_content=f"One more passage, written at {size:,}.",
                                 metadata={"source": f"scale/extra-{size}.txt", "title": "x"})
                index_documents([extra], asst.store, chunk_size=base.chunk_size,
                                chunk_overlap=base.chunk_overlap, batch_size=base.batch_size)
                t0 = time.perf_counter()
                keyword.refresh()  # what a writer waits for after a small ingest
                catchup = time.perf_counter() - t0
                remove_sources(asst.store, [extra.metadata["source"]])
                keyword.refresh()
                for q, _ in warmup:
                    asst.retrieve(q, k=5)
                row[mode] = {"chunks": asst.store.count(), "write_s": round(build[mode], 1),
                             "build_s": round(build[mode] + shared.seconds, 1),
                             "disk_mb": round(du(*paths[mode]) / 2**20, 1),
                             "keyword_rebuild_s": round(rebuild, 2),
                             "keyword_catchup_s": round(catchup, 2), "latencies": [],
                             "hits": 0}
            for q, answers in asked:
                for mode in modes:
                    t0 = time.perf_counter()
                    found = assistants[mode].retrieve(q, k=5)
                    row[mode]["latencies"].append(time.perf_counter() - t0)
                    row[mode]["hits"] += any(a in p.text for p in found for a in answers)
            for mode in modes:
                lat = row[mode].pop("latencies")
                row[mode].update(
                    p50_ms=round(1000 * statistics.median(lat), 1),
                    p95_ms=round(1000 * pct(lat, 0.95), 1),
                    hit_at_5=round(row[mode].pop("hits") / len(asked), 3),
                    consistent=check(assistants[mode].store,
                                     assistants[mode].retriever.keyword)["consistent"])
            row["process_peak_rss_mb"] = round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
            if server is not None:
                row["server_rss_mb"] = rss_mb(server.pid)
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
        if args.keep:
            print(f"[scale] indexes kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(table(rows, modes))
    return 0 if all(r[m]["consistent"] for r in rows for m in modes) else 1


def table(rows: list[dict], modes: list[str]) -> str:
    """The figures as a Markdown table, one line per checkpoint and mode."""
    lines = ["| passages | mode | build | disk | keyword index: from nothing / after a "
             "1-chunk write | p50 | p95 | hit@5 |", "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        for m in modes:
            f = r[m]
            lines.append(f"| {r['passages']:,} | {m} | {f['build_s'] / 60:.1f} min "
                         f"(writing {f['write_s'] / 60:.1f}) | {f['disk_mb']:,.0f} MB | "
                         f"{f['keyword_rebuild_s']:.1f} s / {f['keyword_catchup_s']:.1f} s | "
                         f"{f['p50_ms']:.0f} ms | "
                         f"{f['p95_ms']:.0f} ms | {f['hit_at_5']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
