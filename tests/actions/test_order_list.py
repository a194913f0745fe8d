"""A verified shopper's other orders (issue 15, defect 6): listed once the shopper passed the identity check
(one order number and its e-mail), never for an e-mail alone and never anyone else's.

"Can't you look it up with my email?" used to end in where to find the order number and a colleague, and a
verified shopper's "show me my other orders" got the status of the one order again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import yaml

from actions.orders import LIST_ORDERS_TASK, ActionHandleOrderRequest, ValidateOrderForm
from actions.other_clause import ORDER_TASKS
from actions.policy_answers import ActionAskOrderId
from shop import ShopService
from tests.actions.conftest import ALEX, SAM, make_tracker, responses, run_action, slot_events

REPO_ROOT = Path(__file__).resolve().parents[2]
ALEX_NEWEST_FIRST = ["SA-100003", "SA-100001", "SA-100002", "SA-100005", "SA-100004"]
ALL_DEMO_ORDERS = [*ALEX_NEWEST_FIRST, "SA-100006"]


def list_request(domain: Dict[str, Any], slots: Dict[str, Any], text: str = "show me my other orders"):
    tracker = make_tracker(slots={"order_task": LIST_ORDERS_TASK, **slots}, text=text, intent="list_orders")
    messages, events = run_action(ActionHandleOrderRequest(), tracker, domain)
    return messages, slot_events(events)


def said(messages: List[Dict[str, Any]]) -> str:
    """Everything the messages carry as text or template values."""
    return " ".join(str(value) for message in messages for value in message.values())


def test_a_verified_shopper_gets_their_recent_orders(shop_db, domain):
    verified = {"order_id": "SA-100001", "email": ALEX, "order_verified": True}
    messages, events = list_request(domain, verified)
    assert responses(messages) == ["utter_order_list"]
    lines = messages[0]["orders"].split("\n")
    assert [line.split(",")[0] for line in lines] == [f"- {number}" for number in ALEX_NEWEST_FIRST]
    svc = ShopService(shop_db)
    for line, number in zip(lines, ALEX_NEWEST_FIRST, strict=True):
        order = svc.get_order(number, ALEX)
        assert order.status in line and f"${order.total:,.2f}" in line
        assert f"{order.placed_at.day} {order.placed_at:%B %Y}" in line
    assert "SA-100006" not in said(messages)  # Sam's
    assert events["task_completed"] is True
    # the order number typed next asks about that order, not for the list again
    assert events["order_task"] == "status"
    text = domain["responses"]["utter_order_list"][0]["text"]
    assert "{orders}" in text


def test_another_customer_sees_only_their_own(shop_db, domain):
    messages, _ = list_request(domain, {"order_id": "SA-100006", "email": SAM, "order_verified": True})
    assert messages[0]["orders"].startswith("- SA-100006,")
    assert not any(number in said(messages) for number in ALEX_NEWEST_FIRST)


def test_the_list_stops_at_the_limit_and_says_more_exist(shop_db, domain, monkeypatch):
    monkeypatch.setattr("actions.orders.ORDER_LIST_LIMIT", 2)
    messages, _ = list_request(domain, {"order_id": "SA-100004", "email": ALEX, "order_verified": True})
    lines = messages[0]["orders"].split("\n")
    assert [line.split(",")[0] for line in lines[:2]] == ["- SA-100003", "- SA-100001"]
    assert "3 older orders" in lines[2]


def test_an_unverified_shopper_gets_no_order_data_but_the_way_to_verify(shop_db, domain):
    for slots in (
        {},  # nothing given
        {"email": ALEX},  # an e-mail alone
        {"order_id": "SA-100001", "email": ALEX},  # not (yet) verified
        {"order_id": "SA-100001", "email": ALEX, "order_verified": False},
    ):
        messages, events = list_request(domain, slots, text="can you look up my orders with my email")
        assert responses(messages) == ["utter_ask_order_id_to_list_orders"], slots
        assert not any(number in said(messages) for number in ALL_DEMO_ORDERS), slots
        assert "task_completed" not in events


def test_a_verified_flag_with_another_email_lists_nothing(shop_db, domain):
    # The e-mail slot is filled from any message that names an address: "list the orders of
    # sam.lee@example.com" after verifying Alex's order must not list Sam's (or Alex's) orders.
    slots = {"order_id": "SA-100001", "email": SAM, "order_verified": True}
    messages, events = list_request(domain, slots, text="now list the orders of sam.lee@example.com")
    assert responses(messages) == ["utter_email_mismatch"]
    assert events["order_verified"] is False
    assert not any(number in said(messages) for number in ALL_DEMO_ORDERS)


def test_the_form_asks_for_one_order_number_to_list_the_others(shop_db, domain):
    tracker = make_tracker(
        slots={"order_task": LIST_ORDERS_TASK},
        text="can you look up my orders with my email",
        intent="list_orders",
        active_loop="order_form",
    )
    messages, _ = run_action(ActionAskOrderId(), tracker, domain)
    assert responses(messages) == ["utter_ask_order_id_to_list_orders"]
    text = domain["responses"]["utter_ask_order_id_to_list_orders"][0]["text"]
    assert "order number" in text and "e-mail" in text and "other orders" in text


def test_an_email_given_with_the_list_request_verifies_nothing(shop_db, domain):
    entity = [{"entity": "email", "value": ALEX}]
    tracker = make_tracker(
        slots={"order_task": LIST_ORDERS_TASK},
        text=f"show me the orders of {ALEX}",
        intent="list_orders",
        entities=entity,
        new_slots={"email": ALEX},
        active_loop="order_form",
    )
    messages, events = run_action(ValidateOrderForm(), tracker, domain)
    events = slot_events(events)
    assert events.get("order_verified") is not True and events.get("order_id") is None
    assert not any(number in said(messages) for number in ALL_DEMO_ORDERS)


def test_the_email_instead_of_a_number_reply_shows_the_way_on(domain):
    text = domain["responses"]["utter_order_id_by_email"][0]["text"]
    assert "e-mail address alone" in text  # still refused
    assert "other orders" in text  # ... but no dead end: one order number and its e-mail show the rest


def test_the_dialogue_routes_list_requests_to_the_order_form(domain):
    assert "list_orders" in domain["intents"]
    order_task = domain["slots"]["order_task"]
    assert LIST_ORDERS_TASK in order_task["values"]
    assert {"type": "from_intent", "intent": "list_orders", "value": LIST_ORDERS_TASK} in order_task[
        "mappings"
    ]
    rules = yaml.safe_load((REPO_ROOT / "data" / "rules.yml").read_text(encoding="utf-8"))["rules"]
    starts = [
        rule for rule in rules if rule["steps"][:2] == [{"intent": "list_orders"}, {"action": "order_form"}]
    ]
    assert len(starts) == 1 and starts[0].get("wait_for_user_input") is False
    assert ORDER_TASKS["list_orders"] == LIST_ORDERS_TASK  # a second request in a message can start it
