"""`sourcechat eval`: retrieval, answer and declining figures on an evaluation file.

Everything runs in one process on the same machine state: our hybrid retriever
and the baseline (LangChain tutorial: recursive 1000/200 chunks, MiniLM, Chroma
top-k) are measured side by side, in fresh collections of a temporary data dir.
"""

from __future__ import annotations

import random
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from langchain_core.documents import Document

from assistant.evaluation import (
    EvalQuestion,
    EvalSet,
    contains_answer,
    exact_match,
    f1_score,
    first_hit,
    load_eval,
    percentile,
)
from assistant.factory import build_assistant, chroma_client, clear_clients
from assistant.settings import Settings
from corpus import SAMPLE_DIR, load_documents
from index.progress import stderr_progress
from index.store import collection_names

MARKERS = re.compile(r"\s*\[\d+\]")


def run_eval(path: str | Path, settings: Settings, ks: Sequence[int] = (1, 3, 5, 10),
             n_answers: int = 100, max_questions: int | None = None,
             progress: bool = True, seed: int = 0) -> dict:
    """Run the evaluation; returns the `sourcechat eval --json` object."""
    data = load_eval(path)
    ks = sorted(set(ks))
    tmp = Path(tempfile.mkdtemp(prefix="sourcechat-eval-"))
    # fresh collections, named apart so evals sharing a Chroma server never meet
    settings = settings.model_copy(update={"collection": f"eval-{uuid.uuid4().hex[:8]}"})
    try:
        with _Bar(progress) as bar:
            return _run(data, settings, tmp, ks, n_answers, max_questions, bar, seed)
    finally:
        if settings.chroma_url:
            client = chroma_client(settings)
            for name in collection_names(client):
                if name.startswith(settings.collection):
                    client.delete_collection(name)
        clear_clients()
        shutil.rmtree(tmp, ignore_errors=True)


def _docs(data: EvalSet, sources: Sequence[str] | None = None) -> list[Document]:
    if not data.documents:  # seed-questions format: the sample corpus
        return list(load_documents([str(SAMPLE_DIR)]))
    keep = data.documents if sources is None else {s: data.documents[s] for s in sources}
    return [Document(page_content=t, metadata={"source": s, "title": s.split("#")[0],
                                               "page": None})
            for s, t in keep.items()]


def _assistant(settings: Settings, data_dir: Path, collection: str):
    fresh = settings.model_copy(update={"data_dir": data_dir, "collection": collection,
                                        "model_cache_dir": settings.models_dir})
    return build_assistant(fresh)


def _run(data, settings, tmp, ks, n_answers, max_questions, bar, seed) -> dict:
    from index import index_documents

    rng = random.Random(seed)
    questions = data.answerable
    if max_questions:
        questions = questions[:max_questions]
    kmax = max(ks)

    # 1. our retriever over the whole file
    bar.phase("indexing", 1)
    ours = _assistant(settings, tmp / "all", settings.collection)
    docs = _docs(data)
    index_documents(docs, ours.store, chunk_size=settings.chunk_size,
                    chunk_overlap=settings.chunk_overlap, batch_size=settings.batch_size)
    bar.advance()
    ours.retrieve("warm up")  # loads the model and builds the keyword index

    hits, para_hits, rr, latencies = [], [], [], []
    bar.phase("retrieval", len(questions))
    for q in questions:
        t0 = time.perf_counter()
        passages = ours.retrieve(q.question, k=kmax)
        latencies.append((time.perf_counter() - t0) * 1000)
        rank = first_hit([p.text for p in passages], q.answers)
        hits.append(rank)
        rr.append(0.0 if rank is None else 1.0 / (rank + 1))
        para = next((i for i, p in enumerate(passages) if q.source and p.source == q.source),
                    None)
        para_hits.append(para)
        bar.advance()

    # 2. the baseline, same process, same embedding model, same k
    bar.phase("baseline", len(questions) + 1)
    baseline_hits = _baseline(ours, docs, questions, kmax, bar)

    # 3. answers on the first N answerable questions
    answer_qs = questions[:n_answers]
    bar.phase("answers", len(answer_qs))
    em, f1, cited_ok, answered = [], [], [], 0
    for q in answer_qs:
        answer = ours.ask(q.question)
        text = MARKERS.sub("", answer.text)
        em.append(exact_match(text, q.answers) if answer.found else 0.0)
        f1.append(f1_score(text, q.answers) if answer.found else 0.0)
        if answer.found:
            answered += 1
            cited_ok.append(any(contains_answer(c.passage.text, q.answers)
                                for c in answer.citations))
        bar.advance()

    # 4. declining: index half of the articles, ask about the other half
    declined = _declining(data, settings, tmp, ours, rng, max_questions, bar)

    def recall(rs, k):
        return round(sum(r is not None and r < k for r in rs) / max(len(rs), 1), 4)

    return {
        "file": "", "questions": len(questions), "chunks": ours.store.count(),
        "recall": {str(k): recall(hits, k) for k in ks},
        "baseline_recall": {str(k): recall(baseline_hits, k) for k in ks},
        "paragraph_recall": ({str(k): recall(para_hits, k) for k in ks}
                             if any(q.source for q in questions) else None),
        "mrr": round(sum(rr) / max(len(rr), 1), 4),
        "latency_ms": {"p50": round(percentile(latencies, 50), 2),
                       "p95": round(percentile(latencies, 95), 2)},
        "answers": len(answer_qs), "answered": answered,
        "em": round(sum(em) / max(len(em), 1), 4),
        "f1": round(sum(f1) / max(len(f1), 1), 4),
        "citation_precision": round(sum(cited_ok) / max(len(cited_ok), 1), 4),
        **declined,
        "settings": {"chunk_size": settings.chunk_size, "chunk_overlap": settings.chunk_overlap,
                     "dense_weight": settings.dense_weight,
                     "keyword_weight": settings.keyword_weight,
                     "min_relevance": settings.min_relevance, "llm": settings.llm},
    }


def _baseline(ours, docs, questions, kmax, bar) -> list[int | None]:
    """The LangChain tutorial retriever: recursive 1000/200 chunks, MiniLM, Chroma top-k."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    chunks = splitter.split_documents(docs)
    embeddings = ours.store.embeddings
    col = ours.store.client.get_or_create_collection(
        f"{ours.store.collection_name}-baseline", configuration={"hnsw": {"space": "cosine"}},
        embedding_function=None)
    for i in range(0, len(chunks), 64):
        batch = [c.page_content for c in chunks[i:i + 64]]
        col.add(ids=[f"b{i + j}" for j in range(len(batch))],
                embeddings=embeddings.embed_documents(batch), documents=batch)
    bar.advance()
    out = []
    for q in questions:
        res = col.query(query_embeddings=[embeddings.embed_query(q.question)], n_results=kmax,
                        include=["documents"])
        out.append(first_hit(res["documents"][0], q.answers))
        bar.advance()
    return out


def _declining(data, settings, tmp, ours, rng, max_questions, bar) -> dict:
    from index import index_documents

    threshold = settings.min_relevance
    if not data.articles:  # seed format: out-of-corpus = the unanswerable questions
        pos = [q for q in data.questions if q.answerable]
        neg = [q for q in data.questions if not q.answerable]
        judge = ours
    else:
        titles = sorted(data.articles)
        rng.shuffle(titles)
        indexed = set(titles[: len(titles) // 2])
        judge = _assistant(settings, tmp / "half", f"{settings.collection}-half")
        sources = [s for t in indexed for s in data.articles[t]]
        bar.phase("declining: indexing", 1)
        index_documents(_docs(data, sources), judge.store, chunk_size=settings.chunk_size,
                        chunk_overlap=settings.chunk_overlap, batch_size=settings.batch_size)
        bar.advance()
        pos = [q for q in data.questions if q.answerable and q.article in indexed]
        neg = [q for q in data.questions if q.article not in indexed]
        if max_questions:
            pos, neg = pos[:max_questions], neg[:max_questions]
    bar.phase("declining", len(pos) + len(neg))

    def declines(q: EvalQuestion) -> bool:
        bar.advance()
        return judge.relevance(q.question).score < threshold

    wrongly = sum(declines(q) for q in pos)
    rightly = sum(declines(q) for q in neg)
    return {"declined_unanswerable": round(rightly / max(len(neg), 1), 4),
            "declined_answerable": round(wrongly / max(len(pos), 1), 4),
            "declining_questions": {"out_of_corpus": len(neg), "answerable": len(pos)}}


class _Bar:
    """A rich progress bar with one task per phase (silent when disabled)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __enter__(self):
        if self.enabled:
            self.p = stderr_progress()
            self.p.__enter__()
            self.task = None
        return self

    def phase(self, name: str, total: int) -> None:
        if self.enabled:
            if self.task is not None:
                self.p.update(self.task, completed=self.p.tasks[self.task].total)
            self.task = self.p.add_task(name, total=total)

    def advance(self) -> None:
        if self.enabled and self.task is not None:
            self.p.advance(self.task)

    def __exit__(self, *exc):
        if self.enabled:
            self.p.__exit__(*exc)
