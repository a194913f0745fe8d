"""Feedback storage and every action's behaviour when the database is down."""
from __future__ import annotations

from sqlalchemy import select

from actions.feedback import ActionRecordFeedback
from actions.orders import ActionHandleConfirmation, ActionHandleOrderRequest, ValidateOrderForm
from actions.products import (
    ActionCheckAvailability,
    ActionProductInfo,
    ActionRecommendProducts,
    ActionSearchProducts,
)
from shop.db import get_engine
from shop.models import Feedback
from tests.actions.conftest import ALEX, make_tracker, responses, run_action, slot_events


def _feedback_rows(url):
    with get_engine(url).connect() as conn:
        return conn.execute(select(Feedback.sender_id, Feedback.text)).all()


def test_feedback_is_stored(fresh_db, domain):
    text = "The size guide could show inches too <b>please</b> 🙂"
    tracker = make_tracker(text=text, intent="give_feedback", sender_id="shopper-42")
    messages, events = run_action(ActionRecordFeedback(), tracker, domain)
    assert responses(messages) == ["utter_feedback_thanks"]
    assert events == []
    assert ("shopper-42", text) in _feedback_rows(fresh_db)


def test_huge_feedback_is_capped(fresh_db, domain):
    tracker = make_tracker(text="a" * 100_000, intent="give_feedback", sender_id="shopper-43")
    run_action(ActionRecordFeedback(), tracker, domain)
    stored = [t for s, t in _feedback_rows(fresh_db) if s == "shopper-43"]
    assert len(stored) == 1 and 0 < len(stored[0]) <= 2000


def test_every_action_survives_a_dead_database(dead_db, domain):
    order_slots = {"order_id": "SA-100003", "email": ALEX, "order_verified": True, "order_task": "cancel",
                   "pending_confirmation": "cancel:SA-100003"}
    cases = [
        (ActionSearchProducts(), {"category": "jackets"}),
        (ActionProductInfo(), {"product": "Ridgeline Rain Jacket"}),
        (ActionCheckAvailability(), {"product": "Ridgeline Rain Jacket", "size": "M"}),
        (ActionRecommendProducts(), {}),
        (ActionHandleOrderRequest(), order_slots),
        (ActionHandleConfirmation(), order_slots),
        (ActionRecordFeedback(), {}),
    ]
    for action, slots in cases:
        tracker = make_tracker(slots=slots, text="hello there", intent="affirm")
        messages, _ = run_action(action, tracker, domain)
        assert responses(messages) == ["utter_service_unavailable"], action.name()


def test_order_form_ends_unverified_when_the_database_is_down(dead_db, domain):
    tracker = make_tracker(new_slots={"order_id": "SA-100001"}, requested_slot="order_id",
                           active_loop="order_form")
    messages, events = run_action(ValidateOrderForm(), tracker, domain)
    assert responses(messages) == ["utter_service_unavailable"]
    slots = slot_events(events)
    assert slots["order_verified"] is False and slots["requested_slot"] is None
