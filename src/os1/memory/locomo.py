"""LoCoMo recall: how often os1's retrieval finds the turns that hold a question's answer.

Each LoCoMo conversation is ingested through the real path (a fresh SQLite database, users,
conversations and turns, the memory engine's episodes, keyword index and vectors), one os1 user
per conversation. Each question of categories 1–4 is then asked of the retrieval alone — no LLM,
nothing tuned on questions or answers — and the ranked turns are compared with its ``evidence``.

recall@k of a question = |evidence ∩ top-k turns| / |evidence|, averaged over questions.
"""

from __future__ import annotations

import json
import re
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from os1.memory.embedder import Embedder
from os1.memory.engine import MemoryEngine
from os1.memory.search import RecallTuning
from os1.store.base import NewTurn, Turn
from os1.store.sqlite import SQLiteStore

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
KS = (5, 10, 20)
_EVIDENCE = re.compile(r"D\s*:?\s*(\d+)\s*:\s*(\d+)")


class LocomoFormatError(ValueError):
    pass


@dataclass
class LocomoReport:
    questions: int = 0
    recall: dict[int, float] = field(default_factory=dict)
    by_category: dict[str, dict[int, float]] = field(default_factory=dict)
    by_conversation: dict[str, dict[int, float]] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    ingest_s: float = 0.0
    turns: int = 0
    skipped_evidence: int = 0

    def as_json(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        out: dict[str, Any] = {f"recall@{k}": round(self.recall[k], 4) for k in KS}
        out.update({
            "p50_ms": round(statistics.median(lat), 2) if lat else None,
            "p95_ms": round(lat[int(0.95 * (len(lat) - 1))], 2) if lat else None,
            "questions": self.questions,
            "turns": self.turns,
            "ingest_s": round(self.ingest_s, 1),
            "skipped_evidence_ids": self.skipped_evidence,
            "llm_in_loop": False,
            "per_category": {c: {f"recall@{k}": round(v[k], 4) for k in KS}
                             for c, v in self.by_category.items()},
            "per_conversation": {c: {f"recall@{k}": round(v[k], 4) for k in KS}
                                 for c, v in self.by_conversation.items()},
        })
        return out


def load_locomo(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise LocomoFormatError(f"Cannot read {path} as JSON: {error}") from error
    if not isinstance(data, list) or not all(
            isinstance(c, dict) and "conversation" in c and "qa" in c for c in data):
        raise LocomoFormatError(
            f"{path} is not a LoCoMo file: expected a list of objects with 'conversation' and "
            "'qa' (the format of locomo10.json).")
    return data


def _session_time(text: str, fallback: datetime) -> datetime:
    for pattern in ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y"):
        try:
            return datetime.strptime(text.strip(), pattern).replace(tzinfo=UTC)
        except (ValueError, AttributeError):
            continue
    return fallback


def turn_text(raw: dict[str, Any]) -> str:
    """A turn as os1 would store it; a shared photo is kept as its caption."""
    text = str(raw.get("text", "")).strip()
    caption = raw.get("blip_caption")
    if caption:
        text = f"{text} [shares a photo: {caption}]".strip()
    return text


def _sessions(conversation: dict[str, Any]) -> list[tuple[int, datetime, list[dict[str, Any]]]]:
    numbers = sorted(int(m.group(1)) for key in conversation
                     if (m := re.fullmatch(r"session_(\d+)", key)))
    out = []
    moment = datetime(2000, 1, 1, tzinfo=UTC)
    for number in numbers:
        moment = _session_time(str(conversation.get(f"session_{number}_date_time", "")),
                               moment + timedelta(days=1))
        turns = conversation[f"session_{number}"]
        if isinstance(turns, list):
            out.append((number, moment, turns))
    return out


def _evidence_ids(evidence: list[Any]) -> tuple[set[str], int]:
    ids: set[str] = set()
    bad = 0
    for item in evidence:
        found = _EVIDENCE.findall(str(item))
        if not found:
            bad += 1
        ids.update(f"D{a}:{b}" for a, b in found)
    return ids, bad


def run_locomo(path: Path, *, tuning: RecallTuning | None = None,
               progress: Callable[[str], None] | None = None) -> LocomoReport:
    data = load_locomo(path)
    report = LocomoReport()
    totals: dict[int, list[float]] = defaultdict(list)
    per_category: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    per_conversation: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    embedder = Embedder.load()
    with tempfile.TemporaryDirectory(prefix="os1-locomo-") as scratch:
        for number, sample in enumerate(data):
            name = str(sample.get("sample_id", f"conversation-{number}"))
            # One database per conversation, as each os1 user has their own: keyword
            # statistics (BM25's document frequencies) are then that user's alone.
            folder = Path(scratch) / f"conversation-{number}"
            store = SQLiteStore(folder / "os1.sqlite3")
            engine = MemoryEngine(store, folder / "memory", embedder=embedder, tuning=tuning)
            user = store.user(name)
            turn_of_memory: dict[int, str] = {}
            started = time.perf_counter()
            last_moment = datetime(2000, 1, 1, tzinfo=UTC)
            pending: list[tuple[Turn, str, str]] = []
            for _session, moment, raw_turns in _sessions(sample["conversation"]):
                conversation = store.new_conversation(user)
                for offset, raw in enumerate(raw_turns):
                    text = turn_text(raw)
                    if not text:
                        continue
                    when = moment + timedelta(seconds=30 * offset)
                    turn = store.add_turn(user, NewTurn(conversation.id, "user", text, "",
                                                        "complete", when))
                    pending.append((turn, str(raw.get("speaker", "")), str(raw.get("dia_id"))))
                    last_moment = when
            ids = engine.remember_episodes(user, [(t, s) for t, s, _ in pending])
            turn_of_memory.update({m: d for m, (_, _, d) in zip(ids, pending, strict=True)})
            report.ingest_s += time.perf_counter() - started
            report.turns += len(pending)
            if progress:
                progress(f"{name}: {len(pending)} turns in {time.perf_counter() - started:.0f} s")
            for qa in sample["qa"]:
                category = qa.get("category")
                if category not in CATEGORIES:
                    continue
                evidence, bad = _evidence_ids(qa.get("evidence", []))
                report.skipped_evidence += bad
                if not evidence:
                    continue
                asked = time.perf_counter()
                result = engine.recall(user, str(qa["question"]), max(KS),
                                       last_moment + timedelta(days=1))
                report.latencies_ms.append((time.perf_counter() - asked) * 1000)
                ranked = [turn_of_memory.get(h.memory.id) for h in result.hits]
                report.questions += 1
                for k in KS:
                    value = len(evidence & set(ranked[:k])) / len(evidence)
                    totals[k].append(value)
                    per_category[CATEGORIES[category]][k].append(value)
                    per_conversation[name][k].append(value)
            engine.close()
            store.close()
    if not report.questions:
        raise LocomoFormatError(f"{path} has no questions of categories 1–4 with evidence.")
    report.recall = {k: statistics.fmean(v) for k, v in totals.items()}
    report.by_category = {c: {k: statistics.fmean(v) for k, v in d.items()}
                          for c, d in per_category.items()}
    report.by_conversation = {c: {k: statistics.fmean(v) for k, v in d.items()}
                              for c, d in per_conversation.items()}
    return report
