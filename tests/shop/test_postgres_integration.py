"""The shop layer against a real PostgreSQL server (127.0.0.1:5432, user postgres, trust auth).

Creates its own uniquely named database, seeds it, exercises the service (including a race of concurrent
return requests that must end with one RMA) and drops the database afterwards. Skipped when the server
cannot be reached, except under ``CI=true``, where a missing server is a failure.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from shop import ShopService, Verification
from shop.db import dispose_engine, get_engine
from shop.models import Feedback, Return
from shop.seed import seed_database
from tests.ci import skip_or_fail

from .conftest import ALEX, SAM

pytestmark = pytest.mark.integration

PG_HOST = os.environ.get("SHOP_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("SHOP_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("SHOP_TEST_PG_USER", "postgres")


def _admin_connection():  # noqa: ANN202 - psycopg2 connection
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        conn = psycopg2.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", connect_timeout=3
        )
    except psycopg2.OperationalError as exc:
        reason = f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT} as {PG_USER}: {str(exc).strip()}"
        skip_or_fail(reason)
    conn.autocommit = True
    return conn


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    name = f"shopassist_test_{secrets.token_hex(6)}"
    admin = _admin_connection()
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')  # name is generated above, not input
        url = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
        try:
            yield url
        finally:
            dispose_engine(url)
            with admin.cursor() as cur:
                cur.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    (name,),
                )
                cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
    finally:
        admin.close()


@pytest.fixture(scope="module")
def pg_svc(pg_url: str) -> ShopService:
    counts = seed_database(pg_url)
    assert counts["already_seeded"] == 0 and counts["products"] >= 300
    return ShopService(pg_url)


def test_seed_is_idempotent_on_postgres(pg_svc: ShopService, pg_url: str) -> None:
    again = seed_database(pg_url)
    assert again["already_seeded"] == 1 and again["orders"] >= 200


def test_catalog_and_verification_on_postgres(pg_svc: ShopService) -> None:
    result = pg_svc.search_products(category="Jacket", color="black", max_price="150")
    assert result.total > 0 and all(p.price <= 150 and isinstance(p.price, float) for p in result.products)
    assert pg_svc.search_products(category="jeans", color="purple").relax_hint == "color"
    assert pg_svc.get_product("cloudline hoodie").sku == "HOD-0001"
    assert pg_svc.verify_order("sa100002", " Alex.Morgan@Example.com") is Verification.VERIFIED
    assert pg_svc.verify_order("SA-100006", ALEX) is Verification.EMAIL_MISMATCH
    assert pg_svc.verify_order("'; DROP TABLE orders; --", ALEX) is Verification.NOT_FOUND


def test_writes_on_postgres(pg_svc: ShopService) -> None:
    assert pg_svc.cancel_order("SA-100006", SAM).ok
    assert pg_svc.cancel_order("SA-100006", SAM).reason == "already_cancelled"
    assert pg_svc.change_shipping_address("SA-100003", ALEX, "5 Rowan Close, Ashby, 22222").ok
    first = pg_svc.record_feedback("pg-test", "Works on PostgreSQL", rating=4)  # new ids after seeded ones
    assert first > 10 and pg_svc.record_feedback("pg-test", "Works on PostgreSQL", rating=4) == first
    assert pg_svc.refund_status("SA-100005", ALEX)[0].status == "processing"


def test_concurrent_return_requests_make_one_rma(pg_svc: ShopService, pg_url: str) -> None:
    workers = 6
    barrier = threading.Barrier(workers)
    outcomes, errors = [], []

    def request() -> None:
        try:
            barrier.wait()
            outcomes.append(ShopService(pg_url).start_return("SA-100002", ALEX, "shoes", "Too big"))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=request) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    assert len(outcomes) == workers and all(o.ok for o in outcomes)
    assert sum(o.created for o in outcomes) == 1
    assert {o.rma_number for o in outcomes} == {"RMA-100002-2"}
    with get_engine(pg_url).connect() as conn:
        assert (
            conn.execute(
                select(func.count()).select_from(Return).where(Return.rma_number == "RMA-100002-2")
            ).scalar_one()
            == 1
        )
        assert conn.execute(select(func.count()).select_from(Feedback)).scalar_one() >= 10
