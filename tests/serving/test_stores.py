"""The stores of endpoints.yml, built the way Rasa builds them, switched by environment variables only.

Every test loads the configuration from the repository's own ``endpoints.yml`` and goes through Rasa's
factories (``TrackerStore.create``, ``LockStore.create``, ``EventBroker.create``), so a typo in the file
or a class Rasa cannot load fails here rather than silently falling back to memory.
"""
from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from typing import List

import pytest
from rasa.core.brokers.broker import EventBroker
from rasa.core.lock_store import InMemoryLockStore, LockStore
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig, read_endpoint_config

from serving import settings as stores
from serving.settings import ServingConfigError
from serving.stores import EnvLockStore, EnvTrackerStore

from .conftest import free_port

REPO = Path(__file__).resolve().parents[2]
ENDPOINTS = str(REPO / "endpoints.yml")


def endpoint(name: str) -> EndpointConfig:
    config = read_endpoint_config(ENDPOINTS, name)
    assert config is not None, f"endpoints.yml has no {name} section"
    return config


def conversation(sender: str) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(
        sender,
        [
            ActionExecuted("action_listen"),
            UserUttered("where is my order SA-100001", {"name": "order_status", "confidence": 0.97}),
            ActionExecuted("utter_ask_email"),
            BotUttered("What e-mail address did you order with?"),
            ActionExecuted("action_listen"),
        ],
    )


def texts(tracker: DialogueStateTracker) -> List[str]:
    return [event.text for event in tracker.events if isinstance(event, (UserUttered, BotUttered))]


def save_and_read_back(sender: str) -> DialogueStateTracker:
    """Saves a conversation through one store and reads it through a second (another replica)."""

    async def scenario() -> DialogueStateTracker:
        writer = TrackerStore.create(endpoint("tracker_store"))
        await writer.save(conversation(sender))
        reader = TrackerStore.create(endpoint("tracker_store"))
        restored = await reader.retrieve(sender)
        assert restored is not None, "the conversation was not stored"
        return restored

    return asyncio.run(scenario())


# --- tracker store -------------------------------------------------------------------------------------


def test_endpoints_yml_names_the_environment_driven_classes() -> None:
    assert endpoint("tracker_store").type == "serving.stores.EnvTrackerStore"
    assert endpoint("lock_store").type == "serving.stores.EnvLockStore"
    assert endpoint("event_broker").type == "serving.stores.EnvEventBroker"


def test_default_tracker_store_is_the_sqlite_file_under_state(clean_env) -> None:
    assert stores.tracker_store_url() == "sqlite:///.state/tracker.db"


def test_tracker_store_url_comes_from_the_environment(clean_env) -> None:
    clean_env.setenv(stores.TRACKER_STORE_URL_ENV, "postgresql://rasa:secret@db:5432/rasa")
    assert stores.tracker_store_url() == "postgresql://rasa:secret@db:5432/rasa"
    # The postgres:// alias some platforms hand out is accepted and normalised for SQLAlchemy 1.4.
    clean_env.setenv(stores.TRACKER_STORE_URL_ENV, "postgres://rasa@db/rasa")
    assert stores.tracker_store_url() == "postgresql://rasa@db/rasa"


def test_malformed_tracker_store_url_names_the_variable_and_hides_the_password(clean_env) -> None:
    clean_env.setenv(stores.TRACKER_STORE_URL_ENV, "postgresql//rasa:hunter2@db")
    with pytest.raises(ServingConfigError, match=stores.TRACKER_STORE_URL_ENV) as caught:
        TrackerStore.create(endpoint("tracker_store"))
    assert "hunter2" not in str(caught.value)


def test_missing_database_driver_stops_instead_of_falling_back_to_memory(clean_env) -> None:
    # Rasa keeps conversations in memory when a custom store raises ImportError; ours must not.
    clean_env.setenv(stores.TRACKER_STORE_URL_ENV, "mysql+mysqldb://rasa:hunter2@127.0.0.1/rasa")
    with pytest.raises(ServingConfigError, match="driver") as caught:
        TrackerStore.create(endpoint("tracker_store"))
    assert "hunter2" not in str(caught.value)


def test_a_url_in_endpoints_yml_is_refused() -> None:
    with pytest.raises(ServingConfigError, match="SHOPASSIST_TRACKER_STORE_URL"):
        EnvTrackerStore(host="postgresql://db/rasa")


def test_sqlite_tracker_saved_and_read_back(clean_env, tmp_path: Path) -> None:
    database = tmp_path / "new-folder" / "tracker.db"  # the folder is created on demand
    clean_env.setenv(stores.TRACKER_STORE_URL_ENV, f"sqlite:///{database}")
    restored = save_and_read_back("sqlite-shopper")
    assert texts(restored) == ["where is my order SA-100001", "What e-mail address did you order with?"]
    assert restored.latest_message.intent["name"] == "order_status"
    assert database.is_file()


@pytest.mark.integration
def test_postgres_tracker_saved_and_read_back(clean_env, postgres_url: str) -> None:
    import sqlalchemy as sa

    clean_env.setenv(stores.TRACKER_STORE_URL_ENV, postgres_url)
    sender = f"pg-shopper-{secrets.token_hex(4)}"
    restored = save_and_read_back(sender)
    assert texts(restored) == ["where is my order SA-100001", "What e-mail address did you order with?"]
    # The events really are rows in PostgreSQL (not an in-memory fallback).
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            query = sa.text("SELECT type_name FROM events WHERE sender_id = :sender ORDER BY id")
            rows = connection.execute(query, {"sender": sender}).scalars().all()
    finally:
        engine.dispose()
    assert rows.count("user") == 1 and rows.count("bot") == 1


def test_shopassist_report_reads_the_same_tracker_store(clean_env, tmp_path: Path) -> None:
    from shopassist.report import tracker_store_url

    assert tracker_store_url(ENDPOINTS) == "sqlite:///.state/tracker.db"
    clean_env.setenv(stores.TRACKER_STORE_URL_ENV, f"sqlite:///{tmp_path / 'prod.db'}")
    assert tracker_store_url(ENDPOINTS) == f"sqlite:///{tmp_path / 'prod.db'}"


# --- lock store ----------------------------------------------------------------------------------------


def test_default_lock_store_is_in_memory(clean_env) -> None:
    lock_store = LockStore.create(endpoint("lock_store"))
    assert isinstance(lock_store, EnvLockStore)
    assert isinstance(lock_store.backend, InMemoryLockStore)


def test_in_memory_lock_refuses_several_workers(clean_env) -> None:
    clean_env.setenv("SANIC_WORKERS", "4")
    with pytest.raises(ServingConfigError, match=stores.LOCK_STORE_URL_ENV):
        LockStore.create(endpoint("lock_store"))


@pytest.mark.parametrize(
    "url, problem",
    [("http://127.0.0.1:6379", "not a Redis URL"), ("redis://127.0.0.1:6379/sessions", "integer")],
)
def test_malformed_lock_store_url_is_explained(clean_env, url: str, problem: str) -> None:
    clean_env.setenv(stores.LOCK_STORE_URL_ENV, url)
    with pytest.raises(ServingConfigError, match=problem):
        LockStore.create(endpoint("lock_store"))


def test_non_alphanumeric_prefix_is_refused(clean_env) -> None:
    # Rasa would drop it silently and share lock keys with every other assistant on that Redis.
    clean_env.setenv(stores.LOCK_STORE_URL_ENV, "redis://127.0.0.1:6379/1")
    clean_env.setenv(stores.LOCK_STORE_PREFIX_ENV, "shop-assist")
    with pytest.raises(ServingConfigError, match=stores.LOCK_STORE_PREFIX_ENV):
        LockStore.create(endpoint("lock_store"))


def test_unreachable_redis_fails_at_start(clean_env) -> None:
    clean_env.setenv(stores.LOCK_STORE_URL_ENV, f"redis://:hunter2@127.0.0.1:{free_port()}/1")
    with pytest.raises(ServingConfigError, match="cannot reach") as caught:
        LockStore.create(endpoint("lock_store"))
    assert "hunter2" not in str(caught.value)


@pytest.mark.integration
def test_redis_lock_serialises_one_conversation_across_replicas(clean_env, redis_url: str) -> None:
    import redis

    prefix = f"shopassisttestserving{secrets.token_hex(4)}"
    clean_env.setenv(stores.LOCK_STORE_URL_ENV, redis_url)
    clean_env.setenv(stores.LOCK_STORE_PREFIX_ENV, prefix)
    clean_env.setenv("SANIC_WORKERS", "2")  # allowed: the lock is shared
    replica_a = LockStore.create(endpoint("lock_store"))
    replica_b = LockStore.create(endpoint("lock_store"))
    client = redis.Redis.from_url(redis_url)
    key = f"{prefix}:lock:shopper-1"
    steps: List[str] = []
    stored_while_held: List[dict] = []

    async def handle(replica: LockStore, name: str, hold: asyncio.Event) -> None:
        async with replica.lock("shopper-1", wait_time_in_seconds=0.02):
            steps.append(f"{name} starts")
            stored_while_held.append(json.loads(client.get(key)))
            await hold.wait()
            steps.append(f"{name} ends")

    async def scenario() -> None:
        release_a, release_b = asyncio.Event(), asyncio.Event()
        first = asyncio.create_task(handle(replica_a, "a", release_a))
        while not steps:
            await asyncio.sleep(0.01)
        second = asyncio.create_task(handle(replica_b, "b", release_b))
        # b has drawn its ticket and waits in line behind a, on another "replica".
        while len(json.loads(client.get(key))["tickets"]) < 2:
            await asyncio.sleep(0.01)
        assert steps == ["a starts"]
        release_a.set()
        await first
        release_b.set()
        await second

    try:
        asyncio.run(asyncio.wait_for(scenario(), timeout=30))
        assert steps == ["a starts", "a ends", "b starts", "b ends"]
        assert stored_while_held[0]["conversation_id"] == "shopper-1"
        assert client.get(key) is None, "the lock was not removed after the last message"
    finally:
        for leftover in client.scan_iter(f"{prefix}:*"):
            client.delete(leftover)
        client.close()


# --- event broker --------------------------------------------------------------------------------------


def test_no_event_broker_by_default(clean_env) -> None:
    assert asyncio.run(EventBroker.create(endpoint("event_broker"))) is None


def test_malformed_event_broker_url_is_explained(clean_env) -> None:
    clean_env.setenv(stores.EVENT_BROKER_URL_ENV, "rabbitmq.internal:5672")
    with pytest.raises(ServingConfigError, match="not a RabbitMQ URL"):
        asyncio.run(EventBroker.create(endpoint("event_broker")))


@pytest.mark.integration
def test_rabbitmq_broker_publishes_tracker_events(clean_env, amqp_url: str) -> None:
    import aio_pika

    queue_name = f"shopassist_test_serving_{secrets.token_hex(4)}"
    clean_env.setenv(stores.EVENT_BROKER_URL_ENV, amqp_url)
    clean_env.setenv(stores.EVENT_BROKER_QUEUES_ENV, queue_name)

    async def scenario() -> dict:
        broker = await EventBroker.create(endpoint("event_broker"))
        assert broker is not None
        connection = await aio_pika.connect_robust(amqp_url)
        try:
            broker.publish({"event": "user", "sender_id": "broker-shopper", "text": "hello"})
            channel = await connection.channel()
            queue = await channel.get_queue(queue_name)
            for _ in range(200):
                message = await queue.get(no_ack=True, fail=False)
                if message is not None:
                    return json.loads(message.body)
                await asyncio.sleep(0.05)
            raise AssertionError("nothing arrived in the queue")
        finally:
            await broker.close()
            channel = await connection.channel()
            await channel.queue_delete(queue_name)
            await connection.close()

    received = asyncio.run(asyncio.wait_for(scenario(), timeout=60))
    assert received["sender_id"] == "broker-shopper" and received["text"] == "hello"
