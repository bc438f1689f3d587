"""Opening the database: one URL, SQLite (WAL, one writer) or PostgreSQL, migrated by Alembic."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).parent / "migrations"


def normalize_url(url: str) -> str:
    """Pick the driver we ship for a database URL.

    >>> normalize_url("postgresql://u@h/db")
    'postgresql+psycopg://u@h/db'
    >>> normalize_url("sqlite:////tmp/x.db")
    'sqlite:////tmp/x.db'
    """
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA page_size=16384")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA cache_size=-16384")
    cur.close()


def _sqlite_durable(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


def open_engine(url: str, *, durable: bool = False, pool_size: int | None = None,
                max_overflow: int | None = None, prepared_statements: bool = True) -> Engine:
    """An engine for ``url``; SQLite connections get WAL and foreign keys.

    ``durable``: every commit is on disk before it returns, power cut included (SQLite
    synchronous=FULL; PostgreSQL always is).  The server answers 250 to a mail server only
    after such a commit; an import, which can simply be run again, does without.

    ``pool_size`` / ``max_overflow`` (settings ``db_pool_size``, ``db_max_overflow``): each
    process's pool; None keeps the defaults below.  ``prepared_statements=False`` stops psycopg
    from preparing statements on the server, which a PgBouncer older than 1.21 in transaction
    mode cannot follow (the next transaction may run on another server connection)."""
    url = normalize_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        # Enough pooled connections for the server's threads (LMTP look-ups, web, indexer):
        # an overflow connection is thrown away after use, and opening one runs the pragmas.
        engine = create_engine(url, connect_args={"timeout": 30},
                               pool_size=20 if pool_size is None else pool_size,
                               max_overflow=20 if max_overflow is None else max_overflow)
        event.listen(engine, "connect", _sqlite_pragmas)
        if durable:
            event.listen(engine, "connect", _sqlite_durable)
        return engine
    connect_args = {} if prepared_statements else {"prepare_threshold": None}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args,
                         pool_size=5 if pool_size is None else pool_size,
                         max_overflow=10 if max_overflow is None else max_overflow)


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A transaction for work that reads and then writes what it read (archiving a post: the
    thread's count, the Message-IDs known).

    On SQLite it takes the database's write lock at its start (``BEGIN IMMEDIATE``): pysqlite
    otherwise begins a transaction only at the first write, so the reads before it could see
    a state another process (``moot import``, a pipe delivery beside ``moot serve``) changes
    before this one writes, and a thread would be miscounted.  Other writers wait for the lock
    (busy_timeout); readers never do (WAL).  On PostgreSQL a plain transaction: the archive
    locks the rows it updates.
    """
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn


# The newest migration's revision.  Checking it needs one query, not Alembic: every command
# checks it at start-up.  A test keeps it equal to Alembic's head.
SCHEMA_HEAD = "0012"


def _alembic_config(engine: Engine) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (safe to run again)."""
    from alembic import command

    with engine.begin() as conn:
        cfg = _alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def alembic_head() -> str:
    from alembic.script import ScriptDirectory

    cfg = _alembic_config(None)  # type: ignore[arg-type]
    return str(ScriptDirectory.from_config(cfg).get_current_head())


def pending_migrations(engine: Engine) -> bool:
    """Whether the database is behind the code's newest migration."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return True
        current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return current != SCHEMA_HEAD
