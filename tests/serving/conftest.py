"""Loopback services for the serving tests: skip when one is absent, fail instead under ``CI=true``."""
from __future__ import annotations

import os
import secrets
import socket
from typing import Iterator

import pytest
from sanic import Sanic

from tests.ci import skip_or_fail

# Several Sanic apps start in one process (test_rest_channel.py): see tests/channels/conftest.py.
Sanic.test_mode = True

PG_HOST = os.environ.get("SHOP_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("SHOP_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("SHOP_TEST_PG_USER", "postgres")
REDIS_URL = os.environ.get("SHOPASSIST_TEST_REDIS_URL", "redis://127.0.0.1:6379/1")
AMQP_URL = os.environ.get("SHOPASSIST_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No SHOPASSIST_* store settings or SANIC_WORKERS leak in from the shell running the tests."""
    for name in list(os.environ):
        if name.startswith("SHOPASSIST_") and name.endswith(("_URL", "_PREFIX", "_QUEUES")):
            monkeypatch.delenv(name)
    monkeypatch.delenv("SANIC_WORKERS", raising=False)
    return monkeypatch


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A fresh database ``shopassist_test_serving_<random>``, dropped afterwards."""
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        admin = psycopg2.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=3
        )
    except psycopg2.OperationalError as error:
        skip_or_fail(f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT}: {str(error).strip()}")
    admin.autocommit = True
    name = f"shopassist_test_serving_{secrets.token_hex(4)}"
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')  # generated name, not input
        yield f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


@pytest.fixture
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=3).ping()
    except redis.RedisError as error:
        skip_or_fail(f"Redis not reachable at {REDIS_URL}: {error}")
    return REDIS_URL


@pytest.fixture
def amqp_url() -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(AMQP_URL)
    host, port = parts.hostname or "127.0.0.1", parts.port or 5672
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as error:
        skip_or_fail(f"RabbitMQ not reachable at {host}:{port}: {error}")
    return AMQP_URL
