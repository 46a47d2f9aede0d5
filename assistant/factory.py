"""Build the object graph from one Settings: client, embeddings, store, model, assistant."""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path

from langchain_core.embeddings import Embeddings

from assistant.backends import BackendConfig, describe_failure, make_chat_model
from assistant.evidence import EvidenceScorer
from assistant.pipeline import Assistant
from assistant.profiles import limits_for
from assistant.settings import Settings
from corpus.errors import SourcechatError
from index import (
    ChunkStore,
    IndexRecords,
    KeywordIndex,
    PassageRetriever,
    SentenceTransformerEmbeddings,
)
from index.private_copy import PrivateCopy
from index.readonly import check_writable, private_dir, unwritable

_LOCK = threading.Lock()


def offline() -> None:
    """Nothing may be downloaded at run time: tell the Hugging Face stack so."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.setdefault(var, "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def chroma_client(settings: Settings):
    """The Chroma client: on disk in the data dir, or a Chroma server (`chroma_url`).
    (An on-disk index this process cannot write is read from a private copy instead:
    `build_assistant`.)"""
    if settings.chroma_url:
        token = settings.chroma_token.get_secret_value() if settings.chroma_token else None
        return _server_client(settings.chroma_url, token)
    return _disk_client(str(settings.chroma_dir))


def clear_clients() -> None:
    """Forget the cached clients (a folder or server that is gone)."""
    _disk_client.cache_clear()
    _server_client.cache_clear()


@lru_cache(maxsize=8)
def _disk_client(path: str):
    """One persistent Chroma client per folder per process."""
    return _open_disk_client(path)


def _open_disk_client(path: str):
    """A persistent Chroma client of a folder (of a private copy: closed when replaced)."""
    import chromadb

    try:
        os.makedirs(path, exist_ok=True)
        return chromadb.PersistentClient(
            path=path, settings=chromadb.Settings(anonymized_telemetry=False))
    except OSError as err:
        raise SourcechatError(f"Cannot use the data dir {path}: {err.strerror or err}") from None


@lru_cache(maxsize=8)
def _server_client(url: str, token: str | None):
    """One HTTP client per Chroma server per process (it checks the server on creation)."""
    from urllib.parse import urlsplit

    import chromadb

    parts = urlsplit(url)
    ssl = parts.scheme == "https"
    headers = {"Authorization": f"Bearer {token}"} if token else None
    try:
        return chromadb.HttpClient(
            host=parts.hostname, port=parts.port or (443 if ssl else 80), ssl=ssl,
            headers=headers, settings=chromadb.Settings(anonymized_telemetry=False))
    except Exception as err:  # connection refused, auth, not a Chroma server...
        raise SourcechatError(
            f"Cannot use the Chroma server at {url}: {_reason(err)}. Is `chroma run` running "
            "there? Check SOURCECHAT_CHROMA_URL (--chroma-url) and SOURCECHAT_CHROMA_TOKEN."
        ) from None


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if "connect" in text.lower() or isinstance(err, ConnectionError):
        return "cannot connect"
    return text[:200]


def serving_lock(settings: Settings):
    """The lock a running web chat holds on its data dir (an on-disk Chroma is one process's)."""
    from filelock import FileLock

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(settings.data_dir / "serve.lock")


def check_not_served(settings: Settings) -> None:
    """Refuse to write an index that this process cannot write, or that a running web chat
    has open, saying what to do instead (a Chroma server takes writers and readers at
    once: only the data dir is checked)."""
    from filelock import Timeout

    check_writable(settings.data_dir)
    if settings.chroma_url:
        return
    lock = serving_lock(settings)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise SourcechatError(
            f"The web chat (sourcechat serve) has the index in {settings.data_dir} open: add "
            "files in its Documents tab, or stop it and run this again (an on-disk Chroma "
            "index takes one process at a time).") from None
    lock.release()


def models_dir(settings: Settings) -> Path:
    """Where converted models are cached: the configured folder (default: in the data dir),
    or, when this process cannot write it, a folder of the user's own."""
    if unwritable(settings.models_dir) is None:
        return settings.models_dir
    return private_dir("models")


def embeddings_for(settings: Settings, model: str | None = None) -> Embeddings:
    """The sentence-transformers embeddings of the configured model (or of `model`)."""
    return SentenceTransformerEmbeddings(
        model or settings.embedding_model, batch_size=settings.batch_size,
        precision=settings.embedding_precision)


def build_assistant(settings: Settings | None = None,
                    embeddings: Embeddings | None = None) -> Assistant:
    """Wire an Assistant from settings (defaults: environment / .env); `embeddings`
    replaces the configured model's (it must be that model: the index records its name)."""
    offline()
    settings = settings or Settings.load()
    read_only = unwritable(settings.data_dir) is not None  # then it is read, never written
    copy = None
    with _LOCK:
        if read_only and not settings.chroma_url:  # Chroma writes to whatever it opens
            copy = PrivateCopy(settings.data_dir, _open_disk_client)
            client = copy.client
        else:
            client = chroma_client(settings)
    embeddings = embeddings or embeddings_for(settings)

    def records_for(collection: str) -> IndexRecords:
        return IndexRecords(settings.data_dir / "records.sqlite3",
                            settings.store_key_for(collection), read_only=read_only)

    store = ChunkStore(client, settings.collection, embeddings, settings.embedding_model,
                       records=records_for(settings.collection), records_for=records_for)
    keyword = KeywordIndex(store, settings.data_dir / "keyword" / settings.store_key,
                           save=not read_only)
    converted = models_dir(settings)
    retriever = PassageRetriever(store=store, keyword=keyword, k=settings.k,
                                 dense_weight=settings.dense_weight,
                                 keyword_weight=settings.keyword_weight,
                                 exact_identifiers=settings.exact_identifiers)

    def config_for(backend: str) -> BackendConfig:
        return BackendConfig(
            models_dir=converted,
            max_new_tokens=limits_for(backend, settings).max_new_tokens,
            parallel=settings.llm_parallel, embedded_runtime=settings.embedded_runtime,
            base_url=settings.llm_base_url, timeout=settings.llm_timeout,
            api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None)

    def model_factory(backend: str):
        return make_chat_model(backend, config_for(backend))

    def explain(backend: str, err: BaseException) -> str:
        return describe_failure(backend, config_for(backend), err)

    scorer = EvidenceScorer(embeddings, idf=keyword.idf, gate_weights=settings.gate_weights,
                            stored_vectors=store.sentence_vectors)
    return Assistant(settings, store, retriever, model_factory(settings.llm), scorer,
                     model_factory, explain, private_copy=copy)
