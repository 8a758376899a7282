"""`os1 mood`, `os1 config set affect off` and `os1 bench affect`, run as a user runs them."""

import json
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from os1.affect.timeline import MoodReading, MoodTimeline
from os1.store.sqlite import SQLiteStore

OS1 = [sys.executable, "-m", "os1"]


def run(args: list[str], env: dict[str, str], timeout: float = 300
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(OS1 + args, env=env, capture_output=True, text=True, timeout=timeout)


def seed_week(env: dict[str, str]) -> None:
    """A good start of the week, then three low days up to today."""
    store = SQLiteStore(Path(env["OS1_DATA_DIR"]) / "os1.sqlite3")
    timeline = MoodTimeline(store)
    user = store.user("me")
    now = datetime.now().astimezone().replace(hour=12, minute=0)
    for days_ago, valence in ((6, 0.6), (5, 0.4), (2, -0.5), (1, -0.4), (0, -0.7)):
        timeline.add(user, MoodReading(now - timedelta(days=days_ago), valence, 0.5, 0.8,
                                       ("x",), "text"))
    store.close()


def test_mood_shows_the_dip_and_names_the_trend(clean_env: dict[str, str],
                                                tmp_path: Path) -> None:
    seed_week(clean_env)
    shown = run(["mood", "--weeks", "2", "--png", str(tmp_path / "mood.png")], clean_env)
    assert shown.returncode == 0, shown.stderr
    assert "Lately: three low days in a row." in shown.stdout
    assert "█" in shown.stdout and "low" in shown.stdout
    assert (tmp_path / "mood.png").read_bytes()[:4] == b"\x89PNG"
    data = json.loads(run(["mood", "--json", "--readings"], clean_env).stdout)
    assert data["trend"] == "three low days in a row"
    assert len(data["readings"]) == 5 and data["readings"][-1]["valence"] == -0.7
    assert [round(d["valence"], 1) for d in data["days"]][-3:] == [-0.5, -0.4, -0.7]


def test_mood_forget_needs_confirmation_then_erases(clean_env: dict[str, str]) -> None:
    seed_week(clean_env)
    refused = run(["mood", "forget"], clean_env)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    done = run(["mood", "forget", "--yes"], clean_env)
    assert done.returncode == 0 and "Erased 5 mood reading(s)" in done.stdout
    db = sqlite3.connect(Path(clean_env["OS1_DATA_DIR"]) / "os1.sqlite3")
    assert db.execute("SELECT COUNT(*) FROM mood_readings").fetchone()[0] == 0
    assert "No mood readings" in run(["mood"], clean_env).stdout


def test_config_set_turns_emotion_reading_off(clean_env: dict[str, str]) -> None:
    changed = run(["config", "set", "affect", "off"], clean_env)
    assert changed.returncode == 0, changed.stderr
    assert "affect = False" in changed.stdout and "nothing is inferred" in changed.stdout
    assert "affect = false" in Path(clean_env["OS1_CONFIG_FILE"]).read_text()
    shown = json.loads(run(["config", "--json"], clean_env).stdout)
    assert shown["settings"]["affect"]["value"] == "False"
    bad = run(["config", "set", "affect", "maybe"], clean_env)
    assert bad.returncode == 2 and "not a valid bool" in bad.stderr
    unknown = run(["config", "set", "colour", "blue"], clean_env)
    assert unknown.returncode == 2 and "no setting 'colour'" in unknown.stderr
    env = {**clean_env, "OS1_MODEL": "fixture", "OS1_MAX_REPLY_TOKENS": "8",
           "OS1_MEMORY": "off"}
    reply = run(["chat", "--once", "my divorce papers came today"], env)
    assert reply.returncode == 0, reply.stderr
    db = sqlite3.connect(Path(clean_env["OS1_DATA_DIR"]) / "os1.sqlite3")
    assert db.execute("SELECT COUNT(*) FROM mood_readings").fetchone()[0] == 0


def test_bench_affect_scores_a_goemotions_folder(clean_env: dict[str, str],
                                                 tmp_path: Path) -> None:
    """The benchmark's plumbing on a tiny folder of our own making (not a quality claim)."""
    rows = [("I am so happy for you, congratulations!", "17", "a1", "3", "3"),
            ("This makes me furious.", "2", "a2", "0", "1"),
            ("I miss her every day, it hurts.", "25", "a3", "5", "1"),
            ("The meeting is at noon.", "27", "a4", "4", "2")]
    for folder, column in (("original", 1), ("ekman", 3), ("group", 4)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "dev.tsv").write_text(
            "".join(f"{r[0]}\t{r[column]}\t{r[2]}\n" for r in rows), encoding="utf-8")
    result = run(["bench", "affect", "--goemotions", str(tmp_path), "--json"], clean_env)
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)
    assert scores["split"] == "dev" and scores["texts"] == 4
    for key in ("macro_f1_28", "macro_f1_ekman", "macro_f1_sentiment", "ms_per_text"):
        assert isinstance(scores[key], float)
    assert scores["macro_f1_ekman"] > 0.2
    missing = run(["bench", "affect", "--goemotions", str(tmp_path / "nope")], clean_env)
    assert missing.returncode == 2 and "no folder" in missing.stderr
