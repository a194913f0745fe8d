"""Tracker store, lock store and event broker chosen by environment variables.

``endpoints.yml`` names these classes by module path (Rasa 3.6 loads a custom ``type`` with
``class_from_module_path``). Each reads one ``SHOPASSIST_*`` variable and otherwise keeps the zero-setup
default, so the same ``endpoints.yml`` serves ``make demo`` on a laptop and a replicated production
deployment:

================================  ==================================  ==================================
variable                          unset (laptop)                      production example
================================  ==================================  ==================================
``SHOPASSIST_TRACKER_STORE_URL``  ``sqlite:///.state/tracker.db``     ``postgresql://rasa:…@db/rasa``
``SHOPASSIST_LOCK_STORE_URL``     in-memory lock store                ``redis://redis:6379/1``
``SHOPASSIST_LOCK_STORE_PREFIX``  ``shopassist``                      one per assistant sharing Redis
``SHOPASSIST_EVENT_BROKER_URL``   no event broker                     ``amqp://user:…@rabbitmq:5672/``
``SHOPASSIST_EVENT_BROKER_QUEUES`` ``shopassist_events``              comma-separated queue names
================================  ==================================  ==================================

Why our own loading errors: when a custom tracker store raises ``ImportError`` or ``AttributeError``
while it is built, Rasa logs a warning and silently keeps conversations **in memory**; a missing
database driver would lose every conversation at the next restart. These classes turn such errors, and
malformed URLs, into :class:`ServingConfigError`, which stops the server with a message naming the
variable (passwords masked).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Mapping, Optional
from urllib.parse import SplitResult, unquote, urlsplit

from rasa.core.brokers.broker import EventBroker
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, InMemoryLockStore, LockStore, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.utils.endpoints import EndpointConfig

from serving.atomic_lock import AtomicRedisLockStore
from serving.settings import (
    AMQP_SCHEMES,
    DEFAULT_LOCK_STORE_PREFIX,
    EVENT_BROKER_URL_ENV,
    LOCK_STORE_PREFIX_ENV,
    LOCK_STORE_URL_ENV,
    REDIS_SCHEMES,
    SANIC_WORKERS_ENV,
    TRACKER_STORE_URL_ENV,
    ServingConfigError,
    event_broker_queues,
    mask_url,
    tracker_store_url,
)

logger = logging.getLogger(__name__)

def _ensure_sqlite_folder(url: str) -> None:
    """SQLite creates the file but not its folder (``.state/`` on a fresh checkout)."""
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


class EnvTrackerStore(SQLTrackerStore):
    """Rasa's SQL tracker store on the database named by ``$SHOPASSIST_TRACKER_STORE_URL``.

    SQLite (default) and PostgreSQL are the tested dialects; any SQLAlchemy URL whose driver is
    installed works. Like Rasa's store, it waits for a database that is still starting (retrying every
    5 s), which is what a container started next to its database needs.
    """

    def __init__(
        self,
        domain: Optional[Domain] = None,
        host: Optional[str] = None,
        event_broker: Optional[EventBroker] = None,
        **kwargs: Any,
    ) -> None:
        if host:
            raise ServingConfigError(
                "tracker_store: remove `url:` from endpoints.yml; EnvTrackerStore reads "
                f"{TRACKER_STORE_URL_ENV} instead."
            )
        url = tracker_store_url()
        _ensure_sqlite_folder(url)
        try:
            super().__init__(domain=domain, host=url, event_broker=event_broker, **kwargs)
        except (ImportError, AttributeError) as error:
            raise ServingConfigError(
                f"the tracker store at {TRACKER_STORE_URL_ENV}={mask_url(url)!r} could not be opened: "
                f"{error}. Is the database driver installed (psycopg2 for postgresql://)?"
            ) from error
        logger.info("Tracker store: %s", mask_url(url))


def _redis_lock_store(url: str, prefix: str) -> RedisLockStore:
    parts: SplitResult = urlsplit(url)
    if parts.scheme not in REDIS_SCHEMES or not parts.hostname:
        raise ServingConfigError(
            f"{LOCK_STORE_URL_ENV}={mask_url(url)!r} is not a Redis URL "
            "(expected redis://[:PASSWORD@]HOST:6379/DB, or rediss:// for TLS)."
        )
    database = parts.path.strip("/") or "1"
    if not database.isdigit():
        raise ServingConfigError(
            f"{LOCK_STORE_URL_ENV}: the database number must be an integer, got {database!r}."
        )
    try:
        port = parts.port or 6379
    except ValueError:
        raise ServingConfigError(f"{LOCK_STORE_URL_ENV}={mask_url(url)!r} has an invalid port.") from None
    return AtomicRedisLockStore(
        host=parts.hostname,
        port=port,
        db=int(database),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_ssl=parts.scheme == "rediss",
        key_prefix=prefix,
    )


class EnvLockStore(LockStore):
    """Redis lock store when ``$SHOPASSIST_LOCK_STORE_URL`` is set, else Rasa's in-memory one.

    The lock serialises the messages of one conversation. With several Rasa replicas (or
    ``SANIC_WORKERS`` > 1) it has to live in Redis so that any replica can take any message (no sticky
    sessions); the in-memory lock is only safe for a single process, so it refuses more workers.
    Keys are ``<prefix>:lock:<conversation id>``; the prefix (alphanumeric, ``$SHOPASSIST_LOCK_STORE_PREFIX``)
    keeps assistants sharing one Redis apart. Redis is pinged at start so a wrong URL fails now, not on
    the first shopper's message.
    """

    def __init__(
        self,
        endpoint_config: Optional[EndpointConfig] = None,
        environ: Optional[Mapping[str, str]] = None,
    ) -> None:
        environ = os.environ if environ is None else environ
        url = (environ.get(LOCK_STORE_URL_ENV) or "").strip()
        if not url:
            workers = (environ.get(SANIC_WORKERS_ENV) or "1").strip()
            if workers not in ("", "1"):
                raise ServingConfigError(
                    f"{SANIC_WORKERS_ENV}={workers} needs a shared lock store: set {LOCK_STORE_URL_ENV} "
                    "(e.g. redis://127.0.0.1:6379/1); the in-memory lock only works in one process."
                )
            self.backend: LockStore = InMemoryLockStore()
            self.description = "in memory"
        else:
            prefix = (environ.get(LOCK_STORE_PREFIX_ENV) or DEFAULT_LOCK_STORE_PREFIX).strip()
            if not prefix.isalnum():
                # Rasa would silently drop a non-alphanumeric prefix and share keys with others.
                raise ServingConfigError(
                    f"{LOCK_STORE_PREFIX_ENV}={prefix!r} must be letters and digits only."
                )
            redis_store = _redis_lock_store(url, prefix)
            self._ping(redis_store, url)
            self.backend = redis_store
            self.description = f"Redis {mask_url(url)}, keys {redis_store.key_prefix}<conversation>"
        super().__init__()
        logger.info("Lock store: %s", self.description)

    @staticmethod
    def _ping(store: RedisLockStore, url: str) -> None:
        import redis

        try:
            store.red.ping()
        except redis.RedisError as error:
            raise ServingConfigError(
                f"cannot reach the Redis lock store at {LOCK_STORE_URL_ENV}={mask_url(url)!r}: {error}"
            ) from error

    @property
    def key_prefix(self) -> Optional[str]:
        """The Redis key prefix of the locks (``None`` in memory); tests and operators look keys up."""
        return getattr(self.backend, "key_prefix", None)

    def get_lock(self, conversation_id: str) -> Optional[TicketLock]:
        return self.backend.get_lock(conversation_id)

    def delete_lock(self, conversation_id: str) -> None:
        self.backend.delete_lock(conversation_id)

    def save_lock(self, lock: TicketLock) -> None:
        self.backend.save_lock(lock)

    # The ticket operations go to the backend as a whole, not through get/save above: the Redis backend
    # makes each of them atomic across replicas (serving/atomic_lock.py).
    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        return self.backend.issue_ticket(conversation_id, lock_lifetime)

    def update_lock(self, conversation_id: str) -> None:
        self.backend.update_lock(conversation_id)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        self.backend.finish_serving(conversation_id, ticket_number)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        self.backend.cleanup(conversation_id, ticket_number)


class EnvEventBroker(EventBroker):
    """Rasa's RabbitMQ (Pika) event broker at ``$SHOPASSIST_EVENT_BROKER_URL``; no broker when unset.

    Every tracker event is then published to the queues of ``$SHOPASSIST_EVENT_BROKER_QUEUES`` (for
    analytics or a data warehouse) in addition to being stored in the tracker store. Only the factory
    lives here: the broker itself is :class:`rasa.core.brokers.pika.PikaEventBroker`.
    """

    @classmethod
    async def from_endpoint_config(
        cls,
        broker_config: Optional[EndpointConfig],
        event_loop: Optional[Any] = None,
    ) -> Optional[EventBroker]:
        url = (os.environ.get(EVENT_BROKER_URL_ENV) or "").strip()
        if not url:
            return None
        parts = urlsplit(url)
        if parts.scheme not in AMQP_SCHEMES or not parts.hostname:
            raise ServingConfigError(
                f"{EVENT_BROKER_URL_ENV}={mask_url(url)!r} is not a RabbitMQ URL "
                "(expected amqp://USER:PASSWORD@HOST:5672/VHOST, or amqps:// for TLS)."
            )
        from rasa.core.brokers.pika import PikaEventBroker

        # Rasa builds the connection URL from host + username + password and keeps the URL's own
        # credentials when they are already in it, so they are passed exactly as written (still
        # percent-encoded) and nothing is decoded twice.
        netloc_credentials = parts.netloc.rsplit("@", 1)[0] if "@" in parts.netloc else ""
        username, _, password = netloc_credentials.partition(":")
        broker = PikaEventBroker(
            host=url,
            username=username or "guest",
            password=password or "guest",
            port=parts.port or (5671 if parts.scheme == "amqps" else 5672),
            queues=event_broker_queues(),
            event_loop=event_loop,
        )
        await broker.connect()
        logger.info("Event broker: RabbitMQ %s, queues %s", mask_url(url), ", ".join(broker.queues))
        return broker
