"""Engines, sessions and schema management for the shop database.

One engine per URL per process: engines own connection pools, and building one per request would defeat
them. SQLite gets the pragmas that make it a safe local default (foreign keys, WAL, a busy timeout);
PostgreSQL gets a short connect timeout so an outage surfaces in seconds instead of hanging a dialogue.
"""

from __future__ import annotations

import logging
import os
import threading

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Engine, create_engine, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from shop.config import database_url
from shop.models import Base

logger = logging.getLogger(__name__)

#: Seconds PostgreSQL may take to accept a connection (``SHOP_DB_CONNECT_TIMEOUT``).
CONNECT_TIMEOUT_S = int(os.environ.get("SHOP_DB_CONNECT_TIMEOUT", "3"))
#: Milliseconds a SQLite writer waits for another writer before giving up.
SQLITE_BUSY_TIMEOUT_MS = 5000

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _set_sqlite_pragmas(dbapi_connection, _record) -> None:  # noqa: ANN001 - DBAPI objects are untyped
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _build_engine(url: str) -> Engine:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        in_memory = parsed.database in (None, "", ":memory:")
        kwargs: dict = {
            "connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        }
        if in_memory:
            kwargs["poolclass"] = StaticPool  # one shared connection, or every session sees an empty db
        engine = create_engine(url, future=True, **kwargs)
        event.listen(engine, "connect", _set_sqlite_pragmas)
        return engine
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_S} if backend == "postgresql" else {}
    return create_engine(url, future=True, pool_pre_ping=True, connect_args=connect_args)


def get_engine(url: str | None = None) -> Engine:
    """Return the process-wide engine for ``url`` (resolved with :func:`shop.config.database_url`)."""
    resolved = database_url(url)
    with _lock:
        engine = _engines.get(resolved)
        if engine is None:
            engine = _engines[resolved] = _build_engine(resolved)
        return engine


def dispose_engine(url: str | None = None) -> None:
    """Close the pooled connections of one URL's engine and forget it (tests, dropping a database)."""
    resolved = database_url(url)
    with _lock:
        engine = _engines.pop(resolved, None)
    if engine is not None:
        engine.dispose()


def session_factory(engine: Engine) -> sessionmaker:
    """Session factory in 2.0 style; objects stay readable after commit so results can be built late."""
    return sessionmaker(bind=engine, class_=Session, future=True, expire_on_commit=False)


def create_schema(engine: Engine) -> None:
    """Create the shop tables that do not exist yet (other tables in the database are left alone), and add
    the nullable columns a newer release added to an existing table (see :func:`add_missing_columns`)."""
    Base.metadata.create_all(engine)
    add_missing_columns(engine)


def add_missing_columns(engine: Engine) -> list[str]:
    """Add to existing shop tables the columns the models have and the database lacks, when the column is
    nullable (``ALTER TABLE ... ADD COLUMN`` is then safe on SQLite and PostgreSQL, and old rows read NULL).

    A database seeded by an earlier release thus keeps working after an upgrade (``shopassist seed`` and
    ``make demo`` run this); a missing NOT NULL column cannot be added without a value and is only logged
    (``shopassist seed --reset`` rebuilds the database). Returns the ``table.column`` names added."""
    existing_tables = set(inspect(engine).get_table_names())
    added: list[str] = []
    for table in Base.metadata.sorted_tables:
        if table.name not in existing_tables:
            continue
        present = {column["name"] for column in inspect(engine).get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            if not column.nullable or column.primary_key:
                logger.warning("shop table %s lacks column %s; reseed with --reset", table.name, column.name)
                continue
            column_type = column.type.compile(dialect=engine.dialect)
            with engine.begin() as conn:  # names and types come from the models, never from input
                conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {column_type}"))
            added.append(f"{table.name}.{column.name}")
    if added:
        logger.info("added columns to the shop database: %s", ", ".join(added))
    return added


def drop_schema(engine: Engine) -> None:
    """Drop the shop tables only; a shared database (e.g. Rasa's tracker store) keeps its own tables."""
    Base.metadata.drop_all(engine)
