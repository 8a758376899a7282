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
)
