"""`shopassist report` on the other sources it supports: a PostgreSQL tracker store, and the analytics
database that `shopassist analytics-sink` fills from Rasa's RabbitMQ event broker.

Both must give exactly the figures of the SQLite tracker store holding the same conversations.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date
from typing import Any, Dict

import pytest
import sqlalchemy as sa

from shopassist.analytics_sink import ANALYTICS_EVENTS, consume
from shopassist.cli import main as cli_main
from shopassist.report import Report, build_report
from tests.report.conftest import CONVERSATIONS
from tests.report.trackers import (
    fill_postgres,
    postgres_database,
    rabbitmq_or_skip,
    save_conversations,
    store_domain,
)

pytestmark = pytest.mark.integration


def figures(report: Report) -> Dict[str, Any]:
    """Every aggregate of a report as plain values (confidences rounded: float sums differ in order)."""
    return {
        "conversations": report.conversations, "handed_off": report.handed_off,
        "user_turns": report.user_turns, "fallback_turns": report.fallback_turns,
        "with_fallback": report.conversations_with_fallback, "per_day": dict(report.per_day),
        "reasons": dict(report.handoff_reasons), "intents": dict(report.intents),
        "confidence": {k: round(v, 6) for k, v in report.confidence_sum.items()},
        "histogram": report.confidence_hist, "emotions": dict(report.emotions),
        "turns": sorted(report.turns_to_resolution), "not_understood": dict(report.not_understood),
    }


def test_report_on_postgresql_matches_sqlite(tracker_db: str) -> None:
    with postgres_database("shopassist_test_report") as (name, url):
        fill_postgres(name, CONVERSATIONS)
        for since, until in ((None, None), (date(2026, 11, 1), date(2026, 11, 1)), (date(2026, 11, 2), None)):
            on_postgres, on_sqlite = build_report(url, since, until), build_report(tracker_db, since, until)
            assert figures(on_postgres) == figures(on_sqlite)
        everything = build_report(url)
        assert (everything.conversations, everything.handed_off, everything.fallback_turns) == (7, 2, 4)
        assert dict(everything.handoff_reasons) == {"anger_sustained": 1, "fraud": 1}


# -- the event broker route ------------------------------------------------------------------------------
async def _publish_through_rasa(amqp_url: str, queue: str, tracker_path: str) -> int:
    """Save the conversations into a SQLite tracker store with Rasa's PikaEventBroker attached (as a Rasa
    server does) and wait until RabbitMQ holds every event. Returns the number of events."""
    import aio_pika
    from rasa.core.brokers.pika import PikaEventBroker
    from rasa.core.tracker_store import SQLTrackerStore

    broker = PikaEventBroker(amqp_url, "guest", "guest", queues=[queue], exchange_name=queue,
                             event_loop=asyncio.get_running_loop(), connection_attempts=1,
                             raise_on_failure=True)
    await broker.connect()
    domain = store_domain()
    store = SQLTrackerStore(domain, dialect="sqlite", db=tracker_path, event_broker=broker)
    try:
        await save_conversations(store, CONVERSATIONS, domain)
        with store.engine.connect() as connection:
            expected = connection.execute(sa.text("SELECT count(*) FROM events")).scalar_one()
    finally:
        store.engine.dispose()
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        for _ in range(100):
            declared = await channel.declare_queue(queue, passive=True)
            if declared.declaration_result.message_count >= expected:
                break
            await asyncio.sleep(0.1)
        assert declared.declaration_result.message_count == expected
    finally:
        await connection.close()
        await broker.close()
    return int(expected)


async def _publish_raw(amqp_url: str, queue: str, bodies: list) -> None:
    import aio_pika

    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        for body in bodies:
            await channel.default_exchange.publish(aio_pika.Message(body), routing_key=queue)
    finally:
        await connection.close()


async def _delete_queue(amqp_url: str, queue: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        await channel.queue_delete(queue)
        await channel.exchange_delete(queue)
    finally:
        await connection.close()


def test_analytics_sink_from_rabbitmq_gives_the_same_report(tmp_path, capsys) -> None:
    amqp_url = rabbitmq_or_skip()
    queue = f"shopassist_test_{uuid.uuid4().hex[:12]}"
    tracker_path = tmp_path / "tracker.db"
    sink_url = f"sqlite:///{tmp_path / 'analytics.db'}"
    try:
        published = asyncio.run(_publish_through_rasa(amqp_url, queue, str(tracker_path)))
        stats = asyncio.run(consume(amqp_url, queue, sink_url, idle_exit=1.0, batch_size=7))
        assert (stats.received, stats.stored) == (published, published)
        assert (stats.duplicates, stats.rejected) == (0, 0)

        from_tracker, from_sink = build_report(f"sqlite:///{tracker_path}"), build_report(sink_url)
        assert from_tracker.conversations == 7 and from_tracker.handed_off == 2
        assert figures(from_sink) == figures(from_tracker)

        engine = sa.create_engine(sink_url)
        with engine.connect() as connection:
            data = " ".join(connection.execute(sa.select(ANALYTICS_EVENTS.c.data)).scalars())
        engine.dispose()
        assert "alex.morgan@example.com" not in data and "a***@example.com" in data  # masked on the way in

        # A redelivered event is stored once; a message that is not a Rasa event is rejected, not retried.
        event = {"sender_id": "late", "event": "user", "timestamp": 1.0e9, "text": "hi",
                 "parse_data": {"intent": {"name": "greet", "confidence": 0.9}}}
        body = json.dumps(event).encode()
        asyncio.run(_publish_raw(amqp_url, queue, [body, body, b"not json", b'{"event": "user"}']))
        code = cli_main(["analytics-sink", "--broker", amqp_url, "--queue", queue, "--db", sink_url,
                         "--idle-exit", "1"])
        assert code == 0
        assert "received 4 messages: stored 1 events, 1 already stored, 2 rejected" in capsys.readouterr().out
        assert build_report(sink_url).conversations == 8
    finally:
        asyncio.run(_delete_queue(amqp_url, queue))
