"""What reading a read-only index costs: the private copy of its Chroma folder.

chromadb's PersistentClient writes to whatever it opens, so a process reading an index
in a folder it cannot write first copies the `chroma/` folder into the temp dir
(`index/readonly.py`). This builds on-disk indexes of `--sizes` passages (the SQuAD
dev text windows of bench/scale.py; each sentence's vector stored with its chunk, as
ingest stores them; vectors from a hashing stand-in, since only their size matters
here) and times `chroma_copy`, the page cache warm (the median of `--rounds`).
Prints one JSON object per size, then a Markdown table.

    .venv/bin/python bench/readonly_copy.py [--sizes 1000,10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.scale import EVAL, make_passages  # noqa: E402


def du(path: Path) -> int:
    """Bytes of the files under `path`."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> int:
    """Build each size, copy it `--rounds` times, print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    import chromadb
    from langchain_core.embeddings import DeterministicFakeEmbedding

    from corpus.chunking import chunk_id
    from index import ChunkStore
    from index.batching import batches
    from index.private_copy import chroma_copy, remove_copies

    sizes = sorted(int(s) for s in args.sizes.split(","))
    passages = make_passages(EVAL, sizes[-1], max_chars=1000)
    for doc in passages:
        text = doc.page_content
        doc.metadata.update(start=0, end=len(text), page=None,
                            id=chunk_id(doc.metadata["source"], None, 0, text))
    work = Path(tempfile.mkdtemp(prefix="sourcechat-bench-ro-"))
    rows = []
    try:
        folder = work / "chroma"
        client = chromadb.PersistentClient(path=str(folder),
                                           settings=chromadb.Settings(anonymized_telemetry=False))
        store = ChunkStore(client, "sourcechat", DeterministicFakeEmbedding(size=384), "bench")
        done = 0
        for n in sizes:
            for part in batches(passages[done:n], 500):
                store.add_documents(part)
            done = n
            times = []
            for _ in range(args.rounds):
                start = time.perf_counter()
                chroma_copy(str(folder))
                times.append(time.perf_counter() - start)
                remove_copies()
            row = {"passages": store.count(), "chroma_mb": round(du(folder) / 1e6, 1),
                   "copy_s": round(statistics.median(times), 2)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| passages | chroma/ folder | private copy (warm) |\n|---|---|---|")
    for r in rows:
        print(f"| {r['passages']:,} | {r['chroma_mb']:,.0f} MB | {r['copy_s']:.2f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
