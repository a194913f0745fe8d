"""The pure rules of actions/search_filters.py: dropping filters in words, refinement or new search, and
saying the filters back."""
from __future__ import annotations

import pytest

from actions.common import money
from actions.search_filters import (
    SearchFilters,
    Turn,
    asks_cheaper,
    classify_turn,
    describe_filters,
    dropped_filters,
    filter_summary,
    found_phrase,
    material_in_text,
    noun_phrase,
    only_filter_values,
)

BLACK_JACKETS = SearchFilters(category="jackets", color="black", max_price="100")
NORTHWIND_JACKETS = {"category": "jackets", "brand": "Northwind"}
MERINO_JUMPER = {"category": "sweaters", "material": "merino"}


@pytest.mark.parametrize(
    ("text", "dropped"),
    [
        ("any colour is fine and price doesn't matter", {"color", "max_price"}),
        ("forget the colour", {"color"}),
        ("price doesn't matter", {"max_price"}),
        ("Price does not matter", {"max_price"}),
        ("any size", {"size"}),
        ("any brand", {"brand"}),
        ("any color", {"color"}),
        ("whatever colour", {"color"}),
        ("colours don't matter", {"color"}),
        ("colour and size don't matter", {"color", "size"}),
        ("forget about the colour and size", {"color", "size"}),
        ("drop the size filter", {"size"}),
        ("I don\u2019t care about the brand", {"brand"}),
        ("doesn't matter which brand", {"brand"}),
        ("not fussed about colour", {"color"}),
        ("regardless of colour", {"color"}),
        ("I'm not picky about the fabric", {"material"}),
        ("no price limit", {"max_price"}),
        ("without the price limit", {"max_price"}),
        ("money is no object", {"max_price"}),
        ("never mind the brand, any colour", {"brand", "color"}),
        ("any colour but under 50", {"color"}),
    ],
)
def test_dropped_filters(text: str, dropped: set[str]) -> None:
    assert dropped_filters(text) == dropped


@pytest.mark.parametrize(
    "text",
    ["in blue", "under 90", "show me northwind jackets", "cheaper ones", "any in blue?",
     "no, show me jackets", "what colours does it come in?", "which size should I take?",
     "the price is too high", "", None],
)
def test_messages_that_drop_nothing(text) -> None:
    assert dropped_filters(text) == frozenset()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("cheaper ones", True), ("anything less expensive?", True), ("more affordable please", True),
     ("show me jackets", False), (None, False)],
)
def test_asks_cheaper(text, expected) -> None:
    assert asks_cheaper(text) is expected


@pytest.mark.parametrize(
    ("text", "material"),
    [("wool socks", "wool"), ("woollen hats", "wool"), ("show me LEATHER bags", "leather"),
     ("denim jackets", "denim"), ("show me jackets", None), (None, None)],
)
def test_material_in_text(text, material) -> None:
    assert material_in_text(text) == material


def test_only_filter_values() -> None:
    price = [{"entity": "price", "value": "90", "start": 6, "end": 8}]
    assert only_filter_values("under 90", price)
    brand = [{"entity": "brand", "value": "Northwind"}, {"entity": "category", "value": "jackets"}]
    assert only_filter_values("only northwind jackets please", brand)
    assert only_filter_values("wool ones", [])  # a material word is a filter value too
    jumper = [{"entity": "category", "value": "sweaters", "start": 22, "end": 28}]
    assert not only_filter_values("can I wash the merino jumper at 40?", jumper)
    assert not only_filter_values("show me northwind jackets", brand)


@pytest.mark.parametrize(
    ("intent", "text", "named", "turn"),
    [
        # the same category asked for in a sentence: a new search, earlier filters gone
        ("search_product", "show me northwind jackets", NORTHWIND_JACKETS, Turn.NEW),
        ("search_product", "show me hoodies", {"category": "hoodies"}, Turn.NEW),
        ("inform", "hoodies", {"category": "hoodies"}, Turn.NEW),
        # only filter values, cues and dropped filters refine
        ("inform", "in blue", {"color": "blue"}, Turn.REFINE),
        ("inform", "northwind jackets", NORTHWIND_JACKETS, Turn.REFINE),
        ("inform", "cheaper ones", {}, Turn.REFINE),
        ("inform", "any colour is fine and price doesn't matter", {}, Turn.REFINE),
        ("product_info", "forget the colour", {}, Turn.REFINE),
        ("search_product", "show me blue ones", {"color": "blue"}, Turn.REFINE),
        ("search_product", "show me jackets, any colour", {"category": "jackets"}, Turn.REFINE),
        # nothing to refine
        ("inform", "hmm okay", {}, Turn.NOTHING),
        ("search_product", "let's start over", {}, Turn.NEW),
        # not understood: read only when it is plainly filter values or a dropped filter
        ("nlu_fallback", "under 90", {"max_price": "90"}, Turn.REFINE),
        ("nlu_fallback", "any colour is fine and price doesn't matter", {}, Turn.REFINE),
        ("nlu_fallback", "leather bags", {"category": "bags", "material": "leather"}, Turn.NEW),
        ("nlu_fallback", "can I wash the merino jumper at 40?", MERINO_JUMPER, Turn.NOTHING),
        ("nlu_fallback", "my sister said under 90 is a lot for a coat", {"max_price": "90"}, Turn.NOTHING),
    ],
)
def test_classify_turn_after_a_search(intent, text, named, turn) -> None:
    entities = [{"entity": k, "value": v} for k, v in named.items() if k != "material"]
    if text == "under 90":
        entities = [{"entity": "price", "value": "90", "start": 6, "end": 8}]
    assert classify_turn(intent, text, named, BLACK_JACKETS, entities) is turn


def test_without_an_earlier_search_a_request_is_new_and_a_fallback_nothing() -> None:
    assert classify_turn("search_product", "show me jackets", {"category": "jackets"}, None) is Turn.NEW
    assert classify_turn("inform", "in blue", {"color": "blue"}, None) is Turn.NEW
    assert classify_turn("nlu_fallback", "under 90", {"max_price": "90"}, None) is Turn.NOTHING


def test_updated_drops_then_sets() -> None:
    refined = BLACK_JACKETS.updated({"brand": "Northwind"}, {"color", "max_price"})
    assert refined == SearchFilters(category="jackets", brand="Northwind")
    assert BLACK_JACKETS.updated({"color": "blue"}, {"color"}).color == "blue"  # named wins over "any"


def test_slot_round_trip() -> None:
    assert SearchFilters.from_slot(BLACK_JACKETS.as_slot()) == BLACK_JACKETS
    assert SearchFilters.from_slot(None) is None
    assert SearchFilters.from_slot({"color": 3, "category": " "}) == SearchFilters()


@pytest.mark.parametrize(
    ("filters", "count", "phrase"),
    [
        (SearchFilters(category="jackets", color="black"), 1, "black jacket"),
        (SearchFilters(category="jackets", color="black"), 2, "black jackets"),
        (SearchFilters(category="dresses"), 1, "dress"),
        (SearchFilters(category="t-shirts"), 1, "t-shirt"),
        (SearchFilters(category="shoes", material="leather"), 1, "pair of leather shoes"),
        (SearchFilters(category="bags", color="brown", material="leather"), 3, "brown leather bags"),
        (SearchFilters(), 1, "product"),
        (SearchFilters(), 0, "products"),
    ],
)
def test_noun_phrase_agrees_in_number(filters, count, phrase) -> None:
    assert noun_phrase(filters, count) == phrase


def test_found_phrase_says_every_filter_in_force() -> None:
    assert found_phrase(BLACK_JACKETS, 1, 1, money) == "1 matching black jacket (under $100.00)"
    northwind = SearchFilters(category="jackets", brand="Northwind")
    assert found_phrase(northwind, 12, 5, money) == (
        "12 matching jackets (by Northwind, any colour, any price), here are the top 5"
    )
    assert filter_summary(SearchFilters(category="shoes", size="42"), money, {"brand"}) == (
        "any brand, any colour, size 42, any price"
    )
    assert filter_summary(SearchFilters(category="hats"), money, {"size", "material"}) == (
        "any colour, any material, any size, any price"
    )


def test_describe_filters() -> None:
    everything = SearchFilters(category="bags", color="black", material="leather", brand="Marlow", size="M",
                               max_price="100")
    assert describe_filters(everything, money) == "black leather bags by Marlow in size M under $100.00"
    assert describe_filters(SearchFilters(), money) == "products"


# ------------------------------------------------------------ ruled-out brand / colour (issue 15)
def test_an_exclusion_replaces_the_wanted_value_and_the_other_way_round() -> None:
    marlow_bags = SearchFilters(category="bags", brand="Marlow")
    assert marlow_bags.updated({"exclude_brand": "Marlow"}) == SearchFilters(category="bags",
                                                                            exclude_brand="Marlow")
    not_marlow = SearchFilters(category="bags", exclude_brand="Marlow")
    assert not_marlow.updated({"brand": "Northwind"}) == SearchFilters(category="bags", brand="Northwind")
    # "any brand" lets go of the exclusion; "any brand except Marlow" keeps the new one
    assert not_marlow.updated({}, {"brand"}) == SearchFilters(category="bags")
    assert marlow_bags.updated({"exclude_brand": "Marlow"}, {"brand"}).exclude_brand == "Marlow"
    assert BLACK_JACKETS.updated({"exclude_color": "black"}, {"color"}) == SearchFilters(
        category="jackets", max_price="100", exclude_color="black")
    # other filters are kept
    assert BLACK_JACKETS.updated({"exclude_brand": "Marlow"}).color == "black"


def test_exclusions_round_trip_through_the_slot() -> None:
    filters = SearchFilters(category="bags", exclude_brand="Marlow", exclude_color="black")
    assert SearchFilters.from_slot(filters.as_slot()) == filters
    assert "exclude_brand" not in BLACK_JACKETS.as_slot()  # recorded only when there is one


def test_a_ruled_out_value_refines_the_search() -> None:
    named = {"exclude_brand": "Marlow"}
    assert classify_turn("inform", "not Marlow", named, BLACK_JACKETS) is Turn.REFINE
    assert classify_turn("nlu_fallback", "anything but Marlow", named, BLACK_JACKETS) is Turn.REFINE
    assert classify_turn("search_product", "jackets, any brand except Marlow",
                         {"category": "jackets", **named}, BLACK_JACKETS) is Turn.REFINE


def test_the_answer_says_what_is_ruled_out() -> None:
    not_marlow = SearchFilters(category="bags", exclude_brand="Marlow")
    assert found_phrase(not_marlow, 7, 5, money) == (
        "7 matching bags (not Marlow, any colour, any price), here are the top 5")
    not_black = SearchFilters(category="jackets", exclude_color="black", max_price="100")
    assert filter_summary(not_black, money) == "not black, under $100.00"
    assert describe_filters(SearchFilters(category="bags", exclude_brand="Marlow", exclude_color="black"),
                            money) == "bags not by Marlow not in black"
