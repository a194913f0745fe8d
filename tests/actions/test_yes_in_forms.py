"""Issue 15: "yes" right after a question of the order form (or the search form). The form rejects the
message (it holds no slot value), the rules run action_handle_confirmation, and the form asks again. A
yes that answers the question acts; any other yes gets a hint instead of "Okay! Let me know what you'd
like to do next." (which read as if the bot had dropped the request)."""
from __future__ import annotations

from typing import Any, Dict, List

import pytest
from rasa_sdk import Tracker

from actions.orders import YES_HINT_SLOTS, ActionHandleConfirmation, ActionHandleOrderRequest
from shop import ShopService
from tests.actions.conftest import ALEX, make_tracker, responses, run_action, slot_events

YES = {"intent": "affirm", "text": "yes"}


def yes_in(form: str, requested: str, **slots: Any) -> Tracker:
    return make_tracker(slots=slots, active_loop=form, requested_slot=requested, **YES)


def test_every_hint_is_a_domain_response(domain):
    assert {f"utter_yes_in_form_{slot}" for slot in YES_HINT_SLOTS} <= set(domain["responses"])


@pytest.mark.parametrize(
    ("requested", "slots"),
    [
        ("order_id", {"order_task": "status"}),
        ("email", {"order_task": "status", "order_id": "SA-100001"}),
        ("new_address", {"order_task": "change_address", "order_id": "SA-100003", "email": ALEX,
                         "order_verified": True}),
        ("return_reason", {"order_task": "return", "order_id": "SA-100002", "email": ALEX,
                           "order_verified": True, "return_item": "Cloudline Pullover Hoodie"}),
    ],
)
def test_yes_to_an_order_form_question_gets_a_hint_not_okay(shop_db, domain, requested, slots):
    tracker = yes_in("order_form", requested, **slots)
    messages, events = run_action(ActionHandleConfirmation(), tracker, domain)
    assert responses(messages) == [f"utter_yes_in_form_{requested}"]
    assert events == []  # nothing is filled: the form asks its question again


def test_yes_to_which_item_of_a_one_item_order_takes_that_item(shop_db, domain):
    order = ShopService(shop_db).get_order("SA-100097", "jamie.reyes@example.org")
    assert len(order.items) == 1 and order.status == "delivered"
    tracker = yes_in("order_form", "return_item", order_task="return", order_id="SA-100097",
                     email="jamie.reyes@example.org", order_verified=True)
    messages, events = run_action(ActionHandleConfirmation(), tracker, domain)
    assert messages == []  # the form goes on to ask the reason
    assert slot_events(events) == {"return_item": order.items[0].name}


def test_yes_to_which_item_of_several_asks_which(shop_db, domain):
    tracker = yes_in("order_form", "return_item", order_task="return", order_id="SA-100002", email=ALEX,
                     order_verified=True)
    messages, events = run_action(ActionHandleConfirmation(), tracker, domain)
    assert responses(messages) == ["utter_yes_in_form_return_item"]
    assert events == []


def test_yes_to_what_are_you_looking_for_gets_a_hint(shop_db, domain):
    messages, events = run_action(
        ActionHandleConfirmation(), yes_in("product_search_form", "category"), domain
    )
    assert responses(messages) == ["utter_yes_in_form_category"]
    assert events == []


def test_yes_outside_a_form_with_nothing_pending_is_still_okay(shop_db, domain):
    messages, _ = run_action(ActionHandleConfirmation(), make_tracker(**YES), domain)
    assert responses(messages) == ["utter_ok"]


# --------------------------------------------------- "yes, cancel it" read as a cancel request


def _asked_to_cancel(order_id: str, text: str, intent: str) -> Tracker:
    """The tracker when the shopper answers "Do you really want to cancel order ...?" with ``text``
    read as ``intent``; the order form ran again and verified the order."""
    slots = {"order_id": order_id, "email": ALEX, "order_verified": True, "order_task": "cancel",
             "pending_confirmation": f"cancel:{order_id}"}
    events: List[Dict[str, Any]] = [
        {"event": "user", "text": f"cancel order {order_id}",
         "parse_data": {"intent": {"name": "cancel_order"}}},
        {"event": "action", "name": "action_handle_order_request"},
        {"event": "bot", "text": "Do you really want to cancel ...?",
         "metadata": {"utter_action": "utter_confirm_cancel"}},
        {"event": "slot", "name": "pending_confirmation", "value": f"cancel:{order_id}"},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}},
        {"event": "action", "name": "order_form"},
    ]
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []}
    return Tracker("shopper", slots, latest, events, False, None, {}, "order_form")


def test_yes_cancel_it_read_as_a_cancel_request_cancels(fresh_db, domain):
    # Before: the order form ran again and the bot asked "Do you really want to cancel ...?" once more.
    tracker = _asked_to_cancel("SA-100003", "yes cancel it", "cancel_order")
    messages, events = run_action(ActionHandleOrderRequest(), tracker, domain)
    assert responses(messages) == ["utter_order_cancelled"]
    assert slot_events(events)["pending_confirmation"] is None
    assert slot_events(events)["task_completed"] is True
    assert ShopService(fresh_db).get_order("SA-100003", ALEX).status == "cancelled"


def test_a_cancel_request_for_another_order_still_asks_first(fresh_db, domain):
    tracker = _asked_to_cancel("SA-100003", "cancel SA-100003", "cancel_order")
    tracker.slots["pending_confirmation"] = "cancel:SA-100025"
    tracker.events[3]["value"] = "cancel:SA-100025"
    messages, _ = run_action(ActionHandleOrderRequest(), tracker, domain)
    assert responses(messages) == ["utter_confirm_cancel"]
    assert ShopService(fresh_db).get_order("SA-100003", ALEX).status == "paid"
