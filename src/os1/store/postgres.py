"""The store on PostgreSQL (OS1_DATABASE_URL): several API processes and threads at once.

It speaks the same seam as `SQLiteStore`: the `Store` methods, and `run(work)`, which hands
``work`` a connection that answers the sqlite3 calls os1 makes (``execute``/``executemany``,
``fetchone``/``fetchall``/iteration, ``lastrowid``, ``rowcount``, ``description``) and turns
os1's SQLite dialect into PostgreSQL on the way (os1.store.dialect). So every module above the
store runs unchanged; the few places that are SQLite's own (keyword search, vectors, VACUUM)
ask which backend they have.

Connections come from a pool (psycopg_pool): each `run` borrows one for its whole duration,
so a transaction (`os1.store.sqlite.transaction`) stays on one connection. A connection that
died (the server restarted) is noticed when borrowed and replaced; work that was running on
it fails with a StorageError that says so, and nothing it committed is lost.

Row-level security. Every table holding user data has a policy: a row is visible and
writable only when its user id equals the setting ``os1.user_id``, or when ``os1.all_users``
is ``on``. `run` sets both on the borrowed connection from `os1.store.scope.scoped_user_id()`:

- inside a request (the server calls `enter_user_scope`): ``os1.user_id`` = that user, and
  nothing else is visible, even to a query that forgot its ``WHERE user_id = ?``;
- outside any scope (the terminal app, the CLI, background jobs that walk all users):
  ``os1.all_users`` = ``on``. That is os1's own code acting for the whole installation; the
  wall it keeps is between requests, not against os1 itself.
- any other connection as the os1 role (psql, a report tool) sets neither and sees no rows.

The role os1 connects as must not be a superuser nor have BYPASSRLS (PostgreSQL skips the
policies for those): `PostgresStore` refuses such a role with what to run instead.

Encryption at rest is the database server's job here (disk encryption, or a PostgreSQL build
with TDE): `os1.store.open` refuses ``encryption`` other than ``off`` with a database URL.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import psycopg
from psycopg.adapt import Loader
from psycopg_pool import ConnectionPool, PoolTimeout

from os1.store.base import Dialect, StorageError
from os1.store.conversations import ConversationQueries
from os1.store.dialect import (
    Schema,
    Statement,
    Table,
    policy_statements,
    translate,
    translate_migration,
)
from os1.store.encryption import DatabaseKey
from os1.store.migrations import MIGRATIONS
from os1.store.scope import scoped_user_id

T = TypeVar("T")

# Advisory lock keys (first half): migrations, and SQLite's BEGIN IMMEDIATE (per user).
_MIGRATION_LOCK = 0x05_01
_WRITE_LOCK = 0x05_02


class _NumericLoader(Loader):
    """``sum()`` of integers is NUMERIC on PostgreSQL (SQLite: an integer): load whole numbers
    as int and the rest as float, as sqlite3 would hand them over."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        whole = text.lstrip("-").isdigit()
        return int(text) if whole else float(text)


class Cursor:
    """The part of sqlite3.Cursor os1 uses."""

    def __init__(self, cursor: psycopg.Cursor[Any] | None, lastrowid: int | None = None,
                 rowcount: int = -1, rows: list[tuple[Any, ...]] | None = None) -> None:
        self._cursor = cursor
        self.lastrowid = lastrowid
        self.rowcount = rowcount if cursor is None else cursor.rowcount
        self._rows = rows  # already read (an INSERT … RETURNING id)

    @property
    def description(self) -> list[tuple[str | None, ...]] | None:
        if self._cursor is None or self._cursor.description is None:
            return None
        return [(column.name, None, None, None, None, None, None)
                for column in self._cursor.description]

    def fetchone(self) -> Any:
        if self._rows is not None:
            return self._rows.pop(0) if self._rows else None
        if self._cursor is None or self._cursor.description is None:
            return None
        return _wrap(self._cursor.fetchone)

    def fetchall(self) -> list[Any]:
        if self._rows is not None:
            rows, self._rows = self._rows, []
            return rows
        if self._cursor is None or self._cursor.description is None:
            return []
        return _wrap(self._cursor.fetchall)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())

    def close(self) -> None:
        if self._cursor is not None:
            self._cursor.close()


class Connection:
    """What `PostgresStore.run` hands its work: sqlite3.Connection's calls, PostgreSQL's SQL."""

    def __init__(self, conn: psycopg.Connection[Any], schema: Schema,
                 cache: dict[str, Statement], scope: int | None) -> None:
        self._conn = conn
        self._schema = schema
        self._cache = cache
        self._scope = scope

    def _statement(self, sql: str) -> Statement:
        statement = self._cache.get(sql)
        if statement is None:
            try:
                statement = translate(sql, self._schema)
            except ValueError as exc:
                raise sqlite3.OperationalError(f"{exc} (in: {sql[:200]})") from exc
            if len(self._cache) > 5000:
                self._cache.clear()
            self._cache[sql] = statement
        return statement

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Cursor:
        statement = self._statement(sql)
        if statement.kind == "noop":
            return Cursor(None, rowcount=-1, rows=[])
        params = _parameters(parameters)
        if statement.kind == "begin":
            # SQLite's BEGIN IMMEDIATE takes the write lock at once, so a read-then-write
            # transaction cannot interleave with another writer. Here: one lock per user
            # (unscoped work: one shared key), held until COMMIT or ROLLBACK.
            lock = self._scope if self._scope is not None else 0
            _wrap(lambda: self._conn.execute(
                f"BEGIN; SELECT pg_advisory_xact_lock({_WRITE_LOCK}, {int(lock)})"))
            return Cursor(None, rowcount=-1, rows=[])
        cursor = self._conn.cursor()
        _wrap(lambda: cursor.execute(cast(Any, statement.sql), params), statement.sql)
        if statement.returns_id:
            rows = cursor.fetchall()
            lastrowid = int(rows[-1][0]) if rows else None
            return Cursor(None, lastrowid=lastrowid, rowcount=cursor.rowcount, rows=[])
        return Cursor(cursor)

    def executemany(self, sql: str, seq_of_parameters: Any) -> Cursor:
        statement = self._statement(sql)
        if statement.kind == "noop":
            return Cursor(None, rows=[])
        rows = [_parameters(p) for p in seq_of_parameters]
        cursor = self._conn.cursor()
        text = statement.sql
        if statement.returns_id:
            text = text.removesuffix(" RETURNING id")
        _wrap(lambda: cursor.executemany(cast(Any, text), rows), text)
        return Cursor(None, rowcount=cursor.rowcount, rows=[])

    def commit(self) -> None:
        _wrap(self._conn.commit)

    def rollback(self) -> None:
        _wrap(self._conn.rollback)


def _parameters(parameters: Sequence[Any]) -> tuple[Any, ...]:
    # SQLite stores True as 1 in an INTEGER column; PostgreSQL refuses a boolean there.
    return tuple(int(p) if isinstance(p, bool) else p for p in parameters)


def _wrap(call: Callable[[], T], sql: str = "") -> T:
    """psycopg's errors as the sqlite3 classes os1 catches (IntegrityError above all); the
    original is kept as the cause, for `PostgresStore` to explain."""
    try:
        return call()
    except psycopg.errors.IntegrityError as exc:
        raise sqlite3.IntegrityError(str(exc).strip()) from exc
    except psycopg.OperationalError as exc:
        raise sqlite3.OperationalError(str(exc).strip()) from exc
    except psycopg.errors.InsufficientPrivilege as exc:
        raise sqlite3.DatabaseError(str(exc).strip()) from exc
    except (psycopg.ProgrammingError, psycopg.errors.DataError) as exc:
        where = f" (in: {sql[:300]})" if sql else ""
        raise sqlite3.OperationalError(f"{str(exc).strip()}{where}") from exc
    except psycopg.Error as exc:
        raise sqlite3.DatabaseError(str(exc).strip()) from exc


class PostgresStore(ConversationQueries):
    """Thread-safe and process-safe: a pool of connections, row-level security per user."""

    def __init__(self, url: str, *, min_connections: int = 1, max_connections: int = 10,
                 wait_s: float = 5.0) -> None:
        self.url = url
        parts = urlsplit(url)
        database = parts.path.lstrip("/") or "postgres"
        host = parts.hostname or "local socket"
        self._where = f"PostgreSQL database {database!r} on {host}"
        # Where an SQLite file path is used as a name (the mail keyring entry): stable, unique
        # per server and database, never a real file.
        self.path = Path("/postgresql") / host / database
        self._cache: dict[str, Statement] = {}
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(wait_s))) as conn:
                _check_role(conn, self._where)
                self._migrate(conn)
                self.schema = _read_schema(conn)
        except psycopg.OperationalError as exc:
            raise StorageError(
                f"Cannot connect to the {self._where} ({_first_line(exc)}). Check "
                "OS1_DATABASE_URL and that the server is running."
            ) from None
        except psycopg.Error as exc:
            raise StorageError(f"Cannot prepare the {self._where}: {_first_line(exc)}") from None
        self._pool = ConnectionPool(
            url, min_size=min_connections, max_size=max_connections, timeout=wait_s,
            kwargs={"autocommit": True, "connect_timeout": max(1, int(wait_s))},
            configure=_configure, check=ConnectionPool.check_connection, open=True,
            name="os1")

    dialect: Dialect = "postgresql"

    @property
    def encrypted(self) -> bool:
        """Never by os1: encryption at rest is the database server's (see module doc)."""
        return False

    @property
    def key(self) -> DatabaseKey | None:
        return None

    # -- plumbing -------------------------------------------------------------------

    def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` on one pooled connection, scoped to the current user (row-level
        security), with errors explained."""
        scope = scoped_user_id()
        try:
            with self._pool.connection() as conn:
                _wrap(lambda: conn.execute(
                    "SELECT set_config('os1.user_id', %s, false), "
                    "set_config('os1.all_users', %s, false)",
                    ("" if scope is None else str(scope), "off" if scope is not None else "on")))
                adapter = Connection(conn, self.schema, self._cache, scope)
                try:
                    return work(cast(sqlite3.Connection, adapter))
                finally:
                    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE \
                            and not conn.closed:
                        with contextlib.suppress(psycopg.Error):  # a dead one: the pool drops it
                            conn.rollback()  # work that failed inside a transaction it opened
        except PoolTimeout:
            raise StorageError(
                f"The {self._where} is not answering (no connection within the wait). "
                "Check that the server is running; nothing already saved is lost."
            ) from None
        except (sqlite3.DatabaseError, psycopg.OperationalError) as exc:
            raise StorageError(self._explain(exc)) from exc

    def _explain(self, exc: Exception) -> str:
        cause = exc.__cause__ or exc
        text = _first_line(cause)
        state = getattr(cause, "sqlstate", None) or ""
        if state == "53100" or "No space left" in text:
            return (f"The disk of the {self._where} is full, so os1 cannot save. Free some "
                    "space on the database server; nothing saved before is lost.")
        # No SQLSTATE: the client lost the server; 08: connection; 57P: shutdown or restart.
        lost = isinstance(cause, psycopg.OperationalError) and (
            not state or state.startswith(("08", "57P")))
        if lost:
            return (f"Lost the connection to the {self._where} ({text}). Try again in a moment; "
                    "what was saved before is kept, and os1 reconnects by itself.")
        if "row-level security" in text:
            return f"That row belongs to another user ({text})."
        return f"Database error in the {self._where}: {text}"

    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        """The SQLite migrations, translated; ``schema_version`` records how many ran. An
        advisory lock keeps two processes starting at once from both migrating."""
        if not _has_vector(conn):
            try:
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
            except psycopg.errors.InsufficientPrivilege:
                raise StorageError(
                    f"The {self._where} lacks the pgvector extension, and os1's role may not "
                    "add it. As a superuser, in that database: CREATE EXTENSION vector;"
                ) from None
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
            version = int(row[0]) if row and row[0] is not None else 0
            if version > len(MIGRATIONS):
                raise StorageError(
                    f"The {self._where} has schema version {version}, newer than this os1 "
                    f"understands ({len(MIGRATIONS)}); upgrade os1.")
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in script:
                    for translated in translate_migration(statement):
                        conn.execute(cast(Any, translated))
                _secure_new_tables(conn)
                conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))

    def close(self) -> None:
        self._pool.close()


def _configure(conn: psycopg.Connection[Any]) -> None:
    from pgvector.psycopg import register_vector

    conn.adapters.register_loader("numeric", _NumericLoader)
    register_vector(conn)


def _has_vector(conn: psycopg.Connection[Any]) -> bool:
    return conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone() \
        is not None


def _check_role(conn: psycopg.Connection[Any], where: str) -> None:
    row = conn.execute("SELECT rolsuper, rolbypassrls, current_user FROM pg_roles "
                       "WHERE rolname = current_user").fetchone()
    if row is not None and (row[0] or row[1]):
        raise StorageError(
            f"os1 connects to the {where} as {row[2]!r}, a role that row-level security does "
            "not apply to (superuser or BYPASSRLS), so one user's request could read another's "
            "rows. Connect as an ordinary role: CREATE ROLE os1 LOGIN PASSWORD '…'; "
            "CREATE DATABASE os1 OWNER os1; and, as a superuser in that database, "
            "CREATE EXTENSION vector; then set OS1_DATABASE_URL=postgresql://os1:…@host/os1.")


def _secure_new_tables(conn: psycopg.Connection[Any]) -> None:
    """Row-level security for every table that has none yet (see `policy_statements`)."""
    rows = conn.execute(
        "SELECT c.relname, c.relrowsecurity FROM pg_class c JOIN pg_namespace n ON "
        "n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r' "
        "ORDER BY c.oid").fetchall()
    secured = {name for name, on in rows if on}
    for table, on in rows:
        if on or table == "schema_version":
            continue
        columns = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = %s", (table,)).fetchall()]
        references = {r[0]: (r[1], r[2]) for r in conn.execute(
            "SELECT a.attname, f.relname, fa.attname FROM pg_constraint k "
            "JOIN pg_class t ON t.oid = k.conrelid JOIN pg_class f ON f.oid = k.confrelid "
            "JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1] "
            "JOIN pg_attribute fa ON fa.attrelid = k.confrelid AND fa.attnum = k.confkey[1] "
            "WHERE k.contype = 'f' AND t.relname = %s AND t.relnamespace = "
            "(SELECT oid FROM pg_namespace WHERE nspname = current_schema())",
            (table,)).fetchall()}
        statements = policy_statements(table, columns, references, secured)
        if not statements:
            continue
        for statement in statements:
            conn.execute(cast(Any, statement))
        secured.add(table)


def _read_schema(conn: psycopg.Connection[Any]) -> Schema:
    schema = Schema()
    columns: dict[str, list[str]] = {}
    for table, column in conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"):
        columns.setdefault(table, []).append(column)
    keys: dict[str, list[str]] = {}
    for table, column in conn.execute(
            "SELECT t.relname, a.attname FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indisprimary AND t.relnamespace = "
            "(SELECT oid FROM pg_namespace WHERE nspname = current_schema()) "
            "ORDER BY t.relname, array_position(i.indkey, a.attnum)"):
        keys.setdefault(table, []).append(column)
    for table, names in columns.items():
        schema.tables[table] = Table(tuple(names), tuple(keys.get(table, ())))
    return schema


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
