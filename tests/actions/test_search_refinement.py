"""Multi-turn search refinement: filters kept and updated, new searches, and "the second one"."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest
from rasa_sdk import Tracker

from actions.products import (
    ActionCheckAvailability,
    ActionProductInfo,
    ActionSearchProducts,
    ValidateProductSearchForm,
    ordinal_reference,
    search_history,
)
from shop import ShopService
from tests.actions.conftest import make_tracker, responses, run_action, slot_events


@pytest.fixture(scope="module")
def svc(shop_db: str) -> ShopService:
    return ShopService(shop_db)


def _entity(kind: str, value: str, role: Optional[str] = None) -> Dict[str, Any]:
    entity = {"entity": kind, "value": value}
    if role:
        entity["role"] = role
    return entity


def conversation(
    turns: List[Dict[str, Any]], slots: Dict[str, Any], latest_action: str = "action_listen"
) -> Tracker:
    """A tracker after a few turns: each turn is a user message, optionally followed by the search.

    ``turns``: ``{"text", "intent", "entities", "search": bool}``; the last turn is the latest message.
    """
    events: List[Dict[str, Any]] = []
    for turn in turns:
        entities = turn.get("entities", [])
        events.append({"event": "user", "text": turn["text"],
                       "parse_data": {"intent": {"name": turn["intent"]}, "entities": entities}})
        for entity in entities:
            name = "max_price" if entity["entity"] == "price" else entity["entity"]
            events.append({"event": "slot", "name": name, "value": entity["value"]})
        if turn.get("search"):
            events.append({"event": "action", "name": "action_search_products"})
            events += [{"event": "slot", "name": k, "value": v} for k, v in turn.get("after", {}).items()]
            events.append({"event": "action", "name": "action_listen"})
    last = turns[-1]
    latest = {"text": last["text"], "intent": {"name": last["intent"], "confidence": 0.99},
              "entities": last.get("entities", [])}
    return Tracker("refiner", dict(slots), latest, events, False, None, {}, latest_action)


@pytest.mark.parametrize(
    "text, index",
    [
        ("the second one, is it in size 44?", 1),
        ("tell me about the first", 0),
        ("the last one please", -1),
        ("is the 3rd one in stock", 2),
        ("number 2", 1),
        ("what about that one", None),
        ("I want red shoes", None),
        ("first of all, hi", None),
        (None, None),
    ],
)
def test_ordinal_references(text, index):
    assert ordinal_reference(text) == index


def test_search_history_reads_category_and_filters_named_since():
    tracker = conversation(
        [
            {"text": "show me shoes", "intent": "search_product",
             "entities": [_entity("category", "shoes")], "search": True},
            {"text": "in red", "intent": "inform", "entities": [_entity("color", "red")], "search": True},
            {"text": "under 80", "intent": "inform", "entities": [_entity("price", "80", "max")]},
        ],
        {"category": "shoes", "color": "red", "max_price": "80"},
    )
    searched, category, named = search_history(tracker)
    assert searched and category == "shoes" and named == {"max_price"}


def test_refinement_keeps_and_updates_filters(svc, domain):
    first = svc.search_products(category="shoes", color="red", limit=5)
    tracker = conversation(
        [
            {"text": "show me running shoes", "intent": "search_product",
             "entities": [_entity("category", "shoes")], "search": True},
            {"text": "in red", "intent": "inform", "entities": [_entity("color", "red")], "search": True,
             "after": {"listed_products": [p.name for p in first.products]}},
            {"text": "under 80", "intent": "inform", "entities": [_entity("price", "80", "max")]},
        ],
        {"category": "shoes", "color": "red", "max_price": "80",
         "listed_products": [p.name for p in first.products]},
    )
    expected = svc.search_products(category="shoes", color="red", max_price=80, limit=5)
    messages, events = run_action(ActionSearchProducts(), tracker, domain)
    slots = slot_events(events)
    assert "color" not in slots and "category" not in slots  # kept as they were
    if expected.products:
        assert responses(messages) == ["utter_search_results"]
        assert slots["listed_products"] == [p.name for p in expected.products]
        assert "red shoes under $80.00" in messages[0]["what"]
    else:
        assert responses(messages)[0].startswith("utter_no_results")
        assert "listed_products" not in slots  # the earlier list still stands


def test_inform_with_nothing_to_refine_is_not_understood(domain):
    tracker = conversation(
        [
            {"text": "show me shoes", "intent": "search_product",
             "entities": [_entity("category", "shoes")], "search": True},
            {"text": "hmm okay", "intent": "inform"},
        ],
        {"category": "shoes", "listed_products": ["A", "B"]},
    )
    messages, events = run_action(ActionSearchProducts(), tracker, domain)
    assert responses(messages) == ["utter_default"]
    assert events == []


def test_cheaper_lowers_the_price_limit_below_the_cheapest_listed(svc, domain):
    listed = svc.search_products(category="jackets", limit=5).products
    cheapest = min(p.price for p in listed)
    tracker = conversation(
        [
            {"text": "jackets", "intent": "inform", "entities": [_entity("category", "jackets")],
             "search": True},
            {"text": "cheaper ones", "intent": "inform"},
        ],
        {"category": "jackets", "listed_products": [p.name for p in listed]},
    )
    messages, events = run_action(ActionSearchProducts(), tracker, domain)
    limit = float(slot_events(events)["max_price"])
    assert limit < cheapest
    if responses(messages) == ["utter_search_results"]:
        for name in slot_events(events)["listed_products"]:
            assert svc.get_product(name).price <= limit


def test_a_new_category_drops_the_old_filters(domain):
    tracker = conversation(
        [
            {"text": "red shoes", "intent": "search_product",
             "entities": [_entity("category", "shoes"), _entity("color", "red")], "search": True},
            {"text": "only Northwind", "intent": "inform", "entities": [_entity("brand", "Northwind")],
             "search": True},
            {"text": "show me jackets under 300", "intent": "search_product",
             "entities": [_entity("category", "jackets"), _entity("price", "300", "max")]},
        ],
        {"category": "jackets", "color": "red", "brand": "Northwind", "max_price": "300"},
        latest_action="product_search_form",
    )
    messages, events = run_action(ActionSearchProducts(), tracker, domain)
    slots = slot_events(events)
    assert slots["color"] is None and slots["brand"] is None
    assert "max_price" not in slots  # named again, kept
    assert "jackets" in messages[0]["what"] and "red" not in messages[0]["what"]


def test_start_over_clears_the_filters_so_the_form_asks_again(domain):
    tracker = make_tracker(
        slots={"category": "shoes", "color": "red", "max_price": "80"},
        text="let's start over", intent="search_product", active_loop="product_search_form",
    )
    _, events = run_action(ValidateProductSearchForm(), tracker, domain)
    slots = slot_events(events)
    assert slots["category"] is None and slots["color"] is None and slots["max_price"] is None


def test_same_category_search_keeps_the_filters(domain):
    tracker = make_tracker(
        slots={"category": "shoes", "color": "red"}, text="show me shoes", intent="search_product",
        entities=[_entity("category", "shoes")], active_loop="product_search_form",
    )
    _, events = run_action(ValidateProductSearchForm(), tracker, domain)
    assert "color" not in slot_events(events)


def test_ordinal_resolves_to_the_listed_product_for_details_and_stock(svc, domain):
    listed = [p.name for p in svc.search_products(category="shoes", limit=5).products]
    assert len(listed) >= 2
    tracker = make_tracker(slots={"listed_products": listed, "product": listed[0]},
                           text="tell me about the second one", intent="product_info")
    messages, events = run_action(ActionProductInfo(), tracker, domain)
    assert responses(messages)[0] == "utter_product_details"
    assert messages[0]["name"] == listed[1] and slot_events(events)["product"] == listed[1]

    details = svc.get_product(listed[-1])
    size = details.variants[0].size
    tracker = make_tracker(slots={"listed_products": listed, "size": size},
                           text=f"is the last one in size {size}?", intent="check_availability",
                           entities=[_entity("size", size)])
    messages, events = run_action(ActionCheckAvailability(), tracker, domain)
    expected = svc.check_availability(listed[-1], size=size)
    assert responses(messages) == ["utter_in_stock" if expected.in_stock else "utter_out_of_stock"]
    assert slot_events(events)["product"] == listed[-1]


def test_ordinal_beyond_the_list_and_that_one(domain):
    tracker = make_tracker(slots={"listed_products": ["Only Product"]}, text="the third one",
                           intent="product_info")
    messages, _ = run_action(ActionProductInfo(), tracker, domain)
    assert responses(messages) == ["utter_ask_which_product"]
    tracker = make_tracker(slots={"listed_products": ["A", "B"]}, text="what about that one",
                           intent="product_info")
    messages, _ = run_action(ActionProductInfo(), tracker, domain)
    assert responses(messages) == ["utter_ask_which_product"]


def test_availability_keeps_the_search_colour_but_not_the_size_asked(svc, domain):
    listed = [p.name for p in svc.search_products(category="shoes", limit=5).products]
    tracker = conversation(
        [
            {"text": "red shoes", "intent": "search_product",
             "entities": [_entity("category", "shoes"), _entity("color", "red")], "search": True},
            {"text": "the first one in 42?", "intent": "check_availability",
             "entities": [_entity("size", "42")]},
        ],
        {"category": "shoes", "color": "red", "size": "42", "listed_products": listed},
    )
    _, events = run_action(ActionCheckAvailability(), tracker, domain)
    slots = slot_events(events)
    assert slots["size"] is None and "color" not in slots and slots["product"] == listed[0]


def test_a_search_that_finds_nothing_keeps_the_earlier_list(domain):
    listed = ["Larkspur Trail Shoes", "Maple Court Shoes"]
    tracker = conversation(
        [
            {"text": "red shoes", "intent": "search_product",
             "entities": [_entity("category", "shoes"), _entity("color", "red")], "search": True},
            {"text": "under 1", "intent": "inform", "entities": [_entity("price", "1", "max")]},
        ],
        {"category": "shoes", "color": "red", "max_price": "1", "listed_products": listed},
    )
    messages, events = run_action(ActionSearchProducts(), tracker, domain)
    assert responses(messages) == ["utter_no_results_relax"]
    assert "listed_products" not in slot_events(events) and "product" not in slot_events(events)
