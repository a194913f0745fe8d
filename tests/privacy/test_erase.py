"""`shopassist erase` on real stores: a Rasa tracker store, an analytics database and the seeded shop
database, on SQLite and on PostgreSQL (own databases, dropped afterwards)."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime, timezone
from typing import Dict, Iterator

import pytest
import sqlalchemy as sa

from shop import ShopService, Verification
from shop.db import dispose_engine, get_engine, session_factory
from shop.erasure import ERASED_ADDRESS, ERASED_NAME, OpenOrdersError, erased_email
from shop.handoff_models import HandoffTicket
from shop.models import Customer, Feedback, Order, Return, VerificationFailure, VerificationLock
from shop.seed import seed_database
from shopassist.analytics_sink import create_analytics_schema, event_row, store_rows
from shopassist.cli import main as cli_main
from shopassist.erase import erase
from tests.report.trackers import fill_postgres, fill_sqlite, postgres_database

ALEX, SAM = "alex.morgan@example.com", "sam.lee@example.com"
START = datetime(2026, 11, 20, 10, tzinfo=timezone.utc).timestamp()
CONVERSATIONS = {
    # Alex verified an order: the e-mail is in a slot
    "conv-alex": (START, [("where is SA-100001", "order_status", 0.9, "neutral",
                           [("slot", "email", ALEX)])]),
    # Alex typed the address in other casing
    "conv-alex-typed": (START + 60, [("my mail is Alex.Morgan@Example.com", "inform", 0.8, "neutral", [])]),
    "conv-sam": (START + 120, [("status of SA-100006", "order_status", 0.9, "neutral",
                                [("slot", "email", SAM)])]),
    "conv-anon": (START + 180, [("hello", "greet", 0.99, "joy", [])]),
}


def _analytics(url: str) -> None:
    """The analytics database as the sink leaves it: masked events of a few conversations."""
    engine = sa.create_engine(url)
    create_analytics_schema(engine)
    rows = [event_row(json.dumps({"sender_id": sender, "event": "user", "timestamp": START + i,
                                  "text": f"message {i}"}).encode())
            for i, sender in enumerate(["conv-alex", "conv-alex", "conv-sam", "conv-alex-2"])]
    store_rows(engine, rows)
    engine.dispose()


def _shop(url: str) -> None:
    seed_database(url)
    service = ShopService(url)
    service.record_feedback("conv-alex", "quick and friendly", 5)
    service.record_feedback("conv-sam", "fine", 4)
    service.lock_verification("conv-sam", "SA-100001")
    service.lock_verification("conv-alex", "SA-100006")
    service.record_failed_verification("conv-sam", "SA-100006", max_failures=3)
    service.record_failed_verification("conv-alex", "SA-100001", max_failures=3)
    now = datetime(2026, 11, 20, 11)
    with session_factory(get_engine(url))() as session, session.begin():
        alex = session.execute(sa.select(Customer).where(Customer.email == ALEX)).scalar_one()
        session.add_all([
            HandoffTicket(sender_id="conv-alex", open_sender="conv-alex", status="waiting",
                          reason="requested", history=[], summary="where is SA-100001", customer_id=alex.id,
                          created_at=now),
            # an after-hours follow-up from a conversation the tracker store does not link to Alex
            HandoffTicket(sender_id="conv-alex-2", status="closed", reason="anger_sustained", history=[],
                          summary="angry", follow_up="email", follow_up_email=ALEX, agent="bo",
                          created_at=now),
            HandoffTicket(sender_id="conv-sam", open_sender="conv-sam", status="waiting", reason="fraud",
                          history=[], summary="card stolen", created_at=now),
        ])


@contextlib.contextmanager
def _sqlite_stores(tmp_path) -> Iterator[Dict[str, str]]:
    urls = {"tracker_url": fill_sqlite(tmp_path / "tracker.db", CONVERSATIONS),
            "shop_url": f"sqlite:///{tmp_path / 'shop.db'}",
            "analytics_url": f"sqlite:///{tmp_path / 'analytics.db'}"}
    yield urls


@contextlib.contextmanager
def _postgres_stores(_tmp_path) -> Iterator[Dict[str, str]]:
    with postgres_database("shopassist_test_erase_tracker") as (tracker_name, tracker_url), \
            postgres_database("shopassist_test_erase_shop") as (_, shop_url), \
            postgres_database("shopassist_test_erase_analytics") as (_, analytics_url):
        fill_postgres(tracker_name, CONVERSATIONS)
        try:
            yield {"tracker_url": tracker_url, "shop_url": shop_url, "analytics_url": analytics_url}
        finally:
            dispose_engine(shop_url)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def stores(request, tmp_path) -> Iterator[Dict[str, str]]:
    factory = _sqlite_stores if request.param == "sqlite" else _postgres_stores
    with factory(tmp_path) as urls:
        _shop(urls["shop_url"])
        _analytics(urls["analytics_url"])
        try:
            yield urls
        finally:
            dispose_engine(urls["shop_url"])


def _events_by_sender(url: str) -> Dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT sender_id, count(*) FROM events GROUP BY sender_id")).all()
    engine.dispose()
    return {sender: count for sender, count in rows}


def _shop_state(url: str) -> Dict[str, object]:
    with session_factory(get_engine(url))() as session:
        return {
            "tickets": sorted(session.execute(sa.select(HandoffTicket.sender_id)).scalars()),
            "feedback": sorted(session.execute(sa.select(Feedback.sender_id)).scalars()),
            "customers": sorted(session.execute(sa.select(Customer.email)).scalars()),
            "addresses": sorted(session.execute(sa.select(Order.shipping_address)).scalars()),
            "reasons": sorted(session.execute(sa.select(Return.reason)).scalars()),
            "notes": sorted(note or "" for note in session.execute(sa.select(Return.reason_note)).scalars()),
            "locks": sorted(session.execute(sa.select(VerificationLock.conversation_id)).scalars()),
            "failures": sorted(session.execute(sa.select(VerificationFailure.conversation_id)).scalars()),
        }


def test_erase_customer(stores) -> None:
    before = (_events_by_sender(stores["tracker_url"]), _events_by_sender(stores["analytics_url"]),
              _shop_state(stores["shop_url"]))
    with pytest.raises(OpenOrdersError, match="SA-100001 \\(shipped\\)"):
        erase(customer=ALEX, **stores, apply=True)

    dry = erase(customer=" Alex.Morgan@example.com ", **stores, include_open_orders=True)
    assert dry.conversations == {"conv-alex", "conv-alex-typed", "conv-alex-2"}
    alex_events = before[0]["conv-alex"] + before[0]["conv-alex-typed"]
    assert (dry.tracker_events, dry.analytics_events) == (alex_events, 3)
    assert (dry.shop.tickets, dry.shop.feedback) == (2, 1)
    assert dry.shop.orders_anonymised == ["SA-100001", "SA-100002", "SA-100003", "SA-100004", "SA-100005"]
    assert "Dry run" in dry.describe()
    after_dry = (_events_by_sender(stores["tracker_url"]), _events_by_sender(stores["analytics_url"]),
                 _shop_state(stores["shop_url"]))
    assert after_dry == before  # a dry run changes nothing

    done = erase(customer=ALEX, **stores, apply=True, include_open_orders=True)
    assert done.tracker_events == alex_events and "Dry run" not in done.describe()
    assert set(_events_by_sender(stores["tracker_url"])) == {"conv-sam", "conv-anon"}
    assert set(_events_by_sender(stores["analytics_url"])) == {"conv-sam"}
    state = _shop_state(stores["shop_url"])
    assert state["tickets"] == ["conv-sam"]
    assert state["feedback"] == [s for s in before[2]["feedback"] if s != "conv-alex"]  # seeded rows stay
    assert ALEX not in state["customers"] and SAM in state["customers"]
    assert erased_email(done.shop.customer_id) in state["customers"]
    assert state["addresses"].count(ERASED_ADDRESS) == 5  # only Alex's orders
    assert len(state["addresses"]) == len(before[2]["addresses"])
    assert "" not in before[2]["notes"] and "" in state["notes"]  # Alex's words about the return are gone
    assert state["reasons"] == before[2]["reasons"]  # reason codes are no personal data: they stay

    service = ShopService(stores["shop_url"])
    assert service.verify_order("SA-100001", ALEX) != Verification.VERIFIED
    assert service.verify_order("SA-100006", SAM) == Verification.VERIFIED
    with session_factory(get_engine(stores["shop_url"]))() as session:
        order = session.execute(sa.select(Order).where(Order.order_number == "SA-100001")).scalar_one()
        assert order.status == "shipped" and order.customer.name == ERASED_NAME  # the order is kept

    again = erase(customer=ALEX, **stores, apply=True, include_open_orders=True)
    assert again.conversations == set() and again.tracker_events == 0
    assert any("no customer" in note for note in again.notes)


def test_erase_one_conversation(stores) -> None:
    before = _events_by_sender(stores["tracker_url"])
    feedback_before = _shop_state(stores["shop_url"])["feedback"]
    done = erase(conversation="conv-sam", **stores, apply=True)
    assert (done.tracker_events, done.analytics_events) == (before["conv-sam"], 1)
    assert (done.shop.tickets, done.shop.feedback, done.shop.customer_id) == (1, 1, None)
    assert "conv-sam" not in _events_by_sender(stores["tracker_url"])
    state = _shop_state(stores["shop_url"])
    assert state["tickets"] == ["conv-alex", "conv-alex-2"]
    assert state["feedback"] == [s for s in feedback_before if s != "conv-sam"]
    assert "conv-alex" in state["feedback"]
    assert state["locks"] == ["conv-alex"]  # identity-check locks of the conversation are gone
    assert state["failures"] == ["conv-alex"]  # and its wrong e-mails
    assert SAM in state["customers"]  # a conversation erase leaves the customer record alone


def test_command_line(tmp_path, capsys) -> None:
    with _sqlite_stores(tmp_path) as urls:
        _shop(urls["shop_url"])
        options = ["--tracker-db", urls["tracker_url"], "--shop-db", urls["shop_url"],
                   "--analytics-db", f"sqlite:///{tmp_path / 'absent.db'}"]
        assert cli_main(["erase", "--conversation", "conv-anon", *options]) == 0
        out = capsys.readouterr().out
        assert "tracker store: would delete 6 events" in out and "Dry run" in out
        assert "conv-anon" in _events_by_sender(urls["tracker_url"])
        assert cli_main(["erase", "--conversation", "conv-anon", "--yes", *options]) == 0
        assert "tracker store: deleted 6 events" in capsys.readouterr().out
        assert "conv-anon" not in _events_by_sender(urls["tracker_url"])
        assert not (tmp_path / "absent.db").exists()  # a missing store is not created

        assert cli_main(["erase", "--customer", ALEX, "--yes", *options]) == 2
        assert "still on their way" in capsys.readouterr().err
        assert cli_main(["erase", "--customer", "not-an-address", *options]) == 2
        assert "not an e-mail address" in capsys.readouterr().err
        dispose_engine(urls["shop_url"])
