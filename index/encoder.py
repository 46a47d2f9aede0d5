"""A sentence encoder in plain torch: BERT, mean pooling, L2 normalisation.

all-MiniLM-L6-v2, and any sentence-transformers folder of the same shape (a BERT
model, mean pooling, a Normalize module, no prompts), is encoded here without
importing sentence-transformers or transformers: they (with scikit-learn and scipy,
which sentence-transformers pulls in) cost a fresh process about 3 s of imports on
2 cores, torch alone about 1 s (docs/startup.md). The layers call the same torch
functions in the same order as transformers' `BertModel` with SDPA attention, and
the batch is sorted, padded and pooled as `SentenceTransformer.encode` does, so the
vectors are bit-identical to its (tests/test_encoder.py checks). Any other model
is left to sentence-transformers (`index/embeddings.py`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ST_PREFIX = "sentence_transformers.models."
_MODULES = ("Transformer", "Pooling", "Normalize")


def supports(folder: str | Path) -> bool:
    """Whether `folder` holds a model this encoder computes exactly as sentence-transformers
    would (else use sentence-transformers)."""
    folder = Path(folder)
    try:
        modules = json.loads((folder / "modules.json").read_text())
        config = json.loads((folder / "config.json").read_text())
        st_config = _read_json(folder / "sentence_bert_config.json")
        pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text())
        prompts = _read_json(folder / "config_sentence_transformers.json")
        dtypes = _stored_dtypes(folder / "model.safetensors")
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return False
    mean_only = {k: v for k, v in pooling.items() if k.startswith("pooling_mode")}
    return (
        tuple(m.get("type", "").removeprefix(ST_PREFIX) for m in modules) == _MODULES
        and modules[0].get("path", "") == ""
        and mean_only in ({"pooling_mode_mean_tokens": True} | {
            k: False for k in mean_only if k != "pooling_mode_mean_tokens"},
            {"pooling_mode": "mean"})
        and pooling.get("include_prompt", True)
        and config.get("model_type") == "bert"
        and config.get("architectures", ["BertModel"]) == ["BertModel"]
        and config.get("position_embedding_type", "absolute") == "absolute"
        and config.get("hidden_act") == "gelu"
        and not config.get("is_decoder", False)
        and st_config.get("max_seq_length")
        and not st_config.get("do_lower_case", False)
        and not prompts.get("prompts") and not prompts.get("default_prompt_name")
        and dtypes <= {"F32", "I64"}  # float32 weights (position ids aside): computed as stored
        and (folder / "tokenizer.json").exists()
    )


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _stored_dtypes(path: Path) -> set[str]:
    """The dtypes of a safetensors file's tensors, from its header (no weights read)."""
    with open(path, "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    return {t["dtype"] for name, t in header.items() if name != "__metadata__"}


class BertSentenceEncoder:
    """Tokenizes, encodes, mean-pools and normalises texts with a BERT model from a
    sentence-transformers folder (`supports(folder)` must be true)."""

    def __init__(self, folder: str | Path, device: str = "cpu"):
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        folder = Path(folder)
        config = json.loads((folder / "config.json").read_text())
        st_config = _read_json(folder / "sentence_bert_config.json")
        self.max_seq_length = min(st_config["max_seq_length"], config["max_position_embeddings"])
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_seq_length)
        self.tokenizer.no_padding()
        self.pad_id = config.get("pad_token_id", 0)
        self.heads = config["num_attention_heads"]
        self.layers = config["num_hidden_layers"]
        self.eps = config["layer_norm_eps"]
        self.dimension = config["hidden_size"]
        self.device = torch.device(device)
        weights = load_file(str(folder / "model.safetensors"))
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in weights else ""
        self.w = {k.removeprefix(prefix): v.to(self.device, torch.float32)
                  for k, v in weights.items()
                  if k.startswith(prefix) and v.is_floating_point() and "pooler" not in k}

    def token_lengths(self, texts: list[str]) -> list[int]:
        """Tokens per text, special tokens included, after truncation."""
        return [len(e.ids) for e in self.tokenizer.encode_batch(texts)]

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of texts, as one batch: (n, dimension) float32 (the caller sets
        any autocast)."""
        import torch

        if not texts:
            return np.empty((0, self.dimension), np.float32)
        # SentenceTransformer.encode orders a batch longest first (by characters)
        order = np.argsort([-len(t) for t in texts])
        encoded = self.tokenizer.encode_batch([texts[i] for i in order])
        width = max(len(e.ids) for e in encoded)
        ids = torch.full((len(texts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(texts), width), dtype=torch.long)
        for row, e in enumerate(encoded):
            ids[row, :len(e.ids)] = torch.tensor(e.ids, dtype=torch.long)
            mask[row, :len(e.ids)] = 1
        with torch.inference_mode():
            vectors = self._sentence_vectors(ids.to(self.device), mask.to(self.device))
            vectors = vectors.cpu().float().numpy()
        out = np.empty_like(vectors)
        out[order] = vectors
        return out

    def _sentence_vectors(self, ids, mask):
        import torch
        import torch.nn.functional as F

        tokens = self._bert(ids, mask)
        # sentence-transformers' Pooling (mean) and Normalize modules, then encode()'s
        # normalize_embeddings: the same operations, so the same bits
        acc = torch.float32 if tokens.dtype in (torch.float16, torch.bfloat16) else tokens.dtype
        weights = mask.unsqueeze(-1).to(tokens.dtype)
        total = (tokens * weights).sum(dim=1, dtype=acc)
        count = torch.clamp(weights.sum(dim=1, dtype=acc), min=1e-9)
        vectors = (total / count).to(tokens.dtype)
        vectors = F.normalize(vectors, p=2, dim=-1)
        return F.normalize(vectors, p=2, dim=1)

    def _bert(self, ids, mask):
        """transformers' BertModel forward (eval mode, SDPA attention): last hidden state."""
        import torch
        import torch.nn.functional as F

        w = self.w
        batch, length = ids.shape
        positions = torch.arange(length, device=ids.device).unsqueeze(0)
        types = torch.zeros_like(positions).expand(batch, length)
        x = F.embedding(ids, w["embeddings.word_embeddings.weight"], self.pad_id)
        x = x + F.embedding(types, w["embeddings.token_type_embeddings.weight"])
        x = x + F.embedding(positions, w["embeddings.position_embeddings.weight"])
        x = self._norm(x, "embeddings.LayerNorm")
        # no mask when nothing is padded, else a boolean (batch, 1, length, length) one
        attend = None if bool(mask.all()) else \
            mask.bool()[:, None, None, :].expand(batch, 1, length, length).contiguous()
        head = self.dimension // self.heads
        for n in range(self.layers):
            p = f"encoder.layer.{n}."
            shape = (batch, length, -1, head)
            q = self._linear(x, p + "attention.self.query").view(shape).transpose(1, 2)
            k = self._linear(x, p + "attention.self.key").view(shape).transpose(1, 2)
            v = self._linear(x, p + "attention.self.value").view(shape).transpose(1, 2)
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=attend, dropout_p=0.0,
                                               scale=head ** -0.5, is_causal=False)
            a = a.reshape(a.shape[0], -1, length, head).transpose(1, 2).contiguous()
            a = a.reshape(batch, length, -1).contiguous()
            a = self._norm(self._linear(a, p + "attention.output.dense") + x,
                           p + "attention.output.LayerNorm")
            h = F.gelu(self._linear(a, p + "intermediate.dense"))
            x = self._norm(self._linear(h, p + "output.dense") + a, p + "output.LayerNorm")
        return x

    def _linear(self, x, name: str):
        import torch.nn.functional as F

        return F.linear(x, self.w[name + ".weight"], self.w[name + ".bias"])

    def _norm(self, x, name: str):
        import torch.nn.functional as F

        return F.layer_norm(x, (self.dimension,), self.w[name + ".weight"],
                            self.w[name + ".bias"], self.eps)
