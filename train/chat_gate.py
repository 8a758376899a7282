"""Tunes the chat gate (os1.affect.labels.ChatGate) on DailyDialog validation, in NumPy.

    make train-chat-gate DAILYDIALOG=../shared/data/dailydialog

Reddit comments are rarely neutral and chat mostly is: with GoEmotions' thresholds alone the
reader finds approval in "ok sure, that works". The gate says when a chat message is emotional at
all: the Ekman head's neutral probability at most ``neutral_max`` and its strongest emotion at
least ``min_ratio`` of its threshold, chosen for DailyDialog validation's macro-F1 over its seven
classes (none included). DailyDialog test stays for `os1 bench affect`. Run it after
train/emotion.py; it reads the shipped emotion model. Deterministic: a grid search.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from os1.affect.datasets import read_dailydialog
from os1.affect.emotion import GATE_FILE, MODEL_FILE, EmotionReader
from os1.affect.labels import ChatGate, DailyDialogLabels
from os1.affect.metrics import class_macro_f1
from os1.memory.embedder import Embedder

NEUTRAL_MAX = np.round(np.arange(0.02, 0.801, 0.02), 2)
MIN_RATIO = (0.3, 0.5, 0.7, 1.0, 1.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dailydialog", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=GATE_FILE)
    args = parser.parse_args()
    reader = EmotionReader(Embedder.load(), MODEL_FILE, gate_file=None)
    texts, truth = read_dailydialog(args.dailydialog, "validation")
    rows = []
    for n, text in enumerate(texts, 1):
        rows.append(reader.probabilities(reader.pooled(text))["ekman"])
        if n % 2000 == 0 or n == len(texts):
            print(f"  DailyDialog validation: {n}/{len(texts)}", flush=True)
    probs, thresholds = np.stack(rows), reader.thresholds("ekman")
    scored = [(class_macro_f1(truth, DailyDialogLabels.from_gate(
        probs, thresholds, ChatGate(float(m), r)), 7), float(m), r)
        for m in NEUTRAL_MAX for r in MIN_RATIO]
    score, neutral_max, min_ratio = max(scored)
    print(f"neutral_max {neutral_max}, min_ratio {min_ratio}: DailyDialog validation macro-F1 "
          f"{score:.4f}")
    args.out.write_text(json.dumps({
        "neutral_max": neutral_max, "min_ratio": min_ratio,
        "dailydialog_validation_macro_f1": round(score, 4),
        "emotion_model_sha256": hashlib.sha256(MODEL_FILE.read_bytes()).hexdigest(),
    }, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
