"""Ingest throughput and memory: the whole pipeline vs raw `SentenceTransformer.encode`.

Writes the SQuAD dev articles (the public evaluation text) as files, chunks
them as ingest does, then in one process, side by side and alternating:
(1) raw `SentenceTransformer.encode` of those chunk texts, and (2) `ingest()`
of the folder into a fresh Chroma collection (read, chunk, embed, write,
record). The same weights, loaded twice: by sentence-transformers for (1), by
the pipeline's own encoder (index/encoder.py, the same vectors) for (2).
Prints chunks/s of each, the ratio,
and the process's peak RSS. `--mb N` repeats the text (each copy varied) into
an N MB corpus for the memory figure.

    .venv/bin/python bench/ingest_throughput.py [--rounds 2] [--mb 100]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

EVAL = Path(__file__).resolve().parents[1] / "tests" / "data" / "squad-dev-public.json"


def write_corpus(folder: Path, squad: Path, mb: float | None) -> int:
    """One file per SQuAD article (repeated with a copy number until `mb` MB); returns bytes."""
    data = json.loads(squad.read_text())["data"]
    articles = [(a["title"], "\n\n".join(p["context"] for p in a["paragraphs"])) for a in data]
    folder.mkdir(parents=True, exist_ok=True)
    total, copy = 0, 0
    while True:
        for title, text in articles:
            body = text if copy == 0 else f"Copy {copy} of {title}.\n\n{text}\n\n(copy {copy})"
            path = folder / f"{copy:04d}-{title[:60]}.txt"
            path.write_text(body)
            total += path.stat().st_size
            if mb and total >= mb * 2**20:
                return total
        copy += 1
        if not mb:
            return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval", type=Path, default=EVAL, help="SQuAD-format JSON")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds of each")
    ap.add_argument("--mb", type=float, help="grow the corpus to this many MB (memory run)")
    ap.add_argument("--raw", action=argparse.BooleanOptionalAction, default=True,
                    help="also time raw encode (off for a memory-only run)")
    args = ap.parse_args()

    from assistant.factory import offline

    offline()
    import chromadb

    from assistant.settings import Settings
    from corpus import chunk_documents, load_documents
    from index import ChunkStore, IndexRecords, SentenceTransformerEmbeddings, ingest
    from index.embeddings import resolve_model_path

    settings = Settings()
    work = Path(tempfile.mkdtemp(prefix="sourcechat-bench-"))
    size = write_corpus(work / "docs", args.eval, args.mb)
    # the raw side needs the chunk texts in memory; a memory run (--no-raw) must not hold them
    texts = [c.page_content for c in chunk_documents(
        load_documents([work / "docs"]), chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap)
    ] if args.raw else []
    embeddings = SentenceTransformerEmbeddings(settings.embedding_model,
                                               batch_size=settings.batch_size,
                                               precision=settings.embedding_precision)
    embeddings.embed_array(texts[:64] or ["warm up"])
    model = None
    if args.raw:
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(resolve_model_path(settings.embedding_model), device="cpu")
        model.encode(texts[:64], batch_size=settings.batch_size)
    client = chromadb.PersistentClient(path=str(work / "chroma"),
                                       settings=chromadb.Settings(anonymized_telemetry=False))

    import torch

    raw_rates, same_rates, ours_rates = [], [], []
    for r in range(args.rounds):
        if args.raw:  # the stock call, at its better batch size here (16 or its default 32)
            raw_rates.append(_raw_rate(model, texts, bf16=False))
            if embeddings.bf16:  # like for like: the stock call under the same autocast
                same_rates.append(_raw_rate(model, texts, bf16=True))
        name = f"bench{r}"
        store = ChunkStore(client, name, embeddings, settings.embedding_model,
                           records=IndexRecords(work / "records.sqlite3", name))
        report = ingest([work / "docs"], store, chunk_size=settings.chunk_size,
                        chunk_overlap=settings.chunk_overlap, batch_size=settings.batch_size,
                        max_file_mb=settings.max_file_mb, progress=False)
        assert report.ok and report.chunks_added == (len(texts) or report.chunks_added), report
        n_chunks = report.chunks_added
        ours_rates.append(n_chunks / report.seconds)
        print(f"round {r + 1}: raw {raw_rates[-1] if raw_rates else 0:.1f} chunks/s, "
              f"pipeline {ours_rates[-1]:.1f} chunks/s", file=sys.stderr)

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    raw = statistics.median(raw_rates) if raw_rates else None
    same = statistics.median(same_rates) if same_rates else raw
    ours = statistics.median(ours_rates)
    print(json.dumps({
        "corpus_mb": round(size / 2**20, 1), "files": len(list((work / "docs").iterdir())),
        "chunks": n_chunks, "rounds": args.rounds, "ingest_s": round(report.seconds, 1),
        "pipeline_bf16_autocast": embeddings.bf16, "torch_threads": torch.get_num_threads(),
        "raw_encode_chunks_per_s": round(raw, 1) if raw else None,
        "raw_encode_same_precision_chunks_per_s": round(same, 1) if same else None,
        "pipeline_chunks_per_s": round(ours, 1),
        "ratio": round(ours / raw, 3) if raw else None,
        "ratio_same_precision": round(ours / same, 3) if same else None,
        "peak_rss_mb": round(peak_mb), "work_dir": str(work),
    }))
    return 0


def _raw_rate(model, texts: list[str], bf16: bool) -> float:
    """Chunks/s of the stock `encode` (best of batch 16 and its default 32)."""
    import torch

    best = 0.0
    for batch in (16, 32):
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            model.encode(texts, batch_size=batch, normalize_embeddings=True)
        best = max(best, len(texts) / (time.perf_counter() - t0))
    return best


if __name__ == "__main__":
    sys.exit(main())
