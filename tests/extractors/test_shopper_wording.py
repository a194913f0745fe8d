"""Classes of shopper wording the held-out entity benchmark showed missing (bench/entities/heldout.yml).

Each test covers a class of wording with examples that are not the benchmark's sentences, and the
look-alikes that must stay untouched.
"""

from __future__ import annotations

import pytest

from tests.extractors.conftest import extract


def _of(matcher, text: str, entity: str) -> list[tuple[str, str]]:
    return [(span, value) for kind, span, value in extract(matcher, text) if kind == entity]


def _prices(matcher, text: str) -> list[tuple[str, str, str | None]]:
    return [
        (text[e["start"] : e["end"]], e["value"], e.get("role"))
        for e in matcher.extract(text)
        if e["entity"] == "price"
    ]


# ---------------------------------------------------------------- everyday category words
@pytest.mark.parametrize(
    "text, span, value",
    [
        ("do you sell raincoats", "raincoats", "jackets"),
        ("a light rain coat", "rain coat", "jackets"),
        ("warm parka for winter", "parka", "jackets"),
        ("my old anorak tore", "anorak", "jackets"),
        ("blue jean jackets?", "jean jackets", "jackets"),
        ("a leather purse", "purse", "bags"),
        ("rucksacks for school", "rucksacks", "bags"),
        ("a small satchel", "satchel", "bags"),
    ],
)
def test_everyday_category_words(matcher, text, span, value):
    assert (span, value) in _of(matcher, text, "category")


def test_jean_jacket_is_one_jacket_not_jeans_and_a_jacket(matcher):
    assert _of(matcher, "a black jean jacket", "category") == [("jean jacket", "jackets")]


# ---------------------------------------------------------------- size words and numbers by a category
@pytest.mark.parametrize(
    "text, span, value",
    [
        ("a medium sweater", "medium", "M"),
        ("Large hoodies for my brothers", "Large", "L"),
        ("two small red tees", "small", "S"),
        ("extra large rain jacket", "extra large", "XL"),
        ("large, please", "large", "L"),
        ("medium", "medium", "M"),
    ],
)
def test_size_words_before_a_sized_category_or_as_a_reply(matcher, text, span, value):
    assert _of(matcher, text, "size") == [(span, value)]


@pytest.mark.parametrize(
    "text",
    [
        "a large backpack",  # bags are one size: "large" describes the bag
        "large sneakers",  # shoes are sold in numbers, not S/M/L
        "a small question about my hoodie",
    ],
)
def test_size_words_that_describe_something_else(matcher, text):
    assert _of(matcher, text, "size") == []


def test_size_reply_needs_a_short_message(matcher):
    assert _of(matcher, "large orders take longer to ship?", "size") == []


@pytest.mark.parametrize(
    "text, sizes",
    [
        ("loafers 39", ["39"]),
        ("slim jeans 31 or 32", ["31", "32"]),
        ("I need 34 waist", ["34"]),
        ("the harbor slim jeans 33", ["33"]),
    ],
)
def test_numbers_next_to_a_sized_category(matcher, text, sizes):
    assert [value for _, value in _of(matcher, text, "size")] == sizes


@pytest.mark.parametrize(
    "text",
    ["hoodies 42 left in stock?", "30 socks for the team", "sneakers 30-45 euros", "jeans 2 pairs"],
)
def test_numbers_by_a_category_that_is_not_sold_in_that_size(matcher, text):
    assert _of(matcher, text, "size") == []


def test_a_category_number_with_a_currency_stays_a_price(matcher):
    assert _of(matcher, "boots 42 euros", "size") == []
    assert _prices(matcher, "boots 42 euros") == [("42", "42", None)]


# ---------------------------------------------------------------- prices in words and with cents
@pytest.mark.parametrize(
    "text, expected",
    [
        ("hats under twenty", [("twenty", "20", "max")]),
        ("ninety-five dollars max", [("ninety-five", "95", "max")]),
        ("no more than a hundred and fifty euros", [("a hundred and fifty", "150", "max")]),
        ("at least Sixty quid", [("Sixty", "60", "min")]),
        ("between thirty and seventy", [("thirty", "30", "min"), ("seventy", "70", "max")]),
        ("it was 12.99", [("12.99", "12.99", None)]),
    ],
)
def test_prices_in_words_and_with_cents(matcher, text, expected):
    assert _prices(matcher, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "one size fits all",
        "can I get two of them",
        "it came in ten days",
        "my mum turns seventy next week",
        "size 42",
        "version 2.1 of the app",
    ],
)
def test_numbers_in_words_that_are_not_prices(matcher, text):
    assert _prices(matcher, text) == []


# ---------------------------------------------------------------- order numbers
def test_hash_order_number_glued_to_a_word(matcher):
    assert ("order_id", "#100017", "SA-100017") in extract(matcher, "re: order#100017")


def test_bare_digits_next_to_an_email_are_an_order_number(matcher):
    found = extract(matcher, "the number is 100017 and the address sam.lee@example.com")
    assert ("order_id", "100017", "SA-100017") in found
    assert _of(matcher, "we moved to 100017 new street last year", "order_id") == []


def test_bare_digits_after_from_or_a_misspelt_return_are_an_order_number(matcher):
    found = extract(matcher, "pls help me retrun the jaket from 100002 today")
    assert ("order_id", "100002", "SA-100002") in found
    label = extract(matcher, "need a retrun label for 100003 asap thanks")
    assert ("order_id", "100003", "SA-100003") in label
    price = "I paid 100002 dollars for a very expensive coat, can you believe it"
    assert _of(matcher, price, "order_id") == []


# ---------------------------------------------------------------- partly typed product names
@pytest.mark.parametrize(
    "text, span, name",
    [
        ("is the nova chelsea in stock", "nova chelsea", "Nova Chelsea Boots"),
        ("the Juniper Maxi please", "Juniper Maxi", "Juniper Maxi Dress"),
        ("vale crew neck tshirt", "vale crew neck tshirt", "Vale Crew Neck T-Shirt"),
        ("the wren v-neck tee", "wren v-neck tee", "Wren V-Neck T-Shirt"),
    ],
)
def test_partly_typed_product_names(matcher, text, span, name):
    assert _of(matcher, text, "product") == [(span, name)]


def test_a_name_start_shared_by_two_products_is_no_product(matcher):
    # "Cobalt Classic Court Shoes" and "Cobalt Classic Slip-On Shoes"
    assert _of(matcher, "anything cobalt classic", "product") == []


# ---------------------------------------------------------------- fixed expressions
def test_colour_words_inside_fixed_expressions_are_not_colours(matcher):
    assert _of(matcher, "any Black Friday deals?", "color") == []
    assert _of(matcher, "black friday deals on red hoodies", "color") == [("red", "red")]
    assert _of(matcher, "a black hoodie for friday", "color") == [("black", "black")]
