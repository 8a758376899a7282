"""os1's SQL is written for SQLite; this turns it into PostgreSQL.

Two jobs, both on a small tokenizer (so nothing inside a quoted string is ever touched):

- statements (`translate`): ``?`` placeholders, ``INSERT OR IGNORE`` / ``INSERT OR REPLACE``,
  SQLite's two-argument ``max``/``min``, ``instr``, ``ifnull``, ``group_concat``, ``rowid``
  (the keyword tables' key, named ``id`` on PostgreSQL), ``LIMIT -1`` (no limit), ``BEGIN
  IMMEDIATE``, ``LIKE`` (case-blind in SQLite: ``ILIKE``); PRAGMAs are SQLite's own knobs and
  become nothing.
- migrations (`translate_migration`): the same MIGRATIONS list, so a new migration needs no
  PostgreSQL twin. Column types map one to one (INTEGER → BIGINT, REAL → DOUBLE PRECISION,
  BLOB → BYTEA, TEXT → TEXT COLLATE "C" so text sorts and compares byte by byte as in SQLite:
  timestamps are ISO text); an ``INTEGER PRIMARY KEY`` that is not a reference becomes an
  identity column (BY DEFAULT: a few places write an id on purpose); FTS5 tables become plain
  tables with a generated ``tsvector`` column and a GIN index; an ``AFTER DELETE`` trigger
  that only deletes keyword rows by ``rowid = old.id`` becomes the foreign key with ``ON
  DELETE CASCADE`` it stands for; ``fts5vocab`` tables are left out (PostgreSQL counts terms
  from the index itself, see os1.memory.store).

Anything this does not understand raises `UntranslatableError` with the statement, so a new
SQLite-only construct fails the PostgreSQL tests loudly instead of misbehaving.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# A column whose SQLite type says less than PostgreSQL can: the memory vectors.
COLUMN_TYPES: dict[tuple[str, str], str] = {("memory_vectors", "vector"): "vector(384)"}
# Indexes that only make sense on PostgreSQL, created with the table they index.
EXTRA_INDEXES: dict[str, tuple[str, ...]] = {
    "memory_vectors": (
        "CREATE INDEX memory_vectors_nearest ON memory_vectors "
        "USING hnsw (vector vector_cosine_ops)",
    ),
}
TEXT_SEARCH_CONFIG = "english"


class UntranslatableError(ValueError):
    """A statement uses SQLite that has no PostgreSQL translation here."""


_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<comment>--[^\n]*)
      | (?P<string>'(?:[^']|'')*')
      | (?P<quoted>"(?:[^"]|"")*")
      | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
      | (?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)
      | (?P<op><=|>=|<>|!=|==|\|\||::|[-+*/%(),.;=<>?|&~])
      | (?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else self.text


def tokens(sql: str) -> list[Token]:
    out = []
    for match in _TOKEN.finditer(sql):
        kind = match.lastgroup or "other"
        out.append(Token(kind, match.group()))
    return out


def _significant(items: Sequence[Token]) -> list[int]:
    return [i for i, t in enumerate(items) if t.kind not in ("space", "comment")]


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    primary_key: tuple[str, ...]


@dataclass
class Schema:
    """What statement translation needs to know of each table (read from the catalog)."""

    tables: dict[str, Table] = field(default_factory=dict)

    def has_id(self, table: str) -> bool:
        found = self.tables.get(table)
        return found is not None and "id" in found.columns


@dataclass(frozen=True)
class Statement:
    sql: str  # PostgreSQL, with %s placeholders
    kind: str  # "query", "noop" (a PRAGMA), "begin", "insert"
    returns_id: bool = False  # an INSERT given RETURNING id, for lastrowid


# -- statements -------------------------------------------------------------------------


def translate(sql: str, schema: Schema) -> Statement:
    items = tokens(sql.strip().rstrip(";"))
    sig = _significant(items)
    if not sig:
        return Statement("", "noop")
    first = items[sig[0]].upper
    if first == "PRAGMA":
        return Statement("", "noop")
    if first == "BEGIN":
        return Statement("BEGIN", "begin")
    if first in ("COMMIT", "END"):
        return Statement("COMMIT", "query")
    if first == "VACUUM":
        raise UntranslatableError("VACUUM is SQLite's; on PostgreSQL autovacuum does this")

    conflict = ""
    if first in ("INSERT", "REPLACE"):
        items, conflict = _insert_conflict(items, schema)
    items = _functions(items)
    out: list[str] = []
    significant = [t for t in items if t.kind not in ("space", "comment")]
    for token in items:
        if token.kind == "op" and token.text == "?":
            out.append("%s")
        elif token.kind == "op" and token.text == "%":
            out.append("%%")
        elif token.kind == "op" and token.text == "==":
            out.append("=")
        elif token.kind in ("string", "quoted"):
            out.append(token.text.replace("%", "%%"))
        elif token.kind == "word" and token.upper == "ROWID":
            out.append("id")
        elif token.kind == "word" and token.upper == "LIKE":
            out.append("ILIKE")  # SQLite's LIKE ignores ASCII case
        elif token.kind == "word" and token.upper == "GLOB":
            raise UntranslatableError("GLOB has no PostgreSQL form here; use LIKE")
        else:
            out.append(token.text)
    text = "".join(out)
    text = _LIMIT_PARAM.sub("LIMIT nullif(greatest(%s::bigint, -1), -1)", text)
    text = _LIMIT_ALL.sub("LIMIT ALL", text)
    if first not in ("INSERT", "REPLACE"):
        return Statement(text, "query")
    table = _insert_table(significant)
    returning = any(t.upper == "RETURNING" for t in significant)
    text = text + conflict
    if not returning and table is not None and schema.has_id(table):
        return Statement(text + " RETURNING id", "insert", returns_id=True)
    return Statement(text, "insert")


_LIMIT_PARAM = re.compile(r"\bLIMIT\s+%s", re.IGNORECASE)
_LIMIT_ALL = re.compile(r"\bLIMIT\s+-1\b", re.IGNORECASE)


def _insert_table(significant: Sequence[Token]) -> str | None:
    for i, token in enumerate(significant[:-1]):
        if token.upper == "INTO":
            return significant[i + 1].text.strip('"').lower()
    return None


def _insert_conflict(items: list[Token], schema: Schema) -> tuple[list[Token], str]:
    """``INSERT OR IGNORE`` / ``INSERT OR REPLACE``: drop the SQLite words, return the ``ON
    CONFLICT`` clause to append."""
    sig = _significant(items)
    words = [items[i].upper for i in sig[:3]]
    if words[0] == "REPLACE":
        raise UntranslatableError("REPLACE INTO: write INSERT OR REPLACE INTO")
    if words[:2] != ["INSERT", "OR"] or len(words) < 3:
        return items, ""
    mode = words[2]
    # Drop "OR", the mode and the space after each.
    drop = {sig[1], sig[1] + 1, sig[2], sig[2] + 1}
    kept = [t for i, t in enumerate(items) if i not in drop]
    if mode == "IGNORE":
        return kept, " ON CONFLICT DO NOTHING"
    if mode != "REPLACE":
        raise UntranslatableError(f"INSERT OR {mode} has no PostgreSQL form here")
    significant = [t for t in kept if t.kind not in ("space", "comment")]
    table_name = _insert_table(significant)
    table = schema.tables.get(table_name or "")
    if table is None or not table.primary_key:
        raise UntranslatableError(f"INSERT OR REPLACE into {table_name!r}: no primary key known")
    columns = _insert_columns(significant) or list(table.columns)
    updates = [c for c in columns if c not in table.primary_key]
    target = ", ".join(table.primary_key)
    if not updates:
        return kept, f" ON CONFLICT ({target}) DO NOTHING"
    assignments = ", ".join(f"{c} = EXCLUDED.{c}" for c in updates)
    return kept, f" ON CONFLICT ({target}) DO UPDATE SET {assignments}"


def _insert_columns(significant: Sequence[Token]) -> list[str]:
    """The column list of ``INSERT INTO t (a, b) …``, if it has one."""
    for i, token in enumerate(significant[:-2]):
        if token.upper == "INTO":
            if significant[i + 2].text != "(":
                return []
            names: list[str] = []
            for item in significant[i + 3 :]:
                if item.text == ")":
                    return names
                if item.kind in ("word", "quoted"):
                    names.append(item.text.strip('"').lower())
    return []


_RENAMED = {"IFNULL": "coalesce", "INSTR": "strpos"}


def _functions(items: list[Token]) -> list[Token]:
    """SQLite functions PostgreSQL spells differently."""
    out: list[Token] = []
    i = 0
    while i < len(items):
        token = items[i]
        nxt = _next_significant(items, i)
        is_call = nxt is not None and items[nxt].text == "("
        if token.kind == "word" and is_call and token.upper in ("MAX", "MIN"):
            assert nxt is not None
            if _top_level_commas(items, nxt) >= 1:
                out.append(Token("word", "greatest" if token.upper == "MAX" else "least"))
                i += 1
                continue
        if token.kind == "word" and is_call and token.upper in _RENAMED:
            out.append(Token("word", _RENAMED[token.upper]))
            i += 1
            continue
        if token.kind == "word" and is_call and token.upper == "GROUP_CONCAT":
            assert nxt is not None
            end = _closing(items, nxt)
            args = _split_args(items[nxt + 1 : end])
            separator = "".join(t.text for t in args[1]) if len(args) > 1 else "','"
            inner = "".join(t.text for t in _functions(args[0]))
            out.extend(tokens(f"string_agg(CAST({inner} AS TEXT), {separator})"))
            i = end + 1
            continue
        out.append(token)
        i += 1
    return out


def _next_significant(items: Sequence[Token], i: int) -> int | None:
    for j in range(i + 1, len(items)):
        if items[j].kind not in ("space", "comment"):
            return j
    return None


def _closing(items: Sequence[Token], open_index: int) -> int:
    depth = 0
    for j in range(open_index, len(items)):
        if items[j].text == "(":
            depth += 1
        elif items[j].text == ")":
            depth -= 1
            if depth == 0:
                return j
    raise UntranslatableError("unbalanced parentheses")


def _top_level_commas(items: Sequence[Token], open_index: int) -> int:
    end = _closing(items, open_index)
    return len(_split_args(items[open_index + 1 : end])) - 1


def _split_args(items: Sequence[Token]) -> list[list[Token]]:
    args: list[list[Token]] = [[]]
    depth = 0
    for token in items:
        if token.text == "(":
            depth += 1
        elif token.text == ")":
            depth -= 1
        if token.text == "," and depth == 0:
            args.append([])
        else:
            args[-1].append(token)
    return args


# -- migrations -------------------------------------------------------------------------

_TYPES = {"INTEGER": "BIGINT", "INT": "BIGINT", "REAL": "DOUBLE PRECISION", "BLOB": "BYTEA",
          "TEXT": 'TEXT COLLATE "C"', "NUMERIC": "NUMERIC", "BOOLEAN": "BOOLEAN"}
_TABLE_CONSTRAINTS = {"PRIMARY", "UNIQUE", "CHECK", "FOREIGN", "CONSTRAINT"}


def translate_migration(sql: str) -> list[str]:
    """One SQLite migration statement as PostgreSQL statements (possibly none)."""
    items = tokens(sql.strip().rstrip(";"))
    sig = [items[i] for i in _significant(items)]
    words = [t.upper for t in sig[:4]]
    if words[:2] == ["CREATE", "TABLE"]:
        return _create_table(items)
    if words[:3] == ["CREATE", "VIRTUAL", "TABLE"]:
        return _virtual_table(sig)
    if words[:2] == ["CREATE", "TRIGGER"]:
        return _trigger(sig)
    if words[:2] in (["CREATE", "INDEX"], ["CREATE", "UNIQUE"]) or words[0] in (
            "DROP", "ALTER", "INSERT", "UPDATE", "DELETE"):
        return [translate(sql, Schema()).sql.replace("%%", "%")]
    raise UntranslatableError(f"no PostgreSQL translation for migration statement: {sql[:80]}")


def _create_table(items: list[Token]) -> list[str]:
    sig_index = _significant(items)
    name_at = sig_index[2]
    if items[name_at].upper == "IF":  # CREATE TABLE IF NOT EXISTS name
        name_at = sig_index[5]
    table = items[name_at].text.strip('"').lower()
    open_at = next(i for i in sig_index if i > name_at and items[i].text == "(")
    close_at = _closing(items, open_at)
    parts = []
    for definition in _split_args(items[open_at + 1 : close_at]):
        parts.append(_column(table, definition))
    body = ",\n    ".join(parts)
    statements = [f"CREATE TABLE {table} (\n    {body}\n)"]  # WITHOUT ROWID etc. dropped
    statements.extend(EXTRA_INDEXES.get(table, ()))
    return statements


def _column(table: str, definition: list[Token]) -> str:
    sig = [t for t in definition if t.kind not in ("space", "comment")]
    text = "".join(t.text for t in definition).strip()
    if not sig or sig[0].upper in _TABLE_CONSTRAINTS:
        return text
    name = sig[0].text.strip('"').lower()
    rest_words = [t.upper for t in sig[1:]]
    type_word = rest_words[0] if rest_words and sig[1].kind == "word" else ""
    is_type = type_word in _TYPES
    pg_type = COLUMN_TYPES.get((table, name)) or (_TYPES[type_word] if is_type else "")
    after = sig[2:] if is_type else sig[1:]
    after_words = [t.upper for t in after]
    references = "REFERENCES" in after_words
    primary = "PRIMARY" in after_words
    if type_word == "INTEGER" and primary and not references:
        # SQLite's rowid alias: ids given by the database (AUTOINCREMENT: never reused,
        # which a sequence never does anyway).
        pg_type = "BIGINT GENERATED BY DEFAULT AS IDENTITY"
    kept = [t for t in after if t.upper != "AUTOINCREMENT"]
    rest = " ".join(t.text for t in kept)
    rest = rest.replace("( ", "(").replace(" )", ")").replace(" ,", ",")
    return f"{name} {pg_type} {rest}".strip()


def _virtual_table(sig: list[Token]) -> list[str]:
    table = sig[3].text.strip('"').lower()
    module = sig[5].upper
    if module == "FTS5VOCAB":
        return []  # term counts come from the tsvector index (os1.memory.store)
    if module != "FTS5":
        raise UntranslatableError(f"virtual table module {module} has no PostgreSQL form")
    open_at = 6
    close_at = _closing(sig, open_at)
    columns = [a[0].text.lower() for a in _split_args(sig[open_at + 1 : close_at])
               if a and not any(t.text == "=" for t in a)]
    text_columns = ", ".join(f'{c} TEXT COLLATE "C" NOT NULL' for c in columns)
    document = " || ' ' || ".join(columns)
    return [
        f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, {text_columns}, "
        f"search tsvector GENERATED ALWAYS AS "
        f"(to_tsvector('{TEXT_SEARCH_CONFIG}', {document})) STORED)",
        f"CREATE INDEX {table}_search ON {table} USING gin (search)",
    ]


_DELETE_BY_ROWID = re.compile(
    r"DELETE FROM (\w+) WHERE rowid = old\.(\w+)$", re.IGNORECASE)


def _trigger(sig: list[Token]) -> list[str]:
    """Only the one shape os1 uses: after deleting a row, delete the keyword rows keyed by
    its id. On PostgreSQL that is a cascading foreign key."""
    words = [t.upper for t in sig]
    try:
        begin = words.index("BEGIN")
        on = words.index("ON")
    except ValueError:
        raise UntranslatableError("a trigger without ON … BEGIN") from None
    if words[3:5] != ["AFTER", "DELETE"] or on != 5:
        raise UntranslatableError("only AFTER DELETE triggers translate to PostgreSQL")
    parent = sig[6].text.lower()
    body = " ".join(t.text for t in sig[begin + 1 : -1])
    out = []
    for statement in (s.strip() for s in body.split(";")):
        if not statement:
            continue
        statement = re.sub(r"\s*\.\s*", ".", re.sub(r"\s+", " ", statement))
        match = _DELETE_BY_ROWID.match(statement)
        if match is None:
            raise UntranslatableError(f"trigger statement has no PostgreSQL form: {statement}")
        child, column = match.group(1).lower(), match.group(2).lower()
        out.append(f"ALTER TABLE {child} ADD FOREIGN KEY (id) REFERENCES {parent} ({column}) "
                   "ON DELETE CASCADE")
    return out


def policy_statements(table: str, columns: Sequence[str],
                      references: Mapping[str, tuple[str, str]],
                      secured: set[str]) -> list[str]:
    """Row-level security for one table: a request scoped to a user sees and writes only that
    user's rows; unscoped work (see os1.store.postgres) sees all. ``references``: column →
    (table, column) of its foreign keys; a table without ``user_id`` is secured through a
    reference to a table that is (memory_sources, the keyword tables)."""
    scope = "nullif(current_setting('os1.user_id', true), '')::bigint"
    everyone = "current_setting('os1.all_users', true) = 'on'"
    if table == "users":
        rule = f"id = {scope}"
    elif "user_id" in columns:
        rule = f"user_id = {scope}"
    else:
        via = [(column, parent, key) for column, (parent, key) in sorted(references.items())
               if parent in secured]
        if not via:
            return []
        column, parent, key = via[0]
        rule = f"EXISTS (SELECT 1 FROM {parent} p WHERE p.{key} = {table}.{column})"
    statements = [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        # The cheap test first: PostgreSQL evaluates OR's arms in order, and for unscoped
        # work the rule (a subquery for the keyword tables) need not run at all.
        f"CREATE POLICY {table}_by_user ON {table} USING ({everyone} OR {rule}) "
        f"WITH CHECK ({everyone} OR {rule})",
    ]
    if table == "users":
        # Creating a user reveals nothing: `Store.user(name)` may run inside a request.
        statements.append(f"CREATE POLICY {table}_create ON {table} FOR INSERT WITH CHECK (true)")
    return statements
