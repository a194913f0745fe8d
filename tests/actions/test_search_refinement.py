"""Multi-turn search refinement: filters kept and updated, new searches, and "the second one"."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import yaml
from rasa_sdk import Tracker

from actions.products import (
    ActionCheckAvailability,
    ActionProductInfo,
    ActionSearchProducts,
    ValidateProductSearchForm,
    ordinal_reference,
    search_history,
)
from actions.search_filters import SearchFilters
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
         "listed_products": [p.name for p in first.products],
         "search_filters": {"category": "shoes", "color": "red"}},
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
        {"category": "jackets", "listed_products": [p.name for p in listed],
         "search_filters": {"category": "jackets"}},
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
        {"category": "shoes", "color": "red", "max_price": "1", "listed_products": listed,
         "search_filters": {"category": "shoes", "color": "red"}},
    )
    messages, events = run_action(ActionSearchProducts(), tracker, domain)
    assert responses(messages) == ["utter_no_results_relax"]
    assert "listed_products" not in slot_events(events) and "product" not in slot_events(events)


# --- issue 15: filters that stuck, hid and could not be cleared ------------------------------------------
BLACK_JACKETS_UNDER_100 = {"category": "jackets", "color": "black", "max_price": "100"}


def _after_black_jackets(turn: Dict[str, Any], latest_action: str = "action_listen",
                         slots: Optional[Dict[str, Any]] = None) -> Tracker:
    """A tracker right after "black jackets under 100" was searched, with ``turn`` as the latest message."""
    values = {**BLACK_JACKETS_UNDER_100, "search_filters": dict(BLACK_JACKETS_UNDER_100),
              "listed_products": ["Some Jacket"], **(slots or {})}
    return conversation(
        [
            {"text": "black jackets under 100", "intent": "search_product", "search": True,
             "entities": [_entity("color", "black"), _entity("category", "jackets"),
                          _entity("price", "100", "max")]},
            turn,
        ],
        values,
        latest_action=latest_action,
    )


def test_a_new_search_for_the_same_category_replaces_the_filters(svc, domain):
    tracker = _after_black_jackets(
        {"text": "show me northwind jackets", "intent": "search_product",
         "entities": [_entity("brand", "Northwind"), _entity("category", "jackets")]},
        latest_action="product_search_form",
        slots={"brand": "Northwind"},
    )
    messages, events = run_action(ActionSearchProducts(), tracker, domain)
    slots = slot_events(events)
    assert slots["color"] is None and slots["max_price"] is None
    assert slots["search_filters"]["brand"] == "Northwind" and slots["search_filters"]["color"] is None
    expected = svc.search_products(category="jackets", brand="Northwind", limit=5)
    assert responses(messages) == ["utter_search_results"] and messages[0]["total"] == expected.total
    assert "by Northwind, any colour, any price" in messages[0]["found"]


@pytest.mark.parametrize(
    ("intent", "text", "dropped"),
    [
        ("inform", "any colour is fine and price doesn't matter", ("color", "max_price")),
        ("nlu_fallback", "any colour is fine and price doesn't matter", ("color", "max_price")),
        ("inform", "forget the colour", ("color",)),
        ("nlu_fallback", "price doesn't matter", ("max_price",)),
    ],
)
def test_a_filter_dropped_in_words_is_cleared_and_the_rest_kept(svc, domain, intent, text, dropped):
    tracker = _after_black_jackets({"text": text, "intent": intent})
    messages, events = run_action(ActionSearchProducts(), tracker, domain)
    kept = {k: v for k, v in BLACK_JACKETS_UNDER_100.items() if k not in dropped}
    assert {k: v for k, v in slot_events(events)["search_filters"].items() if v} == kept
    expected = svc.search_products(limit=5, **kept)
    assert responses(messages) == ["utter_search_results"] and messages[0]["total"] == expected.total
    for name in dropped:
        assert {"color": "any colour", "max_price": "any price"}[name] in messages[0]["found"]


@pytest.mark.parametrize("action", [ActionProductInfo(), ActionCheckAvailability()])
def test_dropping_a_filter_reaches_the_search_whatever_the_intent(svc, domain, action):
    """"forget the colour" got the size guide: right after a search it re-runs the search instead."""
    tracker = _after_black_jackets({"text": "forget the colour", "intent": "product_info"})
    messages, events = run_action(action, tracker, domain)
    assert responses(messages) == ["utter_search_results"]
    assert slot_events(events)["search_filters"]["color"] is None
    assert "any colour, under $100.00" in messages[0]["found"]


def test_a_value_in_a_message_not_understood_is_not_applied_later(svc, domain):
    """"under 90" fell back (answered from the help pages), yet filtered the next search."""
    tracker = conversation(
        [
            {"text": "jackets", "intent": "inform", "entities": [_entity("category", "jackets")],
             "search": True},
            {"text": "is 90 a fair price for a coat, under 90 I mean", "intent": "nlu_fallback",
             "entities": [_entity("price", "90", "max")]},
            {"text": "show me blue jackets", "intent": "search_product",
             "entities": [_entity("color", "blue"), _entity("category", "jackets")]},
        ],
        {"category": "jackets", "color": "blue", "max_price": "90",
         "search_filters": {"category": "jackets"}},
        latest_action="product_search_form",
    )
    messages, events = run_action(ActionSearchProducts(), tracker, domain)
    assert slot_events(events)["max_price"] is None
    assert "any price" in messages[0]["found"]


def test_a_plain_price_not_understood_right_after_a_search_refines_it_visibly(svc, domain):
    tracker = _after_black_jackets(
        {"text": "under 90", "intent": "nlu_fallback", "entities": [_entity("price", "90", "max")]}
    )
    messages, events = run_action(ActionSearchProducts(), tracker, domain)
    assert slot_events(events)["search_filters"] == {**BLACK_JACKETS_UNDER_100, "max_price": "90",
                                                     "brand": None, "size": None, "material": None}
    shown = messages[0].get("found") or messages[0].get("what")
    assert "$90.00" in shown


def test_a_question_not_understood_after_a_search_goes_to_the_help_pages(domain, monkeypatch):
    asked = []

    async def knowledge(self, dispatcher, tracker, domain):
        asked.append(tracker.latest_message["text"])
        dispatcher.utter_message(response="utter_default")
        return []

    monkeypatch.setattr("actions.knowledge.ActionAnswerFromKnowledge.run", knowledge)
    question = "can I wash the merino jumper at 40?"
    tracker = _after_black_jackets(
        {"text": question, "intent": "nlu_fallback", "entities": [_entity("category", "sweaters")]}
    )
    messages, events = run_action(ActionSearchProducts(), tracker, domain)
    assert asked == [question] and responses(messages) == ["utter_default"]
    assert "search_filters" not in slot_events(events)


def test_not_understood_messages_fill_no_filter_slot(domain):
    """Rasa fills from_entity slots on every message: not from one that fell back."""
    for slot in ("category", "color", "size", "brand", "material", "max_price"):
        mappings = domain["slots"][slot]["mappings"]
        assert mappings and all(m.get("not_intent") == "nlu_fallback" for m in mappings), slot


def test_material_is_a_filter(svc, domain):
    """"show me leather bags" listed canvas bags."""
    tracker = make_tracker(
        text="show me leather bags", intent="search_product",
        entities=[_entity("material", "leather"), _entity("category", "bags")],
        slots={"category": "bags", "material": "leather"},
    )
    messages, events = run_action(ActionSearchProducts(), tracker, domain)
    names = slot_events(events)["listed_products"]
    assert names and all("leather" in svc.get_product(n).material for n in names)
    assert "leather bags" in messages[0]["found"]


def test_a_material_inside_a_category_phrase_is_read_from_the_words(svc, domain):
    # "wool socks" is one category phrase for the entity extractor
    tracker = make_tracker(text="wool socks", intent="search_product",
                           entities=[_entity("category", "socks")], slots={"category": "socks"})
    _, events = run_action(ActionSearchProducts(), tracker, domain)
    names = slot_events(events)["listed_products"]
    assert slot_events(events)["material"] == "wool"
    assert names and all("wool" in svc.get_product(n).material or "merino" in svc.get_product(n).material
                         for n in names)


def test_the_pipeline_extracts_materials():
    with open(Path(__file__).resolve().parents[2] / "config.yml", encoding="utf-8") as handle:
        pipeline = yaml.safe_load(handle)["pipeline"]
    extractor = next(c for c in pipeline if c["name"].endswith("CatalogEntityExtractor"))
    assert {"category", "color", "size", "brand", "material", "price"} <= set(extractor["entity_types"])


def test_one_result_reads_in_the_singular(svc, domain):
    single = None
    for color in ("black", "white", "red", "blue", "green", "grey", "navy", "yellow", "orange", "purple"):
        for price in ("60", "80", "100", "120", "150"):
            if svc.search_products(category="jackets", color=color, max_price=price).total == 1:
                single = (color, price)
                break
        if single:
            break
    assert single, "the demo catalog has a colour and price with exactly one jacket"
    color, price = single
    tracker = make_tracker(
        text=f"{color} jackets under {price}", intent="search_product",
        entities=[_entity("color", color), _entity("category", "jackets"), _entity("price", price, "max")],
    )
    messages, _ = run_action(ActionSearchProducts(), tracker, domain)
    assert messages[0]["found"].startswith(f"1 matching {color} jacket (")


def test_a_refining_search_request_keeps_the_category_for_the_form(domain):
    tracker = _after_black_jackets(
        {"text": "show me blue ones", "intent": "search_product", "entities": [_entity("color", "blue")]},
        slots={"color": "blue"},
    )
    _, events = run_action(ValidateProductSearchForm(), tracker, domain)
    assert "category" not in slot_events(events)


def test_yes_to_trying_without_a_filter_reruns_the_search_without_it(svc, domain):
    """action_handle_confirmation clears the filter slot and follows up with the search."""
    tracker = _after_black_jackets({"text": "yes", "intent": "affirm"},
                                   latest_action="action_handle_confirmation", slots={"max_price": None})
    messages, events = run_action(ActionSearchProducts(), tracker, domain)
    assert slot_events(events)["search_filters"]["max_price"] is None
    assert slot_events(events)["search_filters"]["color"] == "black"
    assert "any price" in messages[0]["found"]


def test_a_search_the_form_asked_for_applies_the_whole_request_and_nothing_else(svc, domain):
    """"I want to search for a product" -> category question -> (a message not understood) -> "leather
    bags": a new search with what the request named, none of the earlier black/$100 and none of the
    message that fell back."""
    def user(text: str, intent: str, entities: List[Dict[str, Any]]) -> Dict[str, Any]:
        parse = {"intent": {"name": intent}, "entities": entities}
        return {"event": "user", "text": text, "parse_data": parse}

    answer = [_entity("material", "leather"), _entity("category", "bags")]
    events = [
        user("black jackets under 100", "search_product",
             [_entity("color", "black"), _entity("category", "jackets"), _entity("price", "100", "max")]),
        {"event": "action", "name": "action_search_products"},
        {"event": "action", "name": "action_listen"},
        user("I want to search for a product", "search_product", []),
        {"event": "action", "name": "product_search_form"},
        {"event": "active_loop", "name": "product_search_form"},
        {"event": "action", "name": "action_listen"},
        user("whatever under 20 lol", "nlu_fallback", [_entity("price", "20", "max")]),
        {"event": "action", "name": "action_answer_from_knowledge"},
        {"event": "action", "name": "action_listen"},
        user("leather bags", "inform", answer),
        {"event": "action", "name": "product_search_form"},
        {"event": "active_loop", "name": None},
    ]
    latest = {"text": "leather bags", "intent": {"name": "inform", "confidence": 0.9}, "entities": answer}
    slots = {"category": "bags", "material": "leather", "color": None, "max_price": None,
             "search_filters": dict(BLACK_JACKETS_UNDER_100)}
    tracker = Tracker("form", slots, latest, events, False, None, {}, "product_search_form")
    messages, events = run_action(ActionSearchProducts(), tracker, domain)
    applied = {k: v for k, v in slot_events(events)["search_filters"].items() if v}
    assert applied == {"category": "bags", "material": "leather"}
    assert messages[0]["total"] == svc.search_products(category="bags", material="leather").total


# ------------------------------------------------------------ "any brand except Marlow" (issue 15)
def _excluded(kind: str, value: str) -> Dict[str, Any]:
    """An entity the shopper rules out, as CatalogEntityExtractor gives it (it fills no slot)."""
    return {"entity": kind, "value": value, "role": "excluded"}


def test_any_brand_except_marlow_leaves_marlow_out_and_says_so(svc, domain):
    # Before: read as brand=Marlow, the search listed Marlow bags only.
    entities = [_entity("category", "bags"), _excluded("brand", "Marlow")]
    tracker = make_tracker(slots={"category": "bags"}, text="show me bags, any brand except Marlow",
                           intent="search_product", entities=entities)
    tracker.latest_action_name = "product_search_form"
    expected = svc.search_products(category="bags", exclude_brand="Marlow", limit=5)
    assert expected.products
    messages, events = run_action(ActionSearchProducts(), tracker, domain)
    assert responses(messages) == ["utter_search_results"]
    assert "(not Marlow, any colour, any price)" in messages[0]["found"]
    assert "(Marlow)" not in messages[0]["results"]
    assert messages[0]["results"] == "\n".join(
        f"- {p.name} ({p.brand}), ${p.price:.2f}" for p in expected.products)
    slots = slot_events(events)
    assert slots["search_filters"]["exclude_brand"] == "Marlow" and slots["search_filters"]["brand"] is None
    assert "exclude_brand" not in slots and slots.get("brand") is None  # no slot of its own


def test_not_marlow_after_marlow_bags_refines_the_search(svc, domain):
    marlow = SearchFilters(category="bags", brand="Marlow").as_slot()
    tracker = conversation(
        [
            {"text": "Marlow bags", "intent": "search_product",
             "entities": [_entity("brand", "Marlow"), _entity("category", "bags")], "search": True},
            {"text": "not Marlow", "intent": "inform", "entities": [_excluded("brand", "Marlow")]},
        ],
        {"category": "bags", "brand": "Marlow", "search_filters": marlow},
    )
    messages, events = run_action(ActionSearchProducts(), tracker, domain)
    assert responses(messages) == ["utter_search_results"]
    assert "not Marlow" in messages[0]["found"] and "(Marlow)" not in messages[0]["results"]
    slots = slot_events(events)
    assert slots["brand"] is None
    assert slots["search_filters"] == {**marlow, "brand": None, "exclude_brand": "Marlow"}


def test_any_colour_but_black_after_black_jackets(svc, domain):
    black = SearchFilters(category="jackets", color="black").as_slot()
    tracker = conversation(
        [
            {"text": "black jackets", "intent": "search_product",
             "entities": [_entity("color", "black"), _entity("category", "jackets")], "search": True},
            {"text": "any colour but black", "intent": "inform", "entities": [_excluded("color", "black")]},
        ],
        {"category": "jackets", "color": "black", "search_filters": black},
    )
    messages, events = run_action(ActionSearchProducts(), tracker, domain)
    assert responses(messages) == ["utter_search_results"]
    assert "(not black, any price)" in messages[0]["found"]
    assert slot_events(events)["color"] is None
    expected = svc.search_products(category="jackets", exclude_color="black", limit=5)
    assert messages[0]["results"].count("\n") + 1 == len(expected.products)


def test_not_marlow_read_as_a_no_right_after_a_search_still_refines_it(svc, domain):
    from actions.orders import ActionHandleConfirmation

    marlow = SearchFilters(category="bags", brand="Marlow").as_slot()
    tracker = conversation(
        [
            {"text": "Marlow bags", "intent": "search_product",
             "entities": [_entity("brand", "Marlow"), _entity("category", "bags")], "search": True},
            {"text": "no, not Marlow", "intent": "deny", "entities": [_excluded("brand", "Marlow")]},
        ],
        {"category": "bags", "brand": "Marlow", "search_filters": marlow},
    )
    messages, events = run_action(ActionHandleConfirmation(), tracker, domain)
    assert responses(messages) == ["utter_search_results"]  # not "Okay! Let me know ..."
    assert slot_events(events)["search_filters"]["exclude_brand"] == "Marlow"
