"""A database seeded by an earlier release keeps working: create_schema adds the nullable columns it lacks."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, select, text

from shop.db import create_schema, dispose_engine, get_engine
from shop.models import Return
from shop.seed import seed_database
from shop.service import ShopService

from .conftest import ALEX, sqlite_url


def test_create_schema_adds_the_return_note_to_an_old_database(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "old.db")
    seed_database(url)
    engine = get_engine(url)
    with engine.begin() as conn:  # the returns table as the first release created it
        conn.execute(text("ALTER TABLE returns DROP COLUMN reason_note"))
    assert "reason_note" not in {c["name"] for c in inspect(engine).get_columns("returns")}

    create_schema(engine)

    assert "reason_note" in {c["name"] for c in inspect(engine).get_columns("returns")}
    with engine.connect() as conn:
        assert conn.execute(select(Return.reason_note)).first() is not None  # old rows read NULL
    outcome = ShopService(url).start_return("SA-100002", ALEX, "hoodie", "too big")
    assert outcome.created
    create_schema(engine)  # a second run changes nothing
    dispose_engine(url)


def test_create_schema_adds_the_failed_verifications_table_to_an_old_database(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "old.db")
    seed_database(url)
    engine = get_engine(url)
    with engine.begin() as conn:  # a database seeded before wrong e-mails were counted in the shop
        conn.execute(text("DROP TABLE verification_failures"))
    assert "verification_failures" not in inspect(engine).get_table_names()

    create_schema(engine)

    assert "verification_failures" in inspect(engine).get_table_names()
    assert ShopService(url).record_failed_verification("conv-1", "SA-100001", max_failures=3).failures == 1
    dispose_engine(url)
