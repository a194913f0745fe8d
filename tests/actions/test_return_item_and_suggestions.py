"""Issue 4 in the dialogue: the return flow resolves "the hoodie" against the order's items, and product
details / "what goes with it?" suggest co-purchased and similar products."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from actions.orders import (
    ActionAskReturnItem,
    ValidateOrderForm,
    item_buttons,
    matching_items,
    return_item_hints,
)
from actions.products import ActionProductInfo, ActionRecommendProducts
from shop import ShopService
from shop.db import get_engine
from shop.search import invalidate
from tests.actions.conftest import ALEX, make_tracker, responses, run_action, slot_events

HOODIE = "Cloudline Pullover Hoodie"


def _entity(name, value):
    return {"entity": name, "value": value}


def _user(intent, entities=()):
    parse = {"intent": {"name": intent}, "entities": list(entities)}
    return {"event": "user", "text": "...", "parse_data": parse}


def with_history(tracker, *earlier):
    """``tracker`` with ``earlier`` events before its latest message (whose parse data, entities included,
    is put on its user event, as Rasa does)."""
    for event in tracker.events:
        if event.get("event") == "user":
            event["parse_data"] = dict(tracker.latest_message)
    tracker.events = list(earlier) + list(tracker.events)
    return tracker


def email_turn(domain, *earlier, order_id="SA-100002"):
    tracker = make_tracker(
        slots={"order_task": "return", "order_id": order_id}, new_slots={"email": ALEX},
        text=ALEX, requested_slot="email", active_loop="order_form",
        entities=[_entity("email", ALEX)],
    )
    messages, events = run_action(ValidateOrderForm(), with_history(tracker, *earlier), domain)
    return responses(messages), slot_events(events)


# ------------------------------------------------------------------------------------ return item
def test_the_category_named_in_the_request_picks_the_item(shop_db, domain):
    said, slots = email_turn(
        domain, _user("return_item", [_entity("category", "hoodies"), _entity("order_id", "SA-100002")])
    )
    assert said == []
    assert slots["order_verified"] is True
    assert slots["return_item"] == HOODIE
    assert slots["requested_slot"] == "return_reason"


def test_without_a_hint_the_form_asks_which_item(shop_db, domain):
    _, slots = email_turn(domain, _user("return_item", [_entity("order_id", "SA-100002")]))
    assert "return_item" not in slots
    assert slots["requested_slot"] == "return_item"


def test_hints_from_before_the_return_request_do_not_count(shop_db, domain):
    _, slots = email_turn(
        domain,
        _user("search_product", [_entity("category", "hoodies")]),
        _user("return_item", [_entity("order_id", "SA-100002")]),
    )
    assert slots["requested_slot"] == "return_item"


def test_a_hint_matching_nothing_in_the_order_asks(shop_db, domain):
    _, slots = email_turn(domain, _user("return_item", [_entity("category", "jackets")]))
    assert slots["requested_slot"] == "return_item"


def test_hints_read_from_the_return_request_on():
    tracker = with_history(
        make_tracker(text="the grey one", entities=[_entity("color", "grey")]),
        _user("product_info", [_entity("product", "Something else")]),
        _user("return_item", [_entity("category", "hoodies"), _entity("brand", "Northwind")]),
    )
    assert return_item_hints(tracker) == {"category": "hoodies", "brand": "Northwind", "color": "grey"}


def _line(name, category, color, sku):
    return SimpleNamespace(name=name, category=category, color=color, size="M", sku=sku)


TWO_SHOES = SimpleNamespace(items=[
    _line("Stride Runner", "shoes", "white", "SHO-1"),
    _line("Trail Boot", "shoes", "brown", "SHO-2"),
    _line(HOODIE, "hoodies", "grey", "HOD-1"),
])


@pytest.mark.parametrize(
    "hints, names",
    [
        ({"category": "shoes"}, ["Stride Runner", "Trail Boot"]),
        ({"category": "shoe", "color": "brown"}, ["Trail Boot"]),
        ({"product": "the hoodie"}, [HOODIE]),
        ({"brand": "Kestrel"}, ["Trail Boot"]),
        ({"category": "jackets"}, []),
        ({}, []),
    ],
)
def test_matching_items(hints, names):
    found = matching_items(TWO_SHOES, hints, brands={"SHO-2": "Kestrel", "SHO-1": "Bluefin"})
    assert [line.name for line in found] == names


def test_several_matches_are_asked_with_buttons_of_those_only(monkeypatch, domain):
    monkeypatch.setattr(ValidateOrderForm, "_verified_order", staticmethod(lambda tracker: TWO_SHOES))
    tracker = with_history(make_tracker(text=ALEX), _user("return_item", [_entity("category", "shoes")]))
    messages, _ = run_action(ActionAskReturnItem(), tracker, domain)
    assert responses(messages) == ["utter_ask_return_item"]
    titles = [b["title"] for b in messages[0]["buttons"]]
    assert titles == ["Stride Runner (white, M)", "Trail Boot (brown, M)"]
    assert messages[0]["buttons"][1]["payload"] == '/inform{"product": "Trail Boot"}'


def test_the_question_lists_every_item_without_a_hint(shop_db, domain):
    tracker = make_tracker(slots={"order_id": "SA-100002", "email": ALEX, "order_verified": True}, text=ALEX)
    messages, _ = run_action(ActionAskReturnItem(), tracker, domain)
    titles = [b["title"] for b in messages[0]["buttons"]]
    assert len(titles) == 2 and titles[0].startswith(HOODIE)


def test_item_buttons_quote_names_safely():
    buttons = item_buttons([_line('The "Best" Tee', "t-shirts", "red", "T-1")])
    assert buttons[0]["payload"] == '/inform{"product": "The \\"Best\\" Tee"}'


# ------------------------------------------------------------------------------------ suggestions
def _suggested(messages):
    return [b["title"] for m in messages if m.get("response") == "utter_product_suggestions"
            for b in m.get("buttons") or []]


def test_product_details_come_with_suggestions(shop_db, domain):
    svc = ShopService(shop_db)
    tracker = make_tracker(slots={"product": HOODIE}, intent="product_info")
    messages, events = run_action(ActionProductInfo(), tracker, domain)
    assert responses(messages) == ["utter_product_details", "utter_product_suggestions"]
    titles = _suggested(messages)
    assert titles and HOODIE not in titles and len(titles) == len(set(titles))
    for name in titles:
        assert svc.check_availability(name).in_stock, name
    also = [p.name for p in svc.also_bought(HOODIE, limit=3)]
    assert messages[1]["suggestions"].startswith("Customers who bought it also bought:")
    assert titles[: len(also)] == also
    assert messages[1]["buttons"][0]["payload"].startswith("/product_info{")
    assert slot_events(events)["task_completed"] is True


def test_out_of_stock_products_are_never_suggested(fresh_db, domain):
    svc = ShopService(fresh_db)
    also = [p.name for p in svc.also_bought(HOODIE, limit=3)]
    assert also
    with get_engine(fresh_db).begin() as connection:  # sell out the first co-purchase
        connection.execute(sa.text(
            "UPDATE product_variants SET stock = 0"
            " WHERE product_id = (SELECT id FROM products WHERE name = :n)"
        ), {"n": also[0]})
    invalidate(fresh_db)
    tracker = make_tracker(slots={"product": HOODIE}, intent="product_info")
    messages, _ = run_action(ActionProductInfo(), tracker, domain)
    assert also[0] not in _suggested(messages)


def test_what_goes_with_it_suggests_for_the_product_in_focus(shop_db, domain):
    tracker = make_tracker(slots={"product": HOODIE}, text="what do people buy with it?",
                           intent="recommend_product")
    messages, events = run_action(ActionRecommendProducts(), tracker, domain)
    assert responses(messages) == ["utter_product_suggestions"]
    assert HOODIE not in _suggested(messages)
    assert slot_events(events)["product"] == HOODIE


def test_a_category_in_the_message_asks_for_popular_ones(shop_db, domain):
    tracker = make_tracker(slots={"product": HOODIE, "category": "jackets"}, text="recommend me some jackets",
                           intent="recommend_product", entities=[_entity("category", "jackets")])
    messages, _ = run_action(ActionRecommendProducts(), tracker, domain)
    assert responses(messages) == ["utter_recommendations"]
    assert messages[0]["buttons"]
