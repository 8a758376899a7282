"""The memory engine on a real SQLite file with the real MiniLM embedder: remembering,
merging and superseding facts, recall, forgetting down to the bytes, user isolation, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from os1.memory.embedder import Embedder
from os1.memory.engine import MemoryEngine
from os1.memory.errors import EmbedderError, MemoryNotFoundError
from os1.memory.records import NewFact
from os1.store.base import NewTurn, Turn, User
from os1.store.sqlite import SQLiteStore

MONDAY = datetime(2026, 11, 23, 19, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder.load()


@pytest.fixture
def db(tmp_path: Path) -> SQLiteStore:
    store = SQLiteStore(tmp_path / "os1.sqlite3")
    yield store
    store.close()


@pytest.fixture
def engine(db: SQLiteStore, tmp_path: Path, embedder: Embedder) -> MemoryEngine:
    return MemoryEngine(db, tmp_path / "memory", embedder=embedder)


def say(db: SQLiteStore, engine: MemoryEngine, user: User, text: str,
        when: datetime = MONDAY, role: str = "user") -> Turn:
    conversation = db.current_conversation(user)
    turn = db.add_turn(user, NewTurn(conversation.id, role, text, "", "complete", when))  # type: ignore[arg-type]
    engine.remember_turn(user, turn, user.name if role == "user" else "os1")
    return turn


def database_bytes(tmp_path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file())


def test_embedder_puts_related_sentences_closer(embedder: Embedder) -> None:
    a, b, c = embedder.embed(["My sister Maria is visiting", "my sibling comes to stay",
                              "The quarterly tax forms are due"])
    assert np.isclose(np.linalg.norm(a), 1.0, atol=1e-5)
    assert float(a @ b) > float(a @ c) + 0.1
    again = embedder.embed_one("My sister Maria is visiting")
    assert np.allclose(a, again, atol=1e-6)


def test_lower_layers_continue_into_the_same_embedding(embedder: Embedder) -> None:
    """The emotion reader starts from `lower`: running the rest of the layers on it must give
    exactly the sentence embedding."""
    from os1.memory.embedder import padding_bias, run_layer

    text = "My sister Maria moved to Lisbon last spring."
    x = embedder.lower(text, 4)
    bias = padding_bias(np.ones((1, x.shape[1]), dtype=np.float32))
    for layer in embedder._layers[4:]:
        x = run_layer(x, layer, bias, embedder.heads, embedder.eps)
    pooled = x.mean(axis=1)[0]
    assert np.allclose(pooled / np.linalg.norm(pooled), embedder.embed_one(text), atol=1e-6)


def test_a_damaged_embedding_model_gives_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"not a model")
    with pytest.raises(EmbedderError, match="reinstall"):
        Embedder.load(tmp_path)


def test_recall_finds_a_turn_from_an_earlier_conversation(db: SQLiteStore,
                                                           engine: MemoryEngine) -> None:
    me = db.user("me")
    say(db, engine, me, "My sister Maria is coming to visit next month.")
    say(db, engine, me, "Work was long, the printer jammed twice.")
    say(db, engine, me, "I really hate mornings, coffee is the only thing that helps.")
    db.new_conversation(me)
    hits = engine.recall(me, "I'm seeing my sister tonight", 3, MONDAY + timedelta(days=3)).hits
    assert "Maria" in hits[0].memory.text
    hits = engine.recall(me, "ugh, early alarm again", 3, MONDAY + timedelta(days=3)).hits
    assert "mornings" in hits[0].memory.text


def test_repeated_fact_merges_and_a_contradiction_supersedes(db: SQLiteStore,
                                                              engine: MemoryEngine) -> None:
    me = db.user("me")
    turn = say(db, engine, me, "I live in Lisbon now.")
    lisbon = NewFact("fact", "The user lives in Lisbon.", attribute="lives in", value="Lisbon",
                     sources=(turn.id,))
    first = engine.remember_fact(me, lisbon, MONDAY)
    again = engine.remember_fact(me, lisbon, MONDAY + timedelta(days=1))
    assert first.outcome == "added" and again.outcome == "merged"
    assert again.memory.mentions == 2
    later = MONDAY + timedelta(days=30)
    moved = engine.remember_fact(me, NewFact("fact", "The user lives in Porto.",
                                             attribute="lives in", value="Porto"), later)
    assert moved.outcome == "superseded" and moved.replaced is not None
    assert moved.replaced.valid_to == later and moved.replaced.superseded_by == moved.memory.id
    current = engine.store.records(me, kinds=("fact",))
    assert [m.text for m in current] == ["The user lives in Porto."]
    history = engine.store.records(me, kinds=("fact",), history=True)
    assert {m.text for m in history} == {"The user lives in Porto.", "The user lives in Lisbon."}
    # A replaced fact is never recalled as if it were still true.
    hits = engine.recall(me, "where does the user live, Lisbon?", 5, later).hits
    assert first.memory.id not in {h.memory.id for h in hits}


def test_preferences_accumulate_instead_of_replacing_each_other(db: SQLiteStore,
                                                                 engine: MemoryEngine) -> None:
    me = db.user("me")
    for food in ("ramen", "figs"):
        written = engine.remember_fact(me, NewFact("preference", f"The user likes {food}.",
                                                   attribute="likes", value=food), MONDAY)
        assert written.outcome == "added"
    assert len(engine.store.records(me, kinds=("preference",))) == 2


def test_forget_removes_every_byte_of_a_memory(db: SQLiteStore, engine: MemoryEngine,
                                               tmp_path: Path) -> None:
    me = db.user("me")
    turn = say(db, engine, me, "Catherine Zanzibarova signed the divorce papers in March.")
    say(db, engine, me, "The weather is grey today.")
    engine.remember_fact(me, NewFact("fact", "Catherine Zanzibarova is the user's ex-wife.",
                                     subject="Catherine", relation="ex-wife",
                                     attribute="relation", value="ex-wife",
                                     sources=(turn.id,)), MONDAY)
    engine.index(me)  # the saved vector index must be rewritten too
    engine.save()
    assert b"Zanzibarova" in database_bytes(tmp_path)

    found, report = engine.forget_about(me, "Catherine")
    assert len(found) == 2 and report.records == 2
    assert b"Zanzibarova" not in database_bytes(tmp_path)
    assert b"anzibarov" not in database_bytes(tmp_path)  # nor FTS prefixes of it
    assert engine.store.records(me, history=True)[0].text == "The weather is grey today."
    assert engine.recall(me, "Catherine divorce", 5, MONDAY).hits[0].memory.text.startswith("The")
    assert len(db.turns(me, db.current_conversation(me).id)) == 1  # the turn itself went


def test_forgetting_an_episode_takes_the_facts_derived_only_from_it(
        db: SQLiteStore, engine: MemoryEngine) -> None:
    me = db.user("me")
    turn = say(db, engine, me, "My boss Quentin keeps moving my deadlines.")
    other = say(db, engine, me, "Quentin praised my report today.")
    only = engine.remember_fact(me, NewFact("fact", "Quentin is the user's boss.",
                                            subject="Quentin", attribute="relation",
                                            value="boss", sources=(turn.id,)), MONDAY)
    both = engine.remember_fact(me, NewFact("event", "Quentin praised the user's report.",
                                            subject="Quentin", sources=(turn.id, other.id)),
                                MONDAY)
    episode = next(m for m in engine.store.records(me, kinds=("episode",)) if m.turn_id == turn.id)
    engine.forget(me, [episode.id])
    left = {m.id for m in engine.store.records(me, history=True)}
    assert only.memory.id not in left
    assert both.memory.id in left  # still backed by another turn


def test_one_user_never_sees_another_users_memories(db: SQLiteStore,
                                                     engine: MemoryEngine) -> None:
    alice, bob = db.user("alice"), db.user("bob")
    say(db, engine, alice, "My secret: I applied to the Oslo orchestra.")
    fact = engine.remember_fact(alice, NewFact("fact", "Alice plays the cello in Oslo.",
                                               attribute="instrument", value="cello"), MONDAY)
    for query in ("Oslo orchestra", "cello", "secret", "what did I apply to"):
        assert engine.recall(bob, query, 10, MONDAY).hits == []
        assert engine.recall(alice, query, 10, MONDAY).hits
    assert engine.store.records(bob, history=True) == []
    assert engine.store.export(bob) == []
    assert engine.store.about(bob, "Oslo") == []
    with pytest.raises(MemoryNotFoundError):
        engine.store.get(bob, fact.memory.id)
    with pytest.raises(MemoryNotFoundError):
        engine.edit(bob, fact.memory.id, "Bob took this over")
    assert engine.forget(bob, [fact.memory.id]).records == 0
    assert engine.store.get(alice, fact.memory.id).text == "Alice plays the cello in Oslo."


@pytest.mark.parametrize("query", ['"NEAR(', 'a" OR "b', "NEAR(sister, 2)", "body:maria",
                                   "sister*", "AND OR NOT", "'; DROP TABLE memories; --",
                                   "^sister", "(((", "the and of to", "   "])
def test_hostile_or_empty_queries_never_break_search(db: SQLiteStore, engine: MemoryEngine,
                                                     query: str) -> None:
    me = db.user("me")
    say(db, engine, me, 'She said "NEAR(" twice; my sister laughed.')
    result = engine.recall(me, query, 5, MONDAY)
    assert isinstance(result.hits, list)
    assert engine.store.count(me) == 1


def test_huge_and_foreign_script_memories_are_stored_and_found(db: SQLiteStore,
                                                               engine: MemoryEngine) -> None:
    me = db.user("me")
    say(db, engine, me, "我的妹妹叫玛丽亚 — she lives in 北京.")
    say(db, engine, me, "أختي مريم تزورني 🌙")
    say(db, engine, me, "marathon " * 50_000)
    assert "北京" in engine.recall(me, "北京", 3, MONDAY).hits[0].memory.text
    assert "مريم" in engine.recall(me, "مريم", 3, MONDAY).hits[0].memory.text
    assert engine.recall(me, "marathon", 1, MONDAY).hits[0].memory.text.startswith("marathon")


def test_empty_memory_text_is_refused_on_edit(db: SQLiteStore, engine: MemoryEngine) -> None:
    me = db.user("me")
    say(db, engine, me, "I adopted a cat named Miso.")
    memory = engine.store.records(me)[0]
    with pytest.raises(ValueError, match="forget"):
        engine.edit(me, memory.id, "   ")
    edited = engine.edit(me, memory.id, "I adopted a cat named Mochi.")
    assert engine.recall(me, "Mochi", 1, MONDAY).hits[0].memory.id == edited.id
    assert db.turns(me, db.current_conversation(me).id)[0].content.endswith("Mochi.")


def test_a_corrupted_vector_is_re_embedded_when_the_index_is_rebuilt(
        db: SQLiteStore, engine: MemoryEngine, tmp_path: Path, embedder: Embedder) -> None:
    me = db.user("me")
    say(db, engine, me, "My grandmother's lemon cake recipe is in the blue notebook.")
    memory_id = engine.store.records(me)[0].id
    db.run(lambda c: c.execute("UPDATE memory_vectors SET vector = x'00ff' WHERE memory_id = ?",
                               (memory_id,)))
    fresh = MemoryEngine(db, tmp_path / "memory-again", embedder=embedder)
    hits = fresh.retriever.search(me, "grandmother lemon cake recipe notebook", 1, now=MONDAY)
    assert hits.hits[0].memory.id == memory_id
    assert fresh.index(me).size == 1
    blob = db.run(lambda c: c.execute("SELECT length(vector) FROM memory_vectors").fetchone()[0])
    assert blob == 384 * 2


def test_a_saved_index_is_reused_and_a_stale_one_rebuilt(db: SQLiteStore, engine: MemoryEngine,
                                                         tmp_path: Path, embedder: Embedder
                                                         ) -> None:
    me = db.user("me")
    say(db, engine, me, "I started learning the violin.")
    engine.index(me)
    engine.save()
    say(db, engine, me, "My violin teacher is called Ines.")  # the index file is now stale
    fresh = MemoryEngine(db, tmp_path / "memory", embedder=embedder)
    assert fresh.index(me).size == 2


def test_memory_cli_lists_searches_exports_and_forgets(tmp_path: Path,
                                                       clean_env: dict[str, str],
                                                       embedder: Embedder) -> None:
    data = Path(clean_env["OS1_DATA_DIR"])
    store = SQLiteStore(data / "os1.sqlite3")
    engine = MemoryEngine(store, data / "memory", embedder=embedder)
    me = store.user("me")
    say(store, engine, me, "My sister Maria Quixotella is a nurse in Porto.")
    say(store, engine, me, "I hate mornings.")
    store.close()

    def os1(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "os1", "memory", *args], env=clean_env,
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)

    listed = json.loads(os1("list", "--json").stdout)
    assert {m["text"] for m in listed} >= {"I hate mornings."}
    found = json.loads(os1("search", "who is my sister", "--json").stdout)
    assert "Quixotella" in found[0]["text"]
    refused = os1("forget", "--about", "Quixotella")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    out = os1("forget", "--about", "Quixotella", "--yes")
    assert out.returncode == 0, out.stderr
    exported = json.loads(os1("export").stdout)
    assert [m["text"] for m in exported["memories"]] == ["I hate mornings."]
    assert b"Quixotella" not in database_bytes(data)
    missing = os1("show", "999")
    assert missing.returncode == 1 and "memory list" in missing.stderr


def test_the_note_names_the_person_the_message_means(db: SQLiteStore,
                                                      engine: MemoryEngine) -> None:
    from os1.memory.notes import NoteBudget, compose_note

    me = db.user("me")
    say(db, engine, me, "My sister Maria is flying in from Madrid next month.")
    say(db, engine, me, "My sister Maria is flying in from Madrid next month.")
    say(db, engine, me, "Nice to hear!", role="assistant")
    engine.remember_fact(me, NewFact("fact", "The user's sister Maria lives in Madrid.",
                                     subject="Maria", relation="sister", attribute="lives in",
                                     value="Madrid"), MONDAY)
    later = db.new_conversation(me)
    note = compose_note(engine, me, later.id, "I'm seeing my sister tonight.", first_turn=False,
                        now=MONDAY + timedelta(days=3), user_label="me", companion_label="os1",
                        budget=NoteBudget(3, 500, 300))
    assert "The user's sister is Maria." in note.text
    assert note.text.count("flying in from Madrid") == 1  # the same words recalled once
    assert "Nice to hear" not in note.text  # not the companion's own old replies
    assert any(m.subject == "Maria" for m in note.used)
    first = compose_note(engine, me, later.id, "hello", first_turn=True,
                         now=MONDAY + timedelta(days=3), user_label="me",
                         companion_label="os1", budget=NoteBudget(3, 500, 300))
    assert first.text.startswith("What you know about the user")
    assert "Maria lives in Madrid" in first.text


def test_edit_leaves_no_trace_of_the_old_words(db: SQLiteStore, engine: MemoryEngine,
                                               tmp_path: Path) -> None:
    me = db.user("me")
    say(db, engine, me, "My locker code is Quibblewick.")
    memory = engine.store.records(me)[0]
    engine.edit(me, memory.id, "My locker code is private.")
    assert b"Quibblewick" not in database_bytes(tmp_path)


def test_forget_strips_the_memory_from_later_turns_notes(db: SQLiteStore,
                                                         engine: MemoryEngine,
                                                         tmp_path: Path) -> None:
    me = db.user("me")
    say(db, engine, me, "The spare key is under the Zorblatt flowerpot.")
    later = db.new_conversation(me)
    db.add_turn(me, NewTurn(later.id, "user", "Where is the key?",
                            'You remember:\n- Monday, the user said: "The spare key is under '
                            'the Zorblatt flowerpot."\n- The user likes tea.',
                            "complete", MONDAY))
    episode = engine.store.records(me, kinds=("episode",))[-1]
    engine.forget(me, [episode.id])
    assert b"Zorblatt" not in database_bytes(tmp_path)
    assert db.turns(me, later.id)[0].context == "You remember:\n- The user likes tea."


def test_a_fact_whose_turns_were_forgotten_meanwhile_is_not_stored(
        db: SQLiteStore, engine: MemoryEngine) -> None:
    me = db.user("me")
    turn = say(db, engine, me, "My cousin Ferdinand lives in Graz.")
    episode = engine.store.records(me)[0]
    engine.forget(me, [episode.id])  # while extraction of this turn was under way
    written = engine.remember_fact(me, NewFact("fact", "Ferdinand lives in Graz.",
                                               subject="Ferdinand", sources=(turn.id,)), MONDAY)
    assert written is None
    assert engine.store.records(me, history=True) == []


def test_absurd_times_and_words_in_a_query_are_harmless(db: SQLiteStore,
                                                        engine: MemoryEngine) -> None:
    me = db.user("me")
    say(db, engine, me, "I saw the pyramids once.")
    for query in ("what happened 3000 years ago", "99999999999 days ago", "x" * 200_000):
        assert isinstance(engine.recall(me, query, 3, MONDAY).hits, list)


def test_a_forgotten_speaker_no_longer_steers_search(db: SQLiteStore,
                                                     engine: MemoryEngine) -> None:
    me = db.user("me")
    conversation = db.current_conversation(me)
    turn = db.add_turn(me, NewTurn(conversation.id, "user", "Bob here, I love sailing.", "",
                                   "complete", MONDAY))
    engine.remember_turn(me, turn, "Bob Quayle")
    assert "Bob Quayle" in engine.retriever._speakers_of(me)
    engine.forget(me, [engine.store.records(me)[0].id])
    assert "Bob Quayle" not in engine.retriever._speakers_of(me)
