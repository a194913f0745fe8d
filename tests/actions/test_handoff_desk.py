"""shop.handoff: the ticket desk's life cycle and constraints, business hours, masking and settings."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from shop.db import get_engine
from shop.handoff import (
    BusinessHours,
    HandoffDesk,
    HandoffSettings,
    TicketNotFoundError,
    TicketRequest,
    TicketStateError,
    mask_personal_data,
)
from shop.handoff_models import HandoffTicket
from tests.actions.conftest import ALEX

T0 = datetime(2024, 6, 3, 12, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def desk(fresh_db: str, clock: Clock) -> HandoffDesk:
    return HandoffDesk(fresh_db, clock=clock)


def test_seeded_database_has_the_ticket_table(fresh_db):
    assert "handoff_tickets" in inspect(get_engine(fresh_db)).get_table_names()


def test_table_is_created_in_a_database_seeded_before_tickets(fresh_db, clock):
    HandoffTicket.__table__.drop(get_engine(fresh_db))
    from shop import handoff

    handoff._schema_ready.discard(fresh_db)
    opened = HandoffDesk(fresh_db, clock=clock).open_ticket(TicketRequest("s1", "requested"))
    assert opened.created and opened.ticket.id == 1


def test_life_cycle(desk, clock):
    opened = desk.open_ticket(
        TicketRequest("s1", "explicit_request", customer_email=ALEX.upper(), order_id="sa100002",
                      summary=["hi", "", "human please"], emotion="anger")
    )
    ticket = opened.ticket
    assert opened.created and opened.waiting_ahead == 0
    assert ticket.customer_name == "Alex Morgan" and ticket.customer_email == ALEX
    assert ticket.order_id == "SA-100002" and ticket.summary == ["hi", "human please"]
    assert [t.id for t in desk.queue()] == [ticket.id]

    clock.now = T0 + timedelta(minutes=5)
    claimed = desk.claim(ticket.id, "alice")
    assert claimed.status == "active" and claimed.agent == "alice"
    assert claimed.to_dict()["waiting_seconds"] == 300
    assert desk.claim(ticket.id, "alice") == claimed  # idempotent for the holder
    with pytest.raises(TicketStateError, match="held by alice"):
        desk.claim(ticket.id, "bob")
    with pytest.raises(TicketStateError, match="held by alice"):
        desk.hand_back(ticket.id, "bob")
    with pytest.raises(TicketStateError, match="held by alice"):
        desk.close(ticket.id, "bob", "done")

    back = desk.hand_back(ticket.id, "alice")
    assert back.status == "handed_back" and back.handed_back_at is not None
    assert desk.queue() == []
    # The handoff is over: a new request opens a new ticket.
    again = desk.open_ticket(TicketRequest("s1", "requested"))
    assert again.created and again.ticket.id != ticket.id

    closed = desk.close(ticket.id, "bob", "  Refund issued for the hoodie.  ")
    assert closed.status == "closed" and closed.resolution == "Refund issued for the hoodie."
    assert closed.agent == "alice"  # the holder stays on record
    with pytest.raises(TicketStateError, match="already closed"):
        desk.close(ticket.id, "alice", "again")
    with pytest.raises(ValueError):
        desk.close(again.ticket.id, "alice", "   ")
    with pytest.raises(TicketNotFoundError):
        desk.claim(999, "alice")


def test_waiting_ticket_can_be_closed_by_any_agent(desk):
    ticket = desk.open_ticket(TicketRequest("s1", "requested")).ticket
    closed = desk.close(ticket.id, "bob", "spam")
    assert closed.status == "closed" and closed.agent == "bob"
    with pytest.raises(TicketStateError, match="closed"):
        desk.claim(ticket.id, "alice")


def test_one_open_ticket_per_conversation_is_a_schema_rule(desk, fresh_db):
    desk.open_ticket(TicketRequest("s1", "requested"))
    with pytest.raises(IntegrityError):
        with get_engine(fresh_db).begin() as conn:
            conn.execute(HandoffTicket.__table__.insert().values(
                sender_id="s1", open_sender="s1", status="waiting", reason="x", history=[], summary="",
                after_hours=False, created_at=datetime(2024, 1, 1),
            ))
    with get_engine(fresh_db).connect() as conn:
        assert len(conn.execute(select(HandoffTicket.id)).all()) == 1


def test_unknown_customer_is_not_recorded(desk):
    ticket = desk.open_ticket(TicketRequest("s1", "requested", customer_email="nobody@example.com",
                                            order_id="SA-100002")).ticket
    assert ticket.customer_email is None and ticket.order_id is None


def test_business_hours():
    hours = BusinessHours.parse("Mon-Fri 09:00-12:00, 13:00-18:00; Sat 10:00-14:00", "Europe/Berlin")
    berlin_monday_9 = datetime(2024, 6, 3, 7, 0, tzinfo=timezone.utc)  # 09:00 CEST
    assert hours.is_open(berlin_monday_9)
    assert not hours.is_open(berlin_monday_9 - timedelta(minutes=1))
    assert not hours.is_open(berlin_monday_9 + timedelta(hours=3, minutes=30))  # lunch
    assert hours.is_open(datetime(2024, 6, 8, 9, 0, tzinfo=timezone.utc))  # Sat 11:00
    sunday = datetime(2024, 6, 9, 12, 0, tzinfo=timezone.utc)
    assert not hours.is_open(sunday)
    assert hours.next_opening(sunday).strftime("%a %H:%M") == "Mon 09:00"
    assert BusinessHours.parse("", "UTC").always_open
    late_sunday = datetime(2024, 6, 9, 23, 0, tzinfo=timezone.utc)
    assert BusinessHours.parse("Fri-Mon 20:00-24:00").is_open(late_sunday)
    for bad in ("whenever", "Mon-Fri 18:00-09:00", "Moo 09:00-10:00", "Mon 9-10"):
        with pytest.raises(ValueError):
            BusinessHours.parse(bad)


def test_invalid_settings_fall_back_to_always_open(monkeypatch, caplog):
    monkeypatch.setenv("HANDOFF_BUSINESS_HOURS", "Mon-Fri 09:00-18:00")
    monkeypatch.setenv("HANDOFF_TIMEZONE", "Mars/Olympus")
    monkeypatch.setenv("HANDOFF_WAIT_BASE_MINUTES", "soon")
    settings = HandoffSettings.from_env()
    assert settings.hours.always_open and "HANDOFF_BUSINESS_HOURS" in caplog.text
    assert settings.expected_wait(0) == "about 3 minutes"
    assert settings.expected_wait(20) == "about an hour"


def test_masking():
    text = "mail ALEX.Morgan@Example.com or a.b+c@shop.co.uk, card 4111 1111 1111 1111, order SA-100042"
    masked = mask_personal_data(text)
    assert masked == "mail a***@example.com or a***@shop.co.uk, card [card], order SA-100042"
    assert mask_personal_data("call +44 (0)20 7946 0958") != "call +44 (0)20 7946 0958"
