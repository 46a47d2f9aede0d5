"""`sourcechat eval`: retrieval, answer and declining figures on an evaluation file.

Everything runs in one process on the same machine state: our hybrid retriever
and the baseline (LangChain tutorial: recursive 1000/200 chunks, MiniLM, Chroma
top-k) are measured side by side, in fresh collections of a temporary data dir.

A document-questions file (JSON lines with `nuggets`) is measured instead on the
sample document plus the SQuAD articles as files (`<title>.txt`), once per backend
over one index: pass rates overall, per backend and per question kind.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from langchain_core.documents import Document

from assistant.backends import parse_backend
from assistant.citations import ANSWERED, DECLINED, PARTIAL
from assistant.evaluation import (
    DocumentQuestion,
    EvalQuestion,
    EvalSet,
    contains_answer,
    first_hit,
    is_document_questions,
    judge_document,
    load_document_questions,
    load_eval,
    percentile,
    score_answer,
    squad_articles,
    strip_markers,
    summarize_answers,
    tally,
)
from assistant.factory import build_assistant, chroma_client, clear_clients, models_dir
from assistant.profiles import limits_for
from assistant.settings import Settings
from corpus import SAMPLE_DIR, load_documents
from corpus.errors import SourcechatError
from index.progress import stderr_progress
from index.store import HNSW, collection_names

SQUAD_FILE = "squad-dev-public.json"  # the document questions' corpus, beside them


def run_eval(path: str | Path, settings: Settings, ks: Sequence[int] = (1, 3, 5, 10),
             n_answers: int = 100, max_questions: int | None = None,
             progress: bool = True, seed: int = 0, backends: Sequence[str] | None = None,
             corpus_squad: str | Path | None = None) -> dict:
    """Run the evaluation; returns the `sourcechat eval --json` object.

    `backends` (default: the configured one) answer the document questions each in
    turn; the other formats use the first. `corpus_squad` is the SQuAD file whose
    articles the document questions are about (default: beside the questions file).
    """
    backends = list(dict.fromkeys(parse_backend(b).name for b in backends or [settings.llm]))
    documents = is_document_questions(path)
    data = load_document_questions(path) if documents else load_eval(path)
    ks = sorted(set(ks))
    tmp = Path(tempfile.mkdtemp(prefix="sourcechat-eval-"))
    # fresh collections, named apart so evals sharing a Chroma server never meet
    settings = settings.model_copy(update={"collection": f"eval-{uuid.uuid4().hex[:8]}",
                                           "llm": backends[0]})
    try:
        with _Bar(progress) as bar:
            if documents:
                squad = Path(corpus_squad) if corpus_squad else Path(path).parent / SQUAD_FILE
                return _run_documents(data, settings, tmp, backends, squad, max_questions,
                                      bar)
            return _run(data, settings, tmp, ks, n_answers, max_questions, bar, seed)
    finally:
        if settings.chroma_url:
            client = chroma_client(settings)
            for name in collection_names(client):
                if name.startswith(settings.collection):
                    client.delete_collection(name)
        clear_clients()
        shutil.rmtree(tmp, ignore_errors=True)


def eval_documents(data: EvalSet, sources: Sequence[str] | None = None) -> list[Document]:
    """The documents of an evaluation set (the sample corpus for seed questions); SQuAD
    paragraphs become one Document each, source `Title#i`."""
    if not data.documents:  # seed-questions format: the sample corpus
        return list(load_documents([str(SAMPLE_DIR)]))
    keep = data.documents if sources is None else {s: data.documents[s] for s in sources}
    return [Document(page_content=t, metadata={"source": s, "title": s.split("#")[0],
                                               "page": None})
            for s, t in keep.items()]


def fresh_assistant(settings: Settings, data_dir: Path, collection: str):
    """An assistant on its own data dir and collection, sharing the converted-model cache."""
    fresh = settings.model_copy(update={"data_dir": data_dir, "collection": collection,
                                        "model_cache_dir": models_dir(settings)})
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
    ours = fresh_assistant(settings, tmp / "all", settings.collection)
    docs = eval_documents(data)
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
    scores = []
    for q in answer_qs:
        answer = ours.ask(q.question)
        scores.append(score_answer(answer.text, answer.found,
                                   [c.passage.text for c in answer.citations], q.answers))
        bar.advance()

    # 4. premise checks: impossible questions about indexed articles vs answerable ones
    premise = _premise(data, ours, rng, n_answers, bar)

    # 5. declining: index half of the articles, ask about the other half
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
        **summarize_answers(scores),
        **({"premise": premise} if premise else {}),
        **declined,
        "settings": {"chunk_size": settings.chunk_size, "chunk_overlap": settings.chunk_overlap,
                     "dense_weight": settings.dense_weight,
                     "keyword_weight": settings.keyword_weight,
                     "min_relevance": settings.min_relevance, "llm": settings.llm},
    }


def write_document_corpus(squad: Path, folder: Path) -> Path:
    """The document questions' corpus as files: the sample document(s) and one
    `<title>.txt` per SQuAD article (paragraphs joined by blank lines)."""
    if not squad.is_file():
        raise SourcechatError(f"The document questions are about the articles of {squad}, "
                              "which is not there: pass --corpus-squad PATH.")
    folder.mkdir(parents=True, exist_ok=True)
    for sample in SAMPLE_DIR.iterdir():
        if sample.is_file():
            (folder / sample.name).write_bytes(sample.read_bytes())
    for title, text in squad_articles(squad).items():
        (folder / f"{title.replace('/', '_')}.txt").write_text(text + "\n", encoding="utf-8")
    return folder


def _run_documents(questions: list[DocumentQuestion], settings, tmp, backends, squad,
                   max_questions, bar) -> dict:
    questions = questions[:max_questions] if max_questions else questions
    folder = write_document_corpus(squad, tmp / "corpus")
    bar.phase("indexing", 1)
    assistant = fresh_assistant(settings, tmp / "docs", settings.collection)
    report = assistant.ingest([str(folder)], progress=False)
    if report.errors:
        raise SourcechatError(f"Cannot index the evaluation corpus: {report.errors[0]}")
    bar.advance()
    by_name = {Path(s).name: s for s, _, _ in assistant.sources()}
    missing = sorted({name for q in questions for name in q.scope} - set(by_name))
    if missing:
        raise SourcechatError(f"Questions are scoped to files that are not in the corpus: "
                              f"{', '.join(missing)} (corpus: {squad}).")
    assistant.retrieve("warm up")  # loads the model and builds the keyword index
    rows = []
    for backend in backends:
        bar.phase(f"answers: {backend}", len(questions))
        for q in questions:
            rows.append(_document_row(assistant, q, backend, [by_name[n] for n in q.scope]))
            bar.advance()
    return {"format": "documents", "file": "", "questions": len(questions),
            "documents": len(by_name), "chunks": assistant.store.count(),
            "backends": backends, **tally(rows), "results": rows,
            "settings": {"chunk_size": settings.chunk_size, "k": settings.k,
                         "limits": {b: asdict(limits_for(b, settings)) for b in backends}}}


def _document_row(assistant, q: DocumentQuestion, backend: str, scope: list[str]) -> dict:
    """Ask one document question with one backend; its verdict and what it was based on."""
    t0 = time.perf_counter()
    error = None
    try:
        answer = assistant.ask(q.question, sources=scope or None, backend=backend)
    except SourcechatError as err:  # a failing backend fails its questions, not the run
        answer, error = None, str(err)
    seconds = round(time.perf_counter() - t0, 3)
    found = bool(answer and answer.found)
    cited = [c.passage.source for c in answer.citations] if answer else []
    verdict = judge_document(q, answer.text if answer else "", found, cited)
    return {"backend": backend, "id": q.id, "kind": q.kind, "question": q.question,
            "scope": list(q.scope), "answerable": q.answerable,
            "passed": verdict.passed and error is None, "found": found,
            "kind_detected": answer.kind if answer else None,
            "nuggets_found": [n for n in verdict.nuggets if n is not None],
            "nuggets": verdict.nuggets_found, "min_nuggets": q.min_nuggets,
            "documents_cited": [Path(s).name for s in verdict.documents],
            "min_documents": q.min_documents, "dropped": answer.dropped if answer else 0,
            "seconds": seconds, "answer": answer.text if answer else "", "error": error}


def _baseline(ours, docs, questions, kmax, bar) -> list[int | None]:
    """The LangChain tutorial retriever: recursive 1000/200 chunks, MiniLM, Chroma top-k."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    chunks = splitter.split_documents(docs)
    embeddings = ours.store.embeddings
    col = ours.store.client.get_or_create_collection(
        f"{ours.store.collection_name}-baseline", configuration=HNSW,
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


def _premise(data: EvalSet, ours, rng: random.Random, n: int, bar) -> dict | None:
    """SQuAD 2.0's impossible questions (about indexed articles: a covered subject, asking
    what the text does not say) against answerable ones, `n` of each drawn at random from
    every article: how each ends (answered / partial / declined), and how often an
    answered impossible question quotes the decoy (`plausible_answers`). None when the
    file has no impossible questions."""
    impossible = [q for q in data.questions if not q.answerable and q.article]
    if not impossible or not n:
        return None
    asked = {"impossible": rng.sample(impossible, min(n, len(impossible))),
             "answerable": rng.sample(data.answerable, min(n, len(data.answerable)))}
    bar.phase("premise checks", sum(len(v) for v in asked.values()))
    out = {}
    for group, questions in asked.items():
        ends = {ANSWERED: 0, PARTIAL: 0, DECLINED: 0}
        decoy = 0
        for q in questions:
            answer = ours.ask(q.question)
            ends[answer.status] += 1
            decoy += answer.found and contains_answer(strip_markers(answer.text), q.decoys)
            bar.advance()
        size = max(len(questions), 1)
        out[group] = {"questions": len(questions),
                      **{status: round(count / size, 4) for status, count in ends.items()}}
        if group == "impossible":
            out[group]["not_answered"] = round(1 - ends[ANSWERED] / size, 4)
            out[group]["answered_with_decoy"] = round(decoy / size, 4)
    return out


def _declining(data, settings, tmp, ours, rng, max_questions, bar) -> dict:
    from index import index_documents

    if not data.articles:  # seed format: out-of-corpus = the unanswerable questions
        pos = [q for q in data.questions if q.answerable]
        neg = [q for q in data.questions if not q.answerable]
        judge = ours
    else:
        titles = sorted(data.articles)
        rng.shuffle(titles)
        indexed = set(titles[: len(titles) // 2])
        judge = fresh_assistant(settings, tmp / "half", f"{settings.collection}-half")
        sources = [s for t in indexed for s in data.articles[t]]
        bar.phase("declining: indexing", 1)
        index_documents(eval_documents(data, sources), judge.store, chunk_size=settings.chunk_size,
                        chunk_overlap=settings.chunk_overlap, batch_size=settings.batch_size)
        bar.advance()
        pos = [q for q in data.questions if q.answerable and q.article in indexed]
        neg = [q for q in data.questions if q.article not in indexed]
        if max_questions:
            pos, neg = pos[:max_questions], neg[:max_questions]
    bar.phase("declining", len(pos) + len(neg))

    def declines(q: EvalQuestion) -> bool:
        """The assistant's own decision (the gate for lookups, lists and explanations;
        subject coverage for questions about whole documents), without a model."""
        bar.advance()
        return not judge.ask(q.question, backend="extractive").found

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
