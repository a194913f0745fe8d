"""Helpers shared by the report, review and privacy tests: real Rasa trackers in real stores.

Conversations are written through Rasa's own ``SQLTrackerStore`` (SQLite file or a PostgreSQL database
created for the test), so the tests read exactly the rows a Rasa server would have written. Services
that are absent skip the test, except under ``CI=true`` where they fail it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import pytest

from tests.ci import skip_or_fail

PG_HOST = os.environ.get("SHOP_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("SHOP_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("SHOP_TEST_PG_USER", "postgres")
RABBIT_URL = os.environ.get("SHOPASSIST_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")

# A turn: (text, intent, confidence, emotion, extra events after the bot's reaction[, intent ranking]);
# extra events are ("action", name, metadata), ("slot", name, value) or ("event", <a Rasa event>, None).
Turn = Tuple[Any, ...]


def conversation_events(start: float, turns: Sequence[Turn]) -> List[Any]:
    """Rasa events of one conversation: session start, then per turn the user message, extras, a reply."""
    from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered

    ts = start
    events: List[Any] = [ActionExecuted("action_session_start", timestamp=ts), SessionStarted(timestamp=ts),
                         ActionExecuted("action_listen", timestamp=ts)]
    for text, intent, confidence, emotion, extra, *rest in turns:
        ts += 5
        parse: Dict[str, Any] = {"text": text, "intent": {"name": intent, "confidence": confidence},
                                 "emotion": {"name": emotion, "confidence": 0.8}, "entities": []}
        if rest:
            parse["intent_ranking"] = [{"name": name, "confidence": conf} for name, conf in rest[0]]
        events.append(UserUttered(text, intent=parse["intent"], parse_data=parse, timestamp=ts))
        for kind, name, value in extra:
            ts += 1
            if kind == "slot":
                events.append(SlotSet(name, value, timestamp=ts))
            elif kind == "event":
                name.timestamp = ts
                events.append(name)
            else:
                events.append(ActionExecuted(name, metadata=value, timestamp=ts))
        ts += 1
        events += [BotUttered("ok", timestamp=ts), ActionExecuted("action_listen", timestamp=ts)]
    return events


def store_domain() -> Any:
    from rasa.shared.core.domain import Domain

    slots = {name: {"type": "text", "mappings": [{"type": "custom"}]} for name in ("handoff_reason", "email")}
    return Domain.from_dict({"slots": slots, "intents": ["greet"]})


async def save_conversations(store: Any, conversations: Dict[str, Tuple[float, Sequence[Turn]]],
                             domain: Any) -> None:
    from rasa.shared.core.trackers import DialogueStateTracker

    for sender_id, (start, turns) in conversations.items():
        tracker = DialogueStateTracker.from_events(sender_id, conversation_events(start, turns),
                                                   slots=domain.slots)
        await store.save(tracker)


def fill_sqlite_events(path: Any, trackers: Dict[str, Sequence[Any]]) -> str:
    """Write each sender's Rasa events as they are (several sessions, restarts) into a SQLite tracker store
    at *path*; returns its SQLAlchemy URL."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = store_domain()
    store = SQLTrackerStore(domain, dialect="sqlite", db=str(path))

    async def save() -> None:
        for sender_id, events in trackers.items():
            await store.save(DialogueStateTracker.from_events(sender_id, list(events), slots=domain.slots))

    try:
        asyncio.run(save())
    finally:
        store.engine.dispose()
    return f"sqlite:///{path}"


def fill_sqlite(path: Any, conversations: Dict[str, Tuple[float, Sequence[Turn]]]) -> str:
    """Write *conversations* into a SQLite tracker store at *path*; returns its SQLAlchemy URL."""
    from rasa.core.tracker_store import SQLTrackerStore

    domain = store_domain()
    store = SQLTrackerStore(domain, dialect="sqlite", db=str(path))
    try:
        asyncio.run(save_conversations(store, conversations, domain))
    finally:
        store.engine.dispose()
    return f"sqlite:///{path}"


def _pg_admin() -> Any:
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        connection = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres",
                                      connect_timeout=3)
    except psycopg2.OperationalError as error:
        skip_or_fail(f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT} as {PG_USER}: {str(error).strip()}")
    connection.autocommit = True
    return connection


@contextlib.contextmanager
def postgres_database(prefix: str) -> Iterator[Tuple[str, str]]:
    """A fresh PostgreSQL database ``<prefix>_<random>``, dropped afterwards: yields (name, URL)."""
    admin = _pg_admin()
    name = f"{prefix}_{secrets.token_hex(4)}"
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')  # generated name, not input
        try:
            yield name, f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
        finally:
            with admin.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        admin.close()


def fill_postgres(name: str, conversations: Dict[str, Tuple[float, Sequence[Turn]]]) -> None:
    """Write *conversations* through Rasa's SQLTrackerStore into the PostgreSQL database *name*."""
    from rasa.core.tracker_store import SQLTrackerStore

    domain = store_domain()
    store = SQLTrackerStore(domain, dialect="postgresql", host=PG_HOST, port=PG_PORT, db=name,
                            username=PG_USER)
    try:
        asyncio.run(save_conversations(store, conversations, domain))
    finally:
        store.engine.dispose()


def rabbitmq_or_skip(url: Optional[str] = None) -> str:
    """The RabbitMQ URL when a broker answers there; otherwise skip (fail under CI=true)."""
    import aio_pika

    target = url or RABBIT_URL

    async def probe() -> None:
        connection = await aio_pika.connect(target, timeout=3)
        await connection.close()

    try:
        asyncio.run(probe())
    except Exception as error:  # noqa: BLE001 - any failure means "no usable broker"
        skip_or_fail(f"RabbitMQ not reachable at {target}: {type(error).__name__}: {error}")
    return target
