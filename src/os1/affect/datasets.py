"""Readers for the public data sets the affect engine is trained and measured on.

Only the training scripts and `os1 bench affect` read these; none of the data ships with os1.
- GoEmotions: `DIR/{original,ekman,group}/{split}.tsv`, rows `text \\t label ids \\t comment id`.
- DailyDialog: `dialogues_{split}.txt` (turns split by `__eou__`), `dialogues_emotion_{split}.txt`.
- ESConv: `{split}.jsonl`, one conversation per line, supporter turns tagged with a strategy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from os1.affect.errors import AffectError
from os1.affect.labels import (
    EKMAN,
    EKMAN_OF,
    ESCONV_EMOTION,
    GOEMOTIONS,
    SENTIMENT,
    SENTIMENT_OF,
)

GOEMOTIONS_FOLDERS: dict[str, tuple[str, ...]] = {
    "original": GOEMOTIONS, "ekman": EKMAN, "group": SENTIMENT}


@dataclass(frozen=True)
class LabelledTexts:
    texts: list[str]
    ids: list[str]
    targets: dict[str, NDArray[np.float32]]  # folder → (rows, labels) of 0/1

    def subset(self, rows: list[int]) -> LabelledTexts:
        return LabelledTexts([self.texts[i] for i in rows], [self.ids[i] for i in rows],
                             {k: v[rows] for k, v in self.targets.items()})


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise AffectError(f"Cannot read {path} ({error.strerror or error}).") from error


def goemotions_split(root: Path) -> str:
    """`test` when the directory has one, else `dev` (the public mirror here has no test)."""
    return "test" if (root / "original" / "test.tsv").exists() else "dev"


def read_goemotions(root: Path, split: str) -> LabelledTexts:
    """One split in all three label sets; their rows must be the same comments in the same order."""
    texts: list[str] = []
    ids: list[str] = []
    targets: dict[str, NDArray[np.float32]] = {}
    for folder, labels in GOEMOTIONS_FOLDERS.items():
        path = root / folder / f"{split}.tsv"
        rows = [line.split("\t") for line in _lines(path) if line.strip()]
        matrix = np.zeros((len(rows), len(labels)), dtype=np.float32)
        for i, row in enumerate(rows):
            if len(row) < 3:
                raise AffectError(f"{path} line {i + 1} is not `text<TAB>labels<TAB>id`.")
            for label in row[1].split(","):
                if not label.isdigit() or int(label) >= len(labels):
                    raise AffectError(f"{path} line {i + 1} has label {label!r}, not 0–"
                                      f"{len(labels) - 1}.")
                matrix[i, int(label)] = 1.0
        if not texts:
            texts, ids = [row[0] for row in rows], [row[2] for row in rows]
        elif [row[2] for row in rows] != ids:
            raise AffectError(f"{path} does not list the comments of original/{split}.tsv "
                              "in the same order.")
        targets[folder] = matrix
    return LabelledTexts(texts, ids, targets)


def read_esconv_situations(path: Path) -> LabelledTexts:
    """Each ESConv conversation's `situation` (the seeker's own words for what happened) with its
    `emotion_type`, in GoEmotions' three label sets. Reddit comments rarely say "my divorce papers
    came"; people who come for support do, and this is where the reader learns it."""
    texts: list[str] = []
    labels: list[str] = []
    for number, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            text, emotion = str(row["situation"]).strip(), str(row["emotion_type"]).lower()
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise AffectError(f"{path} line {number} is not an ESConv conversation.") from error
        if text and emotion in ESCONV_EMOTION:
            texts.append(text)
            labels.append(ESCONV_EMOTION[emotion])
    targets: dict[str, NDArray[np.float32]] = {}
    for folder, names in GOEMOTIONS_FOLDERS.items():
        matrix = np.zeros((len(texts), len(names)), dtype=np.float32)
        for i, label in enumerate(labels):
            name = {"original": label, "ekman": EKMAN_OF[label],
                    "group": SENTIMENT_OF[label]}[folder]
            matrix[i, names.index(name)] = 1.0
        targets[folder] = matrix
    return LabelledTexts(texts, [f"esconv-{path.stem}-{i}" for i in range(len(texts))], targets)


def concatenate(first: LabelledTexts, second: LabelledTexts) -> LabelledTexts:
    return LabelledTexts(first.texts + second.texts, first.ids + second.ids,
                         {k: np.concatenate([v, second.targets[k]]) for k, v in
                          first.targets.items()})


def read_dailydialog(root: Path, split: str) -> tuple[list[str], list[int]]:
    """Utterances and their emotion ids (0 none … 6 surprise). Dialogs whose turn and label
    counts disagree (a few in the public files) are skipped, not guessed."""
    texts: list[str] = []
    labels: list[int] = []
    dialogs = _lines(root / f"dialogues_{split}.txt")
    emotions = _lines(root / f"dialogues_emotion_{split}.txt")
    if len(dialogs) != len(emotions):
        raise AffectError(f"{root}: dialogues_{split}.txt and dialogues_emotion_{split}.txt "
                          "have different numbers of lines.")
    for number, (dialog, emotion) in enumerate(zip(dialogs, emotions, strict=True), 1):
        turns = [t.strip() for t in dialog.split("__eou__") if t.strip()]
        try:
            ids = [int(e) for e in emotion.split()]
        except ValueError:
            raise AffectError(f"dialogues_emotion_{split}.txt line {number} is not emotion ids "
                              "(0–6).") from None
        if len(turns) == len(ids):
            texts.extend(turns)
            labels.extend(ids)
    return texts, labels


@dataclass(frozen=True)
class SupportTurn:
    """One supporter turn of ESConv (consecutive supporter utterances merged, as a chat reply
    is one turn), with what the chooser may know before it."""

    seeker_text: str  # the seeker's words since the supporter last spoke
    previous: str | None  # the strategy of the supporter's previous turn (its last utterance)
    turn_index: int  # supporter turns before this one
    strategy: str  # the strategy the turn opens with


def read_esconv(path: Path) -> list[SupportTurn]:
    turns: list[SupportTurn] = []
    for number, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        try:
            dialog = json.loads(line)["dialog"]
            utterances = [(str(u["speaker"]), str(u.get("text", "")).strip(),
                           u.get("strategy")) for u in dialog]
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
            raise AffectError(f"{path} line {number} is not an ESConv conversation.") from error
        seeker: list[str] = []
        latest = ""
        previous: str | None = None
        index = 0
        opening: str | None = None  # the strategy of the supporter turn being read
        last: str | None = None
        for speaker, text, strategy in [*utterances, ("usr", "", None)]:
            if speaker == "usr":
                if opening is not None:  # a supporter turn just ended
                    turns.append(SupportTurn(latest, previous, index, opening))
                    previous, index, opening = last, index + 1, None
                seeker.append(text)
                continue
            if seeker:
                latest, seeker = " ".join(t for t in seeker if t), []
            if opening is None and strategy:
                opening = str(strategy)
            if strategy:
                last = str(strategy)
    return turns
