"""action_handoff: one ticket per open handoff, what it records, what the shopper is told, pausing,
outages."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk import Tracker
from sqlalchemy import select

from actions.handoff import CARRIED_OVER, ActionHandoff
from shop import HandoffDesk
from shop.db import get_engine
from shop.handoff_models import HandoffTicket
from tests.actions.conftest import ALEX, responses, run_action, slot_events

# A Monday and a Saturday, noon UTC (13:00 / 14:00 in Berlin).
MONDAY_NOON = datetime(2024, 6, 3, 12, 0, tzinfo=timezone.utc)
SATURDAY_NOON = datetime(2024, 6, 8, 12, 0, tzinfo=timezone.utc)


def user(text: str, intent: str, emotion: str = "neutral", ts: float = 1717416000.0) -> Dict[str, Any]:
    return {
        "event": "user",
        "timestamp": ts,
        "text": text,
        "input_channel": "socketio",
        "parse_data": {
            "intent": {"name": intent, "confidence": 0.9},
            "emotion": {"name": emotion, "confidence": 0.8},
            "entities": [],
        },
    }


def handoff_tracker(
    turns: List[Dict[str, Any]],
    slots: Optional[Dict[str, Any]] = None,
    policy_reason: Optional[str] = None,
    sender_id: str = "shopper-1",
    before: Optional[List[Dict[str, Any]]] = None,
) -> Tracker:
    """A tracker as action_handoff receives it: the session's turns, then (when the HandoffPolicy fired)
    its ``SlotSet(handoff_reason)`` applied after the latest message."""
    events: List[Dict[str, Any]] = list(before or [])
    events.append({"event": "session_started"})
    for turn in turns:
        events.append(turn)
        events.append({"event": "action", "name": "utter_ok"})
    events.pop()  # the handoff follows the latest message directly
    values = dict(slots or {})
    if policy_reason:
        events.append({"event": "slot", "name": "handoff_reason", "value": policy_reason})
        values["handoff_reason"] = policy_reason
    latest = dict(turns[-1]["parse_data"], text=turns[-1]["text"])
    return Tracker(sender_id, values, latest, events, False, None, {}, "action_listen")


ANGRY_TURNS = [
    user("where is my order SA-100002, my mail is alex.morgan@example.com", "order_status", "neutral", 1.0e9),
    user("call me on +44 7700 900123 please", "inform", "anger", 1.0e9 + 60),
    user("this is ridiculous, I want a human", "request_human", "anger", 1.0e9 + 120),
]
VERIFIED = {"order_verified": True, "email": ALEX, "order_id": "SA-100002"}


def tickets(url: str) -> List[Any]:
    with get_engine(url).connect() as conn:
        return conn.execute(select(HandoffTicket.__table__).order_by(HandoffTicket.id)).all()


def rendered(domain: Dict[str, Any], message: Dict[str, Any]) -> str:
    """The response text with the action's values filled in (fails on a placeholder the action misses)."""
    return domain["responses"][message["response"]][0]["text"].format(**message)


@pytest.fixture
def in_hours(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HANDOFF_WEBHOOK_URL", "HANDOFF_BUSINESS_HOURS", "HANDOFF_TIMEZONE", "SHOP_SUPPORT_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(ActionHandoff, "clock", staticmethod(lambda: MONDAY_NOON))


@pytest.fixture
def office_hours(monkeypatch: pytest.MonkeyPatch, in_hours: None) -> None:
    monkeypatch.setenv("HANDOFF_BUSINESS_HOURS", "Mon-Fri 09:00-18:00")
    monkeypatch.setenv("HANDOFF_TIMEZONE", "Europe/Berlin")
    monkeypatch.setenv("SHOP_SUPPORT_EMAIL", "help@shop.example")


def test_ticket_records_reason_customer_order_history_and_masked_summary(fresh_db, domain, in_hours):
    tracker = handoff_tracker(ANGRY_TURNS, VERIFIED, policy_reason="anger_sustained")
    messages, events = run_action(ActionHandoff(), tracker, domain)

    assert responses(messages) == ["utter_handoff"]
    text = rendered(domain, messages[0])
    assert "about 3 minutes" in text and "#1" in text
    assert slot_events(events) == {"handoff_active": True}
    assert events[-1]["event"] == "pause"

    [ticket] = tickets(fresh_db)
    assert ticket.sender_id == "shopper-1" and ticket.open_sender == "shopper-1"
    assert ticket.status == "waiting" and ticket.reason == "anger_sustained"
    assert ticket.order_number == "SA-100002" and ticket.customer_id is not None
    assert ticket.emotion == "anger" and ticket.channel == "socketio"
    assert [(h["intent"], h["emotion"]) for h in ticket.history] == [
        ("order_status", "neutral"), ("inform", "anger"), ("request_human", "anger")
    ]
    assert ticket.history[0]["at"].startswith("2001-09-09T01:46:40")
    assert "alex.morgan@example.com" not in ticket.summary and "a***@example.com" in ticket.summary
    assert "7700" not in ticket.summary and "[phone]" in ticket.summary
    assert "SA-100002" in ticket.summary  # order numbers stay readable
    assert ticket.after_hours is False and ticket.follow_up is None


def test_second_handoff_of_the_same_conversation_reuses_the_open_ticket(fresh_db, domain, in_hours):
    tracker = handoff_tracker(ANGRY_TURNS, VERIFIED, policy_reason="anger_sustained")
    run_action(ActionHandoff(), tracker, domain)
    messages, events = run_action(ActionHandoff(), tracker, domain)
    assert responses(messages) == ["utter_handoff_ticket_exists"]
    assert "#1" in rendered(domain, messages[0])
    assert slot_events(events) == {"handoff_active": True} and events[-1]["event"] == "pause"
    assert len(tickets(fresh_db)) == 1

    # Another conversation gets its own ticket, behind the first one in the queue.
    other = handoff_tracker([user("agent please", "request_human")], sender_id="shopper-2")
    messages, _ = run_action(ActionHandoff(), other, domain)
    assert responses(messages) == ["utter_handoff"] and "about 7 minutes" in rendered(domain, messages[0])
    assert [t.sender_id for t in tickets(fresh_db)] == ["shopper-1", "shopper-2"]


def test_unverified_shopper_and_stale_reason(fresh_db, domain, in_hours):
    # The e-mail slot holds an address, but the order was never verified: no customer, no order.
    # handoff_reason still holds a value from an earlier handoff (no fresh slot event): "requested".
    slots = {"order_verified": False, "email": ALEX, "order_id": "SA-100002",
             "handoff_reason": "sensitive_topic"}
    tracker = handoff_tracker([user("let me talk to someone", "request_human")], slots)
    run_action(ActionHandoff(), tracker, domain)
    [ticket] = tickets(fresh_db)
    assert ticket.customer_id is None and ticket.order_number is None
    assert ticket.reason == "requested"


def test_accepting_the_offer_of_a_person_is_recorded(fresh_db, domain, in_hours):
    tracker = handoff_tracker([user("where is my order", "order_status"), user("yes please", "affirm")])
    tracker.events[-2] = {"event": "action", "name": "utter_offer_human"}  # the bot's turn before "yes"
    tracker.events.insert(-1, {"event": "action", "name": "action_listen"})
    run_action(ActionHandoff(), tracker, domain)
    [ticket] = tickets(fresh_db)
    assert ticket.reason == "offer_accepted"


def test_history_covers_only_the_current_session(fresh_db, domain, in_hours):
    old = [user("old question", "greet", "joy"), {"event": "action", "name": "utter_greet"}]
    tracker = handoff_tracker([user("human please", "request_human", "sadness")], before=old)
    run_action(ActionHandoff(), tracker, domain)
    [ticket] = tickets(fresh_db)
    assert [h["intent"] for h in ticket.history] == ["request_human"]
    assert ticket.summary == "human please"


def test_inside_business_hours(fresh_db, domain, office_hours):
    messages, events = run_action(ActionHandoff(), handoff_tracker(ANGRY_TURNS, VERIFIED), domain)
    assert responses(messages) == ["utter_handoff"]
    assert events[-1]["event"] == "pause"


def test_after_hours_offers_an_email_follow_up(fresh_db, domain, office_hours, monkeypatch):
    monkeypatch.setattr(ActionHandoff, "clock", staticmethod(lambda: SATURDAY_NOON))
    messages, events = run_action(ActionHandoff(), handoff_tracker(ANGRY_TURNS, VERIFIED), domain)
    assert responses(messages) == ["utter_handoff_after_hours"]
    text = rendered(domain, messages[0])
    assert ALEX in text and "Mon-Fri 09:00-18:00 (Europe/Berlin)" in text and "Monday at 09:00" in text
    assert events == []  # nobody is there to hold the conversation: the bot keeps answering
    [ticket] = tickets(fresh_db)
    assert ticket.after_hours is True and ticket.follow_up == "email" and ticket.follow_up_email == ALEX

    # Asking again finds the open ticket and still does not pause.
    messages, events = run_action(ActionHandoff(), handoff_tracker(ANGRY_TURNS, VERIFIED), domain)
    assert responses(messages) == ["utter_handoff_ticket_exists"] and events == []


def test_after_hours_without_a_known_email_points_to_support(fresh_db, domain, office_hours, monkeypatch):
    monkeypatch.setattr(ActionHandoff, "clock", staticmethod(lambda: SATURDAY_NOON))
    messages, events = run_action(ActionHandoff(), handoff_tracker([user("human", "request_human")]), domain)
    assert responses(messages) == ["utter_handoff_after_hours_no_email"]
    assert "help@shop.example" in rendered(domain, messages[0])
    [ticket] = tickets(fresh_db)
    assert ticket.follow_up == "email" and ticket.follow_up_email is None


def test_dead_database_says_how_to_reach_a_person(dead_db, domain, in_hours, monkeypatch):
    monkeypatch.setenv("SHOP_SUPPORT_EMAIL", "help@shop.example")
    messages, events = run_action(ActionHandoff(), handoff_tracker(ANGRY_TURNS, VERIFIED), domain)
    assert responses(messages) == ["utter_service_unavailable", "utter_handoff_unavailable"]
    assert "help@shop.example" in rendered(domain, messages[1])
    assert events == []  # nothing paused: nobody would know to pick the conversation up


def test_handoff_responses_exist(domain):
    for name in ("utter_handoff", "utter_handoff_after_hours", "utter_handoff_after_hours_no_email",
                 "utter_handoff_ticket_exists", "utter_handoff_unavailable"):
        assert name in domain["responses"], name


# A new Rasa session while the handoff is open (HandoffPolicy's ``open_handoff_carried_over``).
EARLIER_SESSION: List[Dict[str, Any]] = [
    {"event": "session_started"},
    user("I want to talk to a person", "request_human", ts=1717416000.0),
    {"event": "action", "name": "action_handoff"},
    {"event": "slot", "name": "handoff_active", "value": True},
    {"event": "pause"},
    user("hello? it's been two weeks", "complaint", ts=1717416060.0),  # to the agent; the bot is paused
]


def first_handoff() -> Tracker:
    """The earlier session's handoff, as action_handoff saw it (it opens the ticket)."""
    request = user("I want to talk to a person", "request_human")
    return handoff_tracker([request], policy_reason="explicit_request")


CARRIED_OVER_TURN = [user("anyone there?", "greet", ts=1717416060.0 + 7200)]


def test_new_session_while_the_ticket_is_open_returns_it_and_pauses_again(fresh_db, domain, office_hours):
    run_action(ActionHandoff(), first_handoff(), domain)
    [opened] = tickets(fresh_db)

    carried = handoff_tracker(CARRIED_OVER_TURN, policy_reason=CARRIED_OVER, before=EARLIER_SESSION)
    messages, events = run_action(ActionHandoff(), carried, domain)
    assert responses(messages) == ["utter_handoff_still_open"]
    assert f"#{opened.id}" in rendered(domain, messages[0])
    assert slot_events(events) == {"handoff_active": True} and events[-1]["event"] == "pause"
    [ticket] = tickets(fresh_db)  # no second ticket
    assert ticket.id == opened.id and ticket.status == "waiting" and ticket.reason == "explicit_request"


def test_new_session_after_the_ticket_was_closed_does_not_reopen_it(fresh_db, domain, office_hours):
    run_action(ActionHandoff(), first_handoff(), domain)
    [opened] = tickets(fresh_db)
    HandoffDesk(fresh_db).close(opened.id, "alice", "refund sent")  # closed without resuming the tracker

    carried = handoff_tracker(CARRIED_OVER_TURN, policy_reason=CARRIED_OVER, before=EARLIER_SESSION)
    messages, events = run_action(ActionHandoff(), carried, domain)
    assert responses(messages) == ["utter_handoff_ended"]
    rendered(domain, messages[0])  # no placeholder left unfilled
    assert slot_events(events) == {"handoff_active": False}
    assert all(event["event"] != "pause" for event in events)  # nobody holds it: the bot answers again
    assert [ticket.status for ticket in tickets(fresh_db)] == ["closed"]


def test_carried_over_handoff_responses_exist(domain):
    for name in ("utter_handoff_still_open", "utter_handoff_ended"):
        assert name in domain["responses"], name
