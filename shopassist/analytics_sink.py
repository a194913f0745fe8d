"""`shopassist analytics-sink`: Rasa's event broker (RabbitMQ) into an analytics database.

With ``SHOPASSIST_EVENT_BROKER_URL`` set, the Rasa server publishes every tracker event to RabbitMQ
(:class:`rasa.core.brokers.pika.PikaEventBroker`, one JSON message per event, ``sender_id`` added). This
consumer stores them in an ``events`` table with the columns of Rasa's SQL tracker store (``sender_id``,
``type_name``, ``timestamp``, ``intent_name``, ``action_name``, ``data``), so ``shopassist report --db``
and ``shopassist review --db`` read the analytics database exactly like a tracker store, without putting
load on the database the live assistant writes to.

Why these choices:

* at-least-once and idempotent: messages are acknowledged only after their batch is committed, and every
  row carries ``event_key`` (SHA-256 of the message body) under a unique constraint, so a redelivered
  message after a crash is stored once;
* privacy: shopper text, entity values and string slot values are masked on the way in
  (:func:`shop.privacy.mask_personal_data`; e-mails as ``a***@example.com``), so the analytics database
  holds no raw e-mail addresses, phone or card numbers; ``shopassist erase`` deletes a conversation's rows
  here too (``--analytics-db``);
* a message that is not a Rasa event (not JSON, no ``sender_id`` or ``event``) is rejected without requeue
  (RabbitMQ dead-letters it when the queue has a dead-letter exchange) and counted, never retried forever.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import signal
import sys
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import sqlalchemy as sa

from shop.privacy import mask_email, mask_personal_data

logger = logging.getLogger(__name__)

BROKER_URL_ENV = "SHOPASSIST_EVENT_BROKER_URL"
ANALYTICS_DB_ENV = "SHOPASSIST_ANALYTICS_DB_URL"
DEFAULT_QUEUE = "shopassist_events"  # serving.stores' default queue
DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_BATCH_SIZE = 200
#: Seconds a partial batch may wait for more messages before it is written.
FLUSH_INTERVAL_S = 0.5
EMAIL_SLOTS = ("email", "follow_up_email")

METADATA = sa.MetaData()
ANALYTICS_EVENTS = sa.Table(
    "events",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("type_name", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.Float, index=True),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text),
    sa.Column("event_key", sa.String(64), nullable=False, unique=True),
)


class NotAnEvent(ValueError):
    """A broker message that is not a Rasa event."""


def analytics_db_url(url: Optional[str] = None) -> str:
    """``url``, else ``$SHOPASSIST_ANALYTICS_DB_URL``, else the SQLite file ``.state/analytics.db``."""
    from shop.config import resolve_database_url

    return resolve_database_url(url, ANALYTICS_DB_ENV, "analytics.db")


def create_analytics_schema(engine: sa.engine.Engine) -> None:
    METADATA.create_all(engine)


def _mask_value(name: Optional[str], value: Any) -> Any:
    if not isinstance(value, str):
        return value
    return mask_email(value) if name in EMAIL_SLOTS and "@" in value else mask_personal_data(value)


def mask_event(event: Dict[str, Any]) -> Dict[str, Any]:
    """A copy of a Rasa event dict with shopper text, entity values and string slot values masked."""
    masked = json.loads(json.dumps(event))
    if isinstance(masked.get("text"), str):
        masked["text"] = mask_personal_data(masked["text"])
    parse = masked.get("parse_data")
    if isinstance(parse, dict):
        if isinstance(parse.get("text"), str):
            parse["text"] = mask_personal_data(parse["text"])
        for entity in parse.get("entities") or []:
            if isinstance(entity, dict):
                entity["value"] = _mask_value(entity.get("entity"), entity.get("value"))
    if masked.get("event") == "slot":
        masked["value"] = _mask_value(masked.get("name"), masked.get("value"))
    return masked


def event_row(body: bytes, mask: bool = True) -> Dict[str, Any]:
    """The ``events`` row of one broker message (same columns as Rasa's ``SQLTrackerStore.save``)."""
    try:
        event = json.loads(body)
    except (TypeError, ValueError, UnicodeDecodeError) as error:
        raise NotAnEvent("not JSON") from error
    if not isinstance(event, dict) or not event.get("sender_id") or not event.get("event"):
        raise NotAnEvent("no sender_id or event type")
    sender_id = str(event.pop("sender_id"))[:255]
    if mask:
        event = mask_event(event)
    intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
    action = event.get("name")
    timestamp = event.get("timestamp")
    return {
        "sender_id": sender_id,
        "type_name": str(event["event"])[:255],
        "timestamp": float(timestamp) if isinstance(timestamp, (int, float)) else None,
        "intent_name": str(intent)[:255] if intent else None,
        "action_name": str(action)[:255] if isinstance(action, str) else None,
        "data": json.dumps(event),
        "event_key": hashlib.sha256(body).hexdigest(),
    }


def store_rows(engine: sa.engine.Engine, rows: Sequence[Dict[str, Any]]) -> int:
    """Insert rows in one transaction, skipping those already stored (by ``event_key``). Returns inserted."""
    if not rows:
        return 0
    unique = list({row["event_key"]: row for row in rows}.values())
    with engine.begin() as connection:
        keys = [row["event_key"] for row in unique]
        present = set(connection.execute(
            sa.select(ANALYTICS_EVENTS.c.event_key).where(ANALYTICS_EVENTS.c.event_key.in_(keys))).scalars())
        fresh = [row for row in unique if row["event_key"] not in present]
        if fresh:
            connection.execute(ANALYTICS_EVENTS.insert(), fresh)
    return len(fresh)


@dataclass
class SinkStats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0

    def describe(self) -> str:
        return (f"received {self.received} messages: stored {self.stored} events, {self.duplicates} already "
                f"stored, {self.rejected} rejected (not Rasa events)")


async def consume(broker_url: str, queue_name: str, db_url: str, *, idle_exit: Optional[float] = None,
                  max_events: Optional[int] = None, batch_size: int = DEFAULT_BATCH_SIZE, mask: bool = True,
                  stop: Optional[asyncio.Event] = None) -> SinkStats:
    """Consume *queue_name* into *db_url* until *stop* is set, the queue stays empty for *idle_exit*
    seconds, or *max_events* messages were handled."""
    import aio_pika

    engine = sa.create_engine(db_url)
    create_analytics_schema(engine)
    stats = SinkStats()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue = asyncio.Queue()
    connection = await aio_pika.connect_robust(broker_url)
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=2 * batch_size)  # the broker keeps sending while we write
        # Same arguments as Rasa's PikaEventBroker, so either side may declare the queue first.
        queue = await channel.declare_queue(queue_name, durable=True)
        tag = await queue.consume(inbox.put)
        idle = 0.0
        while not stop.is_set() and (max_events is None or stats.received < max_events):
            batch: List[Any] = []
            try:
                batch.append(await asyncio.wait_for(inbox.get(), timeout=FLUSH_INTERVAL_S))
            except asyncio.TimeoutError:
                idle += FLUSH_INTERVAL_S
                if idle_exit is not None and idle >= idle_exit:
                    break
                continue
            idle = 0.0
            limit = batch_size if max_events is None else min(batch_size, max_events - stats.received)
            deadline = loop.time() + FLUSH_INTERVAL_S
            while len(batch) < limit:
                if not inbox.empty():
                    batch.append(inbox.get_nowait())
                    continue
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(inbox.get(), timeout=remaining))
                except asyncio.TimeoutError:
                    break
            await _handle_batch(engine, batch, stats, mask)
        await queue.cancel(tag)
        while not inbox.empty():  # prefetched but not handled: back to the queue for the next run
            await inbox.get_nowait().reject(requeue=True)
    finally:
        await connection.close()
        engine.dispose()
    return stats


async def _handle_batch(engine: sa.engine.Engine, batch: List[Any], stats: SinkStats, mask: bool) -> None:
    rows, good = [], []
    for message in batch:
        stats.received += 1
        try:
            rows.append(event_row(message.body, mask=mask))
            good.append(message)
        except NotAnEvent as error:
            stats.rejected += 1
            logger.warning("rejected a broker message that is not a Rasa event (%s)", error)
            await message.reject(requeue=False)
    # A database error propagates before any ack: the messages stay in the queue for the next run.
    inserted = await asyncio.get_running_loop().run_in_executor(None, store_rows, engine, rows)
    stats.stored += inserted
    stats.duplicates += len(rows) - inserted
    if good:  # deliveries arrive in tag order: one ack covers this batch and nothing newer
        await good[-1].ack(multiple=True)


# -- command line ----------------------------------------------------------------------------------------
def add_arguments(parser: Any) -> None:
    parser.add_argument("--broker", metavar="URL",
                        help=f"RabbitMQ URL (default: ${BROKER_URL_ENV}, else {DEFAULT_BROKER_URL})")
    parser.add_argument("--queue", default=DEFAULT_QUEUE, help="queue to consume (default: %(default)s)")
    parser.add_argument("--db", metavar="URL",
                        help=f"analytics database (default: ${ANALYTICS_DB_ENV}, else .state/analytics.db)")
    parser.add_argument("--idle-exit", type=float, metavar="SECONDS",
                        help="stop once the queue stayed empty this long (default: run until stopped)")
    parser.add_argument("--max-events", type=int, metavar="N", help="stop after N messages")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                        help="events per transaction (default: %(default)s)")
    parser.add_argument("--no-mask", action="store_true",
                        help="store shopper text unmasked (a database as protected as the tracker store)")


def run(args: Any) -> int:
    """Handler of `shopassist analytics-sink`."""
    from aio_pika.exceptions import AMQPConnectionError

    from serving.settings import mask_url

    broker = args.broker or os.environ.get(BROKER_URL_ENV, "").strip() or DEFAULT_BROKER_URL
    db_url = analytics_db_url(args.db)
    if args.batch_size < 1 or (args.max_events is not None and args.max_events < 1):
        print("error: --batch-size and --max-events must be positive", file=sys.stderr)
        return 2

    async def main() -> SinkStats:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        return await consume(broker, args.queue, db_url, idle_exit=args.idle_exit, max_events=args.max_events,
                             batch_size=args.batch_size, mask=not args.no_mask, stop=stop)

    print(f"consuming {args.queue} at {mask_url(broker)} into {mask_url(db_url)} (Ctrl-C stops)",
          file=sys.stderr)
    try:
        stats = asyncio.run(main())
    except (OSError, ConnectionError, AMQPConnectionError) as error:
        print(f"error: RabbitMQ at {mask_url(broker)} cannot be reached ({error})", file=sys.stderr)
        return 2
    except sa.exc.SQLAlchemyError as error:
        print(f"error: the analytics database cannot be written ({type(error).__name__}); unacknowledged "
              "messages stay in the queue", file=sys.stderr)
        return 2
    print(stats.describe())
    return 0
