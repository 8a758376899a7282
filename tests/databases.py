"""Databases for tests: the SQLite file, and a real PostgreSQL with pgvector.

    from databases import database_url, postgres, postgres_url  # fixtures

- ``database_url`` (parametrized "sqlite", "postgresql"): ``""`` (the SQLite file in the
  test's data_dir) or the URL of a fresh PostgreSQL database, already migrated. Pass it to
  `Settings(database_url=...)`: a test using it runs once per backend.
- ``postgres_url``: only the PostgreSQL one. ``postgres``: the server itself (`TestServer`:
  a superuser connection, `stop`/`start` for restart tests).

The server is the one the `pgserver` package ships (PostgreSQL 16 with pgvector), started
once per test session in a temporary folder (about a second). To use a system PostgreSQL
instead, set OS1_TEST_DATABASE_URL to a superuser URL of it (it needs pgvector installed:
Debian `postgresql-16-pgvector`), e.g. ``postgresql://postgres@localhost/postgres``; the tests
create a role ``os1_test`` and databases named ``os1_test_*`` there and drop the databases.

os1 connects as ``os1_test``, an ordinary role: row-level security does not apply to
superusers, so a superuser would make the isolation tests meaningless (and PostgresStore
refuses one). Each test gets its own database, copied from a template that was migrated once
(CREATE DATABASE … TEMPLATE: ~50 ms, instead of running every migration again).
"""

from __future__ import annotations

import itertools
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

ROLE = "os1_test"
TEMPLATE = "os1_test_template"
_names = itertools.count()


class TestServer:
    """A PostgreSQL server the tests may administer."""

    __test__ = False  # not a test class

    def __init__(self, admin_url: str, pgserver: Any = None) -> None:
        self.admin_url = admin_url
        self._pgserver = pgserver

    def admin(self, database: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(_with_database(self.admin_url, database), autocommit=True)

    def url(self, database: str) -> str:
        """os1's URL for ``database``: the ordinary role, not the superuser."""
        parts = urlsplit(_with_database(self.admin_url, database))
        host = parts.netloc.rsplit("@", 1)[-1]
        return urlunsplit((parts.scheme, f"{ROLE}@{host}", parts.path, parts.query, ""))

    @property
    def restartable(self) -> bool:
        return self._pgserver is not None

    def stop(self) -> None:
        """Stop the server (fast shutdown: open connections are cut, as in a crash or a
        failover)."""
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self._pgserver.pgdata,
               user=self._pgserver.system_user)

    def start(self) -> None:
        self._pgserver.ensure_postgres_running()

    def cut_connections(self, database: str) -> None:
        """For a server this process may not restart: end every os1 connection instead."""
        with self.admin() as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                         "WHERE datname = %s AND pid <> pg_backend_pid()", (database,))

    def new_database(self) -> str:
        name = f"os1_test_{os.getpid()}_{next(_names)}"
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}" OWNER {ROLE}')
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


_server: TestServer | None = None


def _start() -> TestServer:
    """One server per test process, however many modules import these fixtures."""
    global _server
    if _server is not None:
        return _server
    external = os.environ.get("OS1_TEST_DATABASE_URL", "")
    if external:
        server = TestServer(external)
    else:
        with warnings.catch_warnings():  # platformdirs: "XDG_RUNTIME_DIR is not set"
            warnings.simplefilter("ignore")
            import pgserver

        # pgserver runs PostgreSQL as a `pgserver` system user when tests run as root, so the
        # folder must be one that user can reach: not under pytest's basetemp, which pytest
        # keeps (and resets to) mode 0700. Deleted when the session ends.
        folder = Path(tempfile.mkdtemp(prefix="os1-test-postgres-"))
        folder.chmod(0o755)
        handle = pgserver.get_server(folder, cleanup_mode="delete")
        server = TestServer(handle.get_uri(), handle)
    _prepare(server)
    _server = server
    return server


def _prepare(server: TestServer) -> None:
    """The role, and the template database with pgvector and every migration applied."""
    from os1.store.postgres import PostgresStore

    with server.admin() as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone() is None:
            conn.execute(f"CREATE ROLE {ROLE} LOGIN NOSUPERUSER NOBYPASSRLS")
        conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{TEMPLATE}" OWNER {ROLE}')
    with server.admin(TEMPLATE) as conn:
        conn.execute("CREATE EXTENSION vector")  # not a trusted extension: needs a superuser
    PostgresStore(server.url(TEMPLATE)).close()


@pytest.fixture(scope="session")
def postgres() -> TestServer:
    return _start()


@pytest.fixture
def postgres_url(postgres: TestServer) -> Iterator[str]:
    name = postgres.new_database()
    yield postgres.url(name)
    postgres.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "sqlite":
        yield ""
        return
    server = request.getfixturevalue("postgres")
    name = server.new_database()
    yield server.url(name)
    server.drop_database(name)
