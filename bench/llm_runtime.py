"""The embedded model's two runtimes side by side in one process: llama.cpp (from the
packaged GGUF) and transformers (the converted safetensors copy), same prompt, greedy.

Reports load time, generation tokens/s (tokens counted with the model's own
tokenizer, prompt processing included) and the llama.cpp/transformers ratio. Rounds
alternate the runtimes so a busy machine slows both alike. Prints one JSON object.

    .venv/bin/python bench/llm_runtime.py [--rounds 3] [--tokens 128]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from assistant.embedded import EmbeddedChatModel, converted_model_dir  # noqa: E402
from corpus import SAMPLE_DIR, load_documents  # noqa: E402


def chat() -> list[dict[str, str]]:
    """A long-answer request over the sample's opening (so both runtimes use the budget)."""
    text = next(iter(load_documents([str(SAMPLE_DIR)]))).page_content[:1500]
    return [{"role": "system", "content": "You write long, detailed answers."},
            {"role": "user", "content": f"Source:\n{text}\n\nRetell this source in detail, "
                                        "paragraph by paragraph."}]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--models-dir", default=os.path.join(tempfile.gettempdir(),
                                                         "sourcechat-bench-models"))
    args = ap.parse_args()
    messages = chat()
    models = {rt: EmbeddedChatModel(models_dir=args.models_dir, max_new_tokens=args.tokens,
                                    runtime=rt, parallel=1)
              for rt in ("llamacpp", "transformers")}
    converted_model_dir(args.models_dir)  # the transformers copy, converted once (not timed)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(converted_model_dir(args.models_dir))
    loads, rates, texts = {}, {rt: [] for rt in models}, {}
    for rt, model in models.items():  # first call: loads the model
        t0 = time.perf_counter()
        next(iter(model._pieces(messages, None)), None)
        loads[rt] = round(time.perf_counter() - t0, 2)
    for _ in range(args.rounds):
        for rt, model in models.items():
            t0 = time.perf_counter()
            text = "".join(piece for piece, _ in model._pieces(messages, None))
            seconds = time.perf_counter() - t0
            tokens = len(tokenizer(text, add_special_tokens=False)["input_ids"])
            rates[rt].append(tokens / seconds)
            texts[rt] = text
    median = {rt: statistics.median(r) for rt, r in rates.items()}
    print(json.dumps({
        "tokens_per_s": {rt: round(v, 1) for rt, v in median.items()},
        "ratio_llamacpp_vs_transformers": round(median["llamacpp"] / median["transformers"], 2),
        "first_call_s (load + first token)": loads,
        "rounds": args.rounds, "max_new_tokens": args.tokens, "cores": os.cpu_count(),
        "sample_output": {rt: t[:160] for rt, t in texts.items()},
    }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
