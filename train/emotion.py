"""Trains os1's text-emotion reader: the top layers of all-MiniLM-L6-v2 and three heads.

    make train-emotion GOEMOTIONS=… DAILYDIALOG=… ESCONV=…   (then train-chat-gate, train-strategy)

What it builds (src/os1/affect/emotion_model.safetensors):
- the last ``--tuned-layers`` encoder layers of all-MiniLM-L6-v2, fine-tuned on GoEmotions train
  and (with --esconv) ESConv train's situations (each twice): people seeking support say "my
  divorce papers came", Reddit rarely does (the layers below stay frozen, shared with memory);
- three linear heads on the mean-pooled output: 28 GoEmotions labels, Ekman 7, sentiment 4;
- per-label decision thresholds chosen on a calibration slice of *train* (every 10th comment by
  id hash), so GoEmotions dev stays an honest held-out score;
- a "chat" neutral margin chosen on DailyDialog validation, kept in the metadata for the record:
  the reader now uses the better-scoring gate that train/chat_gate.py tunes after this script.

Reproducible: fixed seeds, deterministic algorithms, data read in file order. Two runs here
logged the same losses and scores at every step; elsewhere float summation order may differ, so
``--check`` retrains and compares every tensor with the shipped file (passes within 1e-3).
Needs PyTorch (training only: the product runs the result in NumPy):
    python -m venv .venv-train && .venv-train/bin/pip install torch==2.13.0 && ...
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from safetensors.numpy import load_file, save_file
from tokenizers import Tokenizer
from torch import nn

from os1.affect.datasets import (
    concatenate,
    read_dailydialog,
    read_esconv_situations,
    read_goemotions,
)
from os1.affect.labels import EKMAN, GOEMOTIONS, SENTIMENT, DailyDialogLabels
from os1.affect.metrics import class_macro_f1, decide, macro_f1, tune_thresholds
from os1.memory.embedder import packaged_model_dir

MAX_TOKENS = 128
SEED = 1234


def is_calibration(comment_id: str) -> bool:
    return hashlib.sha256(comment_id.encode()).digest()[0] % 10 == 0


class Layer(nn.Module):
    """One BERT encoder layer, laid out like os1.memory.embedder's NumPy version."""

    # attribute → Hugging Face tensor name (after "encoder.layer.N."): how os1 reads them back
    NAMES: ClassVar[dict[str, str]] = {
        "q_w": "attention.self.query.weight", "q_b": "attention.self.query.bias",
        "k_w": "attention.self.key.weight", "k_b": "attention.self.key.bias",
        "v_w": "attention.self.value.weight", "v_b": "attention.self.value.bias",
        "out_w": "attention.output.dense.weight", "out_b": "attention.output.dense.bias",
        "ln1_w": "attention.output.LayerNorm.weight",
        "ln1_b": "attention.output.LayerNorm.bias",
        "up_w": "intermediate.dense.weight", "up_b": "intermediate.dense.bias",
        "down_w": "output.dense.weight", "down_b": "output.dense.bias",
        "ln2_w": "output.LayerNorm.weight", "ln2_b": "output.LayerNorm.bias"}

    def __init__(self, t: dict[str, np.ndarray], p: str, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.prefix = p
        for attribute, name in self.NAMES.items():
            setattr(self, attribute, nn.Parameter(torch.from_numpy(t[p + name].copy())))

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        n, length, width = x.shape
        head = width // self.heads

        def split(w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return nn.functional.linear(x, w, b).view(n, length, self.heads, head).transpose(1, 2)

        q, k, v = split(self.q_w, self.q_b), split(self.k_w, self.k_b), split(self.v_w, self.v_b)
        scores = q @ k.transpose(-1, -2) / math.sqrt(head) + bias
        context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(n, length, width)
        x = nn.functional.layer_norm(nn.functional.linear(context, self.out_w, self.out_b) + x,
                                     (width,), self.ln1_w, self.ln1_b, 1e-12)
        hidden = nn.functional.gelu(nn.functional.linear(x, self.up_w, self.up_b))
        return nn.functional.layer_norm(nn.functional.linear(hidden, self.down_w, self.down_b) + x,
                                        (width,), self.ln2_w, self.ln2_b, 1e-12)

    def export(self) -> dict[str, np.ndarray]:
        return {self.prefix + name: getattr(self, attribute).detach().numpy().copy()
                for attribute, name in self.NAMES.items()}


class Frozen(nn.Module):
    """Embeddings and the frozen lower layers: run once per text, results cached."""

    def __init__(self, t: dict[str, np.ndarray], layers: int, heads: int) -> None:
        super().__init__()
        self.word = torch.from_numpy(t["embeddings.word_embeddings.weight"])
        self.position = torch.from_numpy(t["embeddings.position_embeddings.weight"])
        self.token_type = torch.from_numpy(t["embeddings.token_type_embeddings.weight"][0])
        self.ln_w = torch.from_numpy(t["embeddings.LayerNorm.weight"])
        self.ln_b = torch.from_numpy(t["embeddings.LayerNorm.bias"])
        self.layers = nn.ModuleList(Layer(t, f"encoder.layer.{i}.", heads) for i in range(layers))

    @torch.no_grad()
    def forward(self, ids: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        length = ids.shape[1]
        x = self.word[ids] + self.position[:length] + self.token_type
        x = nn.functional.layer_norm(x, (x.shape[-1],), self.ln_w, self.ln_b, 1e-12)
        for layer in self.layers:
            x = layer(x, bias)
        return x


class Reader(nn.Module):
    """The tuned top layers and the three heads."""

    def __init__(self, t: dict[str, np.ndarray], first: int, total: int, heads: int,
                 dropout: float) -> None:
        super().__init__()
        self.first = first
        self.layers = nn.ModuleList(Layer(t, f"encoder.layer.{i}.", heads)
                                    for i in range(first, total))
        self.dropout = nn.Dropout(dropout)
        width = t["embeddings.word_embeddings.weight"].shape[1]
        self.heads = nn.ModuleDict({"original": nn.Linear(width, len(GOEMOTIONS)),
                                    "ekman": nn.Linear(width, len(EKMAN)),
                                    "group": nn.Linear(width, len(SENTIMENT))})

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        bias = ((1.0 - mask) * -10000.0)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, bias)
        pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdim=True)
        pooled = self.dropout(pooled)
        return {name: head(pooled) for name, head in self.heads.items()}


def tokenize(tokenizer: Tokenizer, texts: list[str]) -> list[list[int]]:
    return [e.ids for e in tokenizer.encode_batch(texts)]


def batches(order: list[int], ids: list[list[int]], size: int) -> list[list[int]]:
    """Length-sorted chunks (little padding), in a fixed order."""
    by_length = sorted(order, key=lambda i: (len(ids[i]), i))
    return [by_length[s:s + size] for s in range(0, len(by_length), size)]


def pad(rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    length = max(len(r) for r in rows)
    ids = torch.zeros((len(rows), length), dtype=torch.long)
    mask = torch.zeros((len(rows), length), dtype=torch.float32)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
        mask[i, :len(r)] = 1.0
    return ids, mask


def cache_lower(frozen: Frozen, ids: list[list[int]], label: str) -> list[torch.Tensor]:
    """Each text's hidden states after the frozen layers (float16, unpadded)."""
    out: list[torch.Tensor] = [torch.empty(0)] * len(ids)
    chunks = batches(list(range(len(ids))), ids, 64)
    start = time.monotonic()
    for n, chunk in enumerate(chunks, 1):
        tokens, mask = pad([ids[i] for i in chunk])
        hidden = frozen(tokens, ((1.0 - mask) * -10000.0)[:, None, None, :])
        for row, i in enumerate(chunk):
            out[i] = hidden[row, :len(ids[i])].to(torch.float16).clone()
        if n % 100 == 0 or n == len(chunks):
            print(f"  {label}: encoded {min(n * 64, len(ids))}/{len(ids)} "
                  f"({time.monotonic() - start:.0f} s)", flush=True)
    return out


def stack(states: list[torch.Tensor], chunk: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    length = max(states[i].shape[0] for i in chunk)
    width = states[chunk[0]].shape[1]
    x = torch.zeros((len(chunk), length, width), dtype=torch.float32)
    mask = torch.zeros((len(chunk), length), dtype=torch.float32)
    for row, i in enumerate(chunk):
        x[row, :states[i].shape[0]] = states[i].float()
        mask[row, :states[i].shape[0]] = 1.0
    return x, mask


@torch.no_grad()
def predict(reader: Reader, states: list[torch.Tensor],
            ids: list[list[int]]) -> dict[str, np.ndarray]:
    reader.eval()
    out: dict[str, np.ndarray] = {}
    rows = list(range(len(states)))
    parts: dict[str, list[tuple[list[int], np.ndarray]]] = {k: [] for k in reader.heads}
    for chunk in batches(rows, ids, 128):
        logits = reader(*stack(states, chunk))
        for name, value in logits.items():
            parts[name].append((chunk, torch.sigmoid(value).numpy()))
    for name, items in parts.items():
        matrix = np.zeros((len(rows), items[0][1].shape[1]), dtype=np.float32)
        for chunk, probs in items:
            matrix[chunk] = probs
        out[name] = matrix
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--goemotions", type=Path, required=True)
    parser.add_argument("--dailydialog", type=Path, required=True)
    parser.add_argument("--esconv", type=Path,
                        help="ESConv folder: its train situations join the training data")
    parser.add_argument("--out", type=Path,
                        default=Path("src/os1/affect/emotion_model.safetensors"))
    parser.add_argument("--tuned-layers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--head-lr", type=float, default=2e-3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="train on the first N rows (smoke)")
    parser.add_argument("--check", action="store_true",
                        help="train, then compare with the existing --out instead of writing it")
    args = parser.parse_args()

    torch.manual_seed(SEED)
    random.seed(SEED)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)

    model_dir = packaged_model_dir()
    config = json.loads((model_dir / "config.json").read_text())
    total, heads = int(config["num_hidden_layers"]), int(config["num_attention_heads"])
    first = total - args.tuned_layers
    tensors = load_file(str(model_dir / "model.safetensors"))
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_TOKENS)

    train_all = read_goemotions(args.goemotions, "train")
    dev = read_goemotions(args.goemotions, "dev")
    if args.limit:  # a smoke run: every set cut short
        train_all = train_all.subset(list(range(args.limit)))
        dev = dev.subset(list(range(min(args.limit, len(dev.texts)))))
    if args.esconv is not None:  # twice: 910 situations beside 43k comments would barely count
        # (same ids, so both copies fall on the same side of the calibration split)
        situations = read_esconv_situations(args.esconv / "train.jsonl")
        train_all = concatenate(concatenate(train_all, situations), situations)
    calib_rows = [i for i, c in enumerate(train_all.ids) if is_calibration(c)]
    fit_rows = [i for i, c in enumerate(train_all.ids) if not is_calibration(c)]
    fit, calib = train_all.subset(fit_rows), train_all.subset(calib_rows)
    dd_val_texts, dd_val = read_dailydialog(args.dailydialog, "validation")
    dd_test_texts, dd_test = read_dailydialog(args.dailydialog, "test")
    if args.limit:
        dd_val_texts, dd_val = dd_val_texts[:args.limit], dd_val[:args.limit]
        dd_test_texts, dd_test = dd_test_texts[:args.limit], dd_test[:args.limit]
    print(f"train {len(fit.texts)}, calibration {len(calib.texts)}, dev {len(dev.texts)}, "
          f"dailydialog validation {len(dd_val)} / test {len(dd_test)} utterances", flush=True)

    frozen = Frozen(tensors, first, heads).eval()
    sets = {"fit": fit.texts, "calib": calib.texts, "dev": dev.texts,
            "dd_val": dd_val_texts, "dd_test": dd_test_texts}
    ids = {k: tokenize(tokenizer, v) for k, v in sets.items()}
    states = {k: cache_lower(frozen, ids[k], k) for k in sets}

    reader = Reader(tensors, first, total, heads, args.dropout)
    layer_params = [p for layer in reader.layers for p in layer.parameters()]
    optimizer = torch.optim.AdamW([
        {"params": layer_params, "lr": args.lr, "weight_decay": 0.01},
        {"params": list(reader.heads.parameters()), "lr": args.head_lr, "weight_decay": 0.0},
    ])
    chunks = batches(list(range(len(fit.texts))), ids["fit"], args.batch)
    steps = args.epochs * len(chunks)
    warmup = max(1, steps // 20)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (steps - s) / steps))
    loss_fn = nn.BCEWithLogitsLoss()
    targets = {k: torch.from_numpy(v) for k, v in fit.targets.items()}
    shuffler = random.Random(SEED)

    best: tuple[float, dict[str, np.ndarray], dict[str, np.ndarray], int] | None = None
    for epoch in range(1, args.epochs + 1):
        reader.train()
        shuffler.shuffle(chunks)
        start, seen, running = time.monotonic(), 0, 0.0
        for n, chunk in enumerate(chunks, 1):
            logits = reader(*stack(states["fit"], chunk))
            loss = sum(loss_fn(logits[k], targets[k][chunk]) for k in logits)
            optimizer.zero_grad()
            loss.backward()  # type: ignore[union-attr]
            optimizer.step()
            scheduler.step()
            seen += len(chunk)
            running += float(loss.detach())  # type: ignore[union-attr]
            if n % 200 == 0:
                print(f"  epoch {epoch}: {seen}/{len(fit.texts)} loss {running / n:.4f} "
                      f"({time.monotonic() - start:.0f} s)", flush=True)
        probs = predict(reader, states["calib"], ids["calib"])
        thresholds = {k: tune_thresholds(calib.targets[k], probs[k]) for k in probs}
        score = macro_f1(calib.targets["original"],
                         decide(probs["original"], thresholds["original"]))
        dev_probs = predict(reader, states["dev"], ids["dev"])
        dev_scores = {k: macro_f1(dev.targets[k], decide(dev_probs[k], thresholds[k]))
                      for k in dev_probs}
        print(f"epoch {epoch}: calibration macro-F1 {score:.4f}; dev "
              + ", ".join(f"{k} {v:.4f}" for k, v in dev_scores.items()), flush=True)
        if best is None or score > best[0]:
            weights = {name: value for layer in reader.layers
                       for name, value in layer.export().items()}
            for name, head in reader.heads.items():
                weights[f"head.{name}.weight"] = head.weight.detach().numpy().copy()
                weights[f"head.{name}.bias"] = head.bias.detach().numpy().copy()
            best = (score, weights, thresholds, epoch)

    assert best is not None
    score, weights, thresholds, epoch = best
    reader_state = Reader(tensors, first, total, heads, 0.0)
    for layer in reader_state.layers:
        for attribute, name in Layer.NAMES.items():
            getattr(layer, attribute).data = torch.from_numpy(weights[layer.prefix + name])
    for name, head in reader_state.heads.items():
        head.weight.data = torch.from_numpy(weights[f"head.{name}.weight"])
        head.bias.data = torch.from_numpy(weights[f"head.{name}.bias"])
    dd_val_ekman = predict(reader_state, states["dd_val"], ids["dd_val"])["ekman"]
    margins = np.round(np.arange(0.0, 3.01, 0.05), 2)
    dd_scores = [class_macro_f1(
        dd_val, DailyDialogLabels.from_ekman(dd_val_ekman, thresholds["ekman"], m), 7)
        for m in margins]
    margin = float(margins[int(np.argmax(dd_scores))])
    dd_test_ekman = predict(reader_state, states["dd_test"], ids["dd_test"])["ekman"]
    dd_test_f1 = class_macro_f1(
        dd_test, DailyDialogLabels.from_ekman(dd_test_ekman, thresholds["ekman"], margin), 7)
    print(f"best epoch {epoch}; chat neutral margin {margin} (DailyDialog validation macro-F1 "
          f"{max(dd_scores):.4f}, test {dd_test_f1:.4f})", flush=True)

    out = {k: v.astype(np.float16) for k, v in weights.items()}
    for name, value in thresholds.items():
        out[f"threshold.{name}"] = value.astype(np.float32)
    metadata = {"first_layer": str(first), "layers": str(total), "chat_neutral_margin": str(margin),
                "base_model": "sentence-transformers/all-MiniLM-L6-v2", "epochs": str(args.epochs),
                "best_epoch": str(epoch), "lr": str(args.lr), "head_lr": str(args.head_lr),
                "batch": str(args.batch), "dropout": str(args.dropout), "seed": str(SEED),
                "max_tokens": str(MAX_TOKENS),
                "esconv_situations": "train" if args.esconv is not None else "none"}
    if args.check:
        shipped = load_file(str(args.out))
        worst = max(float(np.abs(shipped[k].astype(np.float32) - v.astype(np.float32)).max())
                    for k, v in out.items())
        print(f"largest difference from {args.out}: {worst:.2e}")
        return 0 if worst <= 1e-3 else 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file(out, str(args.out), metadata=metadata)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
