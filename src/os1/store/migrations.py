"""Schema migrations, applied in order; `PRAGMA user_version` records how many ran.

Never edit a migration that has shipped: append a new one.
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: users, conversations, turns
    (
        """CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            started_at TEXT NOT NULL
        )""",
        "CREATE INDEX conversations_by_user ON conversations (user_id, id)",
        """CREATE TABLE turns (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            content TEXT NOT NULL,
            context TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL CHECK (status IN ('complete', 'interrupted')),
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX turns_by_conversation ON turns (user_id, conversation_id, id)",
    ),
    # 2: long-term memory (os1.memory): records, their source turns, vectors, keyword index
    (
        # AUTOINCREMENT: an id is never reused, so nothing that still names a forgotten
        # record (a saved vector index, a note) can ever point at a new one.
        """CREATE TABLE memories (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            kind TEXT NOT NULL
                CHECK (kind IN ('episode', 'fact', 'preference', 'event', 'self')),
            text TEXT NOT NULL,
            subject TEXT NOT NULL DEFAULT '',
            relation TEXT NOT NULL DEFAULT '',
            attribute TEXT NOT NULL DEFAULT '',
            value TEXT NOT NULL DEFAULT '',
            speaker TEXT NOT NULL DEFAULT '',
            importance REAL NOT NULL DEFAULT 0.5,
            mentions INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            occurred_at TEXT,
            valid_from TEXT,
            valid_to TEXT,
            superseded_by INTEGER REFERENCES memories(id) ON DELETE SET NULL,
            conversation_id INTEGER REFERENCES conversations(id) ON DELETE CASCADE,
            turn_id INTEGER UNIQUE REFERENCES turns(id) ON DELETE CASCADE
        )""",
        "CREATE INDEX memories_by_user ON memories (user_id, kind, id)",
        "CREATE INDEX memories_by_key ON memories (user_id, subject, attribute)",
        "CREATE INDEX memories_by_conversation ON memories (conversation_id, id)",
        """CREATE TABLE memory_sources (
            memory_id INTEGER NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
            turn_id INTEGER NOT NULL REFERENCES turns(id) ON DELETE CASCADE,
            PRIMARY KEY (memory_id, turn_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX memory_sources_by_turn ON memory_sources (turn_id)",
        """CREATE TABLE memory_vectors (
            memory_id INTEGER PRIMARY KEY REFERENCES memories(id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            vector BLOB NOT NULL
        )""",
        "CREATE INDEX memory_vectors_by_user ON memory_vectors (user_id, memory_id)",
        "CREATE INDEX memories_by_speaker ON memories (user_id, speaker)",
        # Keyword indexes, rowid = memories.id; porter stemming: "sisters" finds "sister".
        # memory_fts: the record itself. For episodes also the turn with the one before it
        # (memory_back_fts) and with the ones on both sides (memory_around_fts): an answer
        # often only makes sense with the question it answers.
        """CREATE VIRTUAL TABLE memory_fts USING fts5(
            body, tokenize = 'porter unicode61 remove_diacritics 2'
        )""",
        """CREATE VIRTUAL TABLE memory_back_fts USING fts5(
            body, tokenize = 'porter unicode61 remove_diacritics 2'
        )""",
        """CREATE VIRTUAL TABLE memory_around_fts USING fts5(
            body, tokenize = 'porter unicode61 remove_diacritics 2'
        )""",
        # How many records hold each (stemmed) term: lets a query skip its commonest words.
        "CREATE VIRTUAL TABLE memory_fts_terms USING fts5vocab(memory_fts, 'row')",
        """CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
            DELETE FROM memory_fts WHERE rowid = old.id;
            DELETE FROM memory_back_fts WHERE rowid = old.id;
            DELETE FROM memory_around_fts WHERE rowid = old.id;
        END""",
        """CREATE TABLE memory_jobs (
            turn_id INTEGER PRIMARY KEY REFERENCES turns(id) ON DELETE CASCADE,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            attempts INTEGER NOT NULL DEFAULT 0
        )""",
    ),
    # 3: the mood timeline (one reading per user turn) and each user's voice baseline
    (
        """CREATE TABLE mood_readings (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            turn_id INTEGER REFERENCES turns(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            day TEXT NOT NULL,
            valence REAL NOT NULL,
            arousal REAL NOT NULL,
            confidence REAL NOT NULL,
            labels TEXT NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('text', 'voice', 'text+voice')),
            strategy TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX mood_by_day ON mood_readings (user_id, day)",
        "CREATE INDEX mood_by_turn ON mood_readings (turn_id)",
        """CREATE TABLE voice_baselines (
            user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            stats TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
    ),
    # 4: the safety log: which messages raised a crisis protocol (kind and score, never a
    # quote: the turn holds the words, and forgetting the turn removes its entry)
    (
        """CREATE TABLE safety_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            turn_id INTEGER REFERENCES turns(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            detail TEXT NOT NULL
        )""",
        "CREATE INDEX safety_by_user ON safety_events (user_id, id)",
        "CREATE INDEX safety_by_turn ON safety_events (turn_id)",
    ),
    # 5: who the companion is for this user and how it reaches out (issue 6).
    # persona_settings: the user's layer (onboarding or `os1 persona set`); onboarding: one row
    # per question answered or skipped (resumable); self_models: every version of the
    # companion's self-model, never edited (undo appends a copy of an older body); journal: the
    # companion's own entries, each from one reflection; checkins: what os1 may say first,
    # one row per trigger (unique key), hanging off the turn or memory it came from so
    # forgetting that removes it; checkin_state: "not now" and the last look at the clock.
    (
        """CREATE TABLE persona_settings (
            user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            companion_name TEXT NOT NULL DEFAULT 'os1',
            address_as TEXT NOT NULL DEFAULT '',
            tone TEXT NOT NULL DEFAULT 'warm',
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE onboarding (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            question TEXT NOT NULL,
            answer TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL CHECK (status IN ('answered', 'skipped')),
            at TEXT NOT NULL,
            PRIMARY KEY (user_id, question)
        )""",
        """CREATE TABLE self_models (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            reason TEXT NOT NULL,
            through_turn_id INTEGER NOT NULL DEFAULT 0,
            body TEXT NOT NULL
        )""",
        "CREATE INDEX self_models_by_user ON self_models (user_id, id)",
        """CREATE TABLE journal (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            self_model_id INTEGER NOT NULL REFERENCES self_models(id) ON DELETE CASCADE,
            written_at TEXT NOT NULL,
            text TEXT NOT NULL
        )""",
        "CREATE INDEX journal_by_user ON journal (user_id, id)",
        """CREATE TABLE checkins (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('reminder', 'follow_up', 'low_mood', 'silence',
                                               'date')),
            trigger_key TEXT NOT NULL,
            about TEXT NOT NULL DEFAULT '',
            turn_id INTEGER REFERENCES turns(id) ON DELETE CASCADE,
            memory_id INTEGER REFERENCES memories(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            due_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            text TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'seen', 'dismissed',
                                                   'expired')),
            sent_at TEXT,
            UNIQUE (user_id, trigger_key)
        )""",
        "CREATE INDEX checkins_by_status ON checkins (user_id, status, due_at)",
        "CREATE INDEX checkins_by_turn ON checkins (turn_id)",
        "CREATE INDEX checkins_by_memory ON checkins (memory_id)",
        """CREATE TABLE checkin_state (
            user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            paused_until TEXT,
            last_tick TEXT
        )""",
    ),
    # 6: skills (issue 7). action_log: every action the model asked for or the user ran, with
    # where it stands (the arguments as JSON, never a credential); reminders: what the user
    # asked to be reminded of, delivered through a check-in of kind 'reminder' (snoozing
    # plans a new one); letters: the user's letters, drafts and finished, and whether each is
    # chosen for the book; mail_accounts: one IMAP/SMTP account per user (the password lives
    # in the OS keyring, or here only when the database is encrypted); mail_triage: the label
    # given to each message, so an inbox is not read twice; mail_listing, mail_drafts: below.
    (
        """CREATE TABLE action_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            action TEXT NOT NULL,
            arguments TEXT NOT NULL DEFAULT '{}',
            origin TEXT NOT NULL CHECK (origin IN ('chat', 'command')),
            status TEXT NOT NULL CHECK (status IN ('proposed', 'declined', 'done', 'failed',
                                                   'refused')),
            result TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX action_log_by_user ON action_log (user_id, id)",
        """CREATE TABLE reminders (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            uid TEXT NOT NULL,
            text TEXT NOT NULL,
            due_at TEXT NOT NULL,
            created_at TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'cancelled')),
            snoozes INTEGER NOT NULL DEFAULT 0,
            checkin_id INTEGER REFERENCES checkins(id) ON DELETE SET NULL,
            UNIQUE (user_id, uid)
        )""",
        "CREATE INDEX reminders_by_due ON reminders (user_id, status, due_at)",
        """CREATE TABLE letters (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            recipient TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            body TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            in_book INTEGER NOT NULL DEFAULT 0 CHECK (in_book IN (0, 1))
        )""",
        "CREATE INDEX letters_by_user ON letters (user_id, id)",
        """CREATE TABLE mail_accounts (
            user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            address TEXT NOT NULL,
            imap_host TEXT NOT NULL,
            imap_port INTEGER NOT NULL,
            smtp_host TEXT NOT NULL DEFAULT '',
            smtp_port INTEGER NOT NULL DEFAULT 0,
            username TEXT NOT NULL,
            security TEXT NOT NULL CHECK (security IN ('tls', 'starttls', 'plain')),
            secret TEXT,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE mail_triage (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            folder TEXT NOT NULL,
            uid_validity INTEGER NOT NULL,
            uid INTEGER NOT NULL,
            category TEXT NOT NULL CHECK (category IN ('important', 'needs_reply', 'can_wait',
                                                       'newsletter')),
            reason TEXT NOT NULL DEFAULT '',
            suspicious INTEGER NOT NULL DEFAULT 0,
            at TEXT NOT NULL,
            PRIMARY KEY (user_id, folder, uid_validity, uid)
        )""",
        # The numbered list the user last saw (numbers pinned to UIDs, so "delete 3" means
        # the message they saw as 3) and the reply drafts waiting for a yes.
        """CREATE TABLE mail_listing (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            number INTEGER NOT NULL,
            folder TEXT NOT NULL,
            uid_validity INTEGER NOT NULL,
            uid INTEGER NOT NULL,
            sender TEXT NOT NULL,
            address TEXT NOT NULL,
            subject TEXT NOT NULL,
            message_id TEXT NOT NULL,
            gone INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (user_id, number)
        )""",
        """CREATE TABLE mail_drafts (
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            uid_validity INTEGER NOT NULL,
            uid INTEGER NOT NULL,
            recipient TEXT NOT NULL,
            subject TEXT NOT NULL,
            in_reply_to TEXT NOT NULL,
            body TEXT NOT NULL,
            PRIMARY KEY (user_id, uid_validity, uid)
        )""",
    ),
    # 7: the server (issue 8). accounts: a user who may log in from a browser, with their
    # argon2id password hash (never the password); sessions: one row per logged-in browser,
    # keyed by the sha256 of its token (the token itself is only ever in the browser), with a
    # sliding expiry.
    (
        """CREATE TABLE accounts (
            user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            password_hash TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        )""",
        "CREATE INDEX sessions_by_user ON sessions (user_id, expires_at)",
    ),
)
