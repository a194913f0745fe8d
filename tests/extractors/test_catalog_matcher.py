"""The matching engine: canonical values, offsets, typos, false positives, order ids, e-mails, prices."""

from __future__ import annotations

import pytest

from components.extractors.catalog_matcher import CatalogMatcher, compile_vocabulary, lemma
from components.extractors.fuzzy import TypoIndex, bounded_distance
from shop.catalog_terms import fallback_terms
from tests.extractors.conftest import extract


@pytest.mark.parametrize(
    "text, expected",
    [
        ("show me sneakers", ("category", "sneakers", "shoes")),
        ("any trainers for running?", ("category", "trainers", "shoes")),
        ("I want a tee", ("category", "tee", "t-shirts")),
        ("two tshirts please", ("category", "tshirts", "t-shirts")),
        ("a T-Shirt for my son", ("category", "T-Shirt", "t-shirts")),
        ("a warm jumper", ("category", "jumper", "sweaters")),
        ("a wool pullover", ("category", "pullover", "sweaters")),
        ("one Hoodie", ("category", "Hoodie", "hoodies")),
        ("summer dress ideas", ("category", "dress", "dresses")),
        ("DRESSES on sale?", ("category", "DRESSES", "dresses")),
        ("a rain jacket", ("category", "rain jacket", "jackets")),
        ("in navy blue", ("color", "navy blue", "navy")),
        ("gray ones", ("color", "gray", "grey")),
        ("Light Gray", ("color", "Light Gray", "grey")),
        ("by urban thread", ("brand", "urban thread", "Urbanthread")),
        ("from NORTHWIND", ("brand", "NORTHWIND", "Northwind")),
        ("atlas supply bags", ("brand", "atlas supply", "Atlas Supply")),
        ("the Ridgeline Rain Jacket", ("product", "Ridgeline Rain Jacket", "Ridgeline Rain Jacket")),
        ("harbor slim jeans", ("product", "harbor slim jeans", "Harbor Slim Jeans")),
        ("the cloudline hoodie", ("product", "cloudline hoodie", "Cloudline Pullover Hoodie")),
        ("something in merino", ("material", "merino", "merino")),
    ],
)
def test_canonical_values_and_offsets(matcher, text, expected):
    assert expected in extract(matcher, text)


def test_plural_and_singular_share_one_pattern(matcher):
    for word in ("hoodie", "hoodies", "shoe", "shoes", "bag", "bags", "dress", "dresses", "sock", "socks"):
        assert [e[0] for e in extract(matcher, f"looking for {word}")] == ["category"], word


def test_longest_span_wins(matcher):
    found = extract(matcher, "is the Ridgeline Rain Jacket in stock in navy blue?")
    assert found == [
        ("product", "Ridgeline Rain Jacket", "Ridgeline Rain Jacket"),
        ("color", "navy blue", "navy"),
    ]


def test_full_sentence_offsets(matcher):
    text = "Hi! Do you have Kestrel hoodies in black, size XL, under $80?"
    assert extract(matcher, text) == [
        ("brand", "Kestrel", "Kestrel"),
        ("category", "hoodies", "hoodies"),
        ("color", "black", "black"),
        ("size", "XL", "XL"),
        ("price", "80", "80"),
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("northwnd jackets", ("brand", "northwnd", "Northwind")),
        ("a grey hodie", ("category", "hodie", "hoodies")),
        ("trailpek boots", ("brand", "trailpek", "Trailpeak")),
        ("kestral socks", ("brand", "kestral", "Kestrel")),
        ("copperlnie bags", ("brand", "copperlnie", "Copperline")),
        ("some sneekers", ("category", "sneekers", "shoes")),
        ("ridgelin rain jacket", ("product", "ridgelin rain jacket", "Ridgeline Rain Jacket")),
    ],
)
def test_typos_are_corrected(matcher, text, expected):
    assert expected in extract(matcher, text)


def test_typo_lowers_confidence(matcher):
    (entity,) = [e for e in matcher.extract("northwnd") if e["entity"] == "brand"]
    assert 0.5 <= entity["confidence"] < 1.0
    (exact,) = matcher.extract("northwind")
    assert exact["confidence"] == 1.0


@pytest.mark.parametrize(
    "text",
    [
        "hello",
        "where is my order",
        "what size should I take",
        "the",
        "glue",
        "I sent you the link",
        "submit the form",
        "when will it arrive",
        "is there a sale",
        "that means nothing",
        "a small packet",
        "follow up on my refund",
        "it shows as delivered",
        "can you help me",
        "thanks a lot, bye",
        "I want to talk to a human",
        "my birth date is wrong",
        "is it too large or too small?",
        "I mean it",
        "a short question",
        "my speaker broke",
        "I want to book a call",
        "that's right",
        "it costs too much",
    ],
)
def test_no_false_positives_on_common_words(matcher, text):
    assert extract(matcher, text) == []


def test_real_colour_still_found_next_to_lookalike(matcher):
    assert extract(matcher, "blue glue") == [("color", "blue", "blue")]


@pytest.mark.parametrize(
    "text, span",
    [
        ("where is SA-100042", "SA-100042"),
        ("status of sa100042 please", "sa100042"),
        ("order SA 100042", "SA 100042"),
        ("my order #100042 is late", "#100042"),
        ("order number 100042", "100042"),
        ("100042", "100042"),
        ("it's 100042", "100042"),
        ("cancel SA#100042", "SA#100042"),
        ("order id: SA-100042", "SA-100042"),
    ],
)
def test_order_ids(matcher, text, span):
    assert ("order_id", span, "SA-100042") in extract(matcher, text)


def test_bare_digits_need_an_order_context(matcher):
    text = "my phone is on the desk and the code 123456 printed on the tag looks odd to me"
    assert [e for e in extract(matcher, text) if e[0] == "order_id"] == []
    assert extract(matcher, "1234567") == []


def test_emails(matcher):
    text = "my e-mail is Alex.Morgan@Example.com, order SA-100001"
    assert extract(matcher, text) == [
        ("email", "Alex.Morgan@Example.com", "alex.morgan@example.com"),
        ("order_id", "SA-100001", "SA-100001"),
    ]
    assert extract(matcher, "write to sam.lee+shop@mail.example.co.uk.") == [
        ("email", "sam.lee+shop@mail.example.co.uk", "sam.lee+shop@mail.example.co.uk")
    ]


def _prices(matcher, text):
    return [
        (text[e["start"] : e["end"]], e["value"], e.get("role"), e.get("currency"))
        for e in matcher.extract(text)
        if e["entity"] == "price"
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("jackets under $80", [("80", "80", "max", "USD")]),
        ("less than 100", [("100", "100", "max", None)]),
        ("max 60€", [("60", "60", "max", "EUR")]),
        ("no more than 45 euros", [("45", "45", "max", "EUR")]),
        ("at least 30 dollars", [("30", "30", "min", "USD")]),
        ("over £25", [("25", "25", "min", "GBP")]),
        ("between 20 and 50 euros", [("20", "20", "min", "EUR"), ("50", "50", "max", "EUR")]),
        ("from 30 to 70 dollars", [("30", "30", "min", "USD"), ("70", "70", "max", "USD")]),
        ("$40-$60", [("40", "40", "min", "USD"), ("60", "60", "max", "USD")]),
        ("around 40 bucks", [("40", "40", None, "USD")]),
        ("it costs 19.99 euros", [("19.99", "19.99", None, "EUR")]),
        ("budget is 1,200 dollars", [("1,200", "1200", "max", "USD")]),
    ],
)
def test_prices_and_ranges(matcher, text, expected):
    assert _prices(matcher, text) == expected


@pytest.mark.parametrize(
    "text",
    ["delivered within 3 days", "I ordered 2 pairs", "size 42", "I waited over 2 weeks", "from 3 shops"],
)
def test_numbers_that_are_not_prices(matcher, text):
    assert _prices(matcher, text) == []


@pytest.mark.parametrize(
    "text, span, value",
    [
        ("size 42 please", "42", "42"),
        ("EU 38", "38", "38"),
        ("waist 32", "32", "32"),
        ("w34 jeans", "w34", "34"),
        ("I'm a M", "M", "M"),
        ("size medium", "medium", "M"),
        ("in a large please", "large", "L"),
        ("an extra large", "extra large", "XL"),
        ("xxl", "xxl", "XXL"),
        ("hats are one size", "one size", "one size"),
    ],
)
def test_sizes(matcher, text, span, value):
    assert ("size", span, value) in extract(matcher, text)


def test_size_chain_and_size_words_without_context(matcher):
    assert [e[2] for e in extract(matcher, "size 42 or 43") if e[0] == "size"] == ["42", "43"]
    assert extract(matcher, "a large bag") == [("category", "bag", "bags")]
    assert extract(matcher, "I have 42 emails") == []


def test_long_input_is_capped(matcher):
    # only the first max_chars characters are read (speed figures: bench/entities/run.py prints them)
    text = "navy hoodie " * 9000  # ~100 KB
    entities = matcher.extract(text)
    assert entities and max(e["end"] for e in entities) <= matcher.max_chars
    assert len(entities) == len(matcher.extract(text[: matcher.max_chars]))


@pytest.mark.parametrize(
    "text",
    [
        "'; DROP TABLE products; --",
        '" OR 1=1 --',
        "SELECT * FROM customers WHERE email LIKE '%@%'",
        "\x00\x01\ufeff",
        "",
        "   ",
        "😀" * 50,
    ],
)
def test_hostile_input_does_not_break_anything(matcher, text):
    for entity in matcher.extract(text):
        assert entity["entity"] in {"email", "order_id", "price", "size", "product", "category"}


def test_entity_type_filter(vocabulary):
    only_colors = CatalogMatcher(vocabulary, entity_types=["color"])
    assert [e["entity"] for e in only_colors.extract("red hoodies under $50")] == ["color"]


def test_typo_tolerance_can_be_switched_off(vocabulary):
    assert CatalogMatcher(vocabulary, typo_tolerance=False).extract("northwnd") == []


def test_fallback_vocabulary_has_no_products_but_everything_else():
    matcher = CatalogMatcher(compile_vocabulary(fallback_terms()))
    found = {(e["entity"], e["value"]) for e in matcher.extract("Kestrel sneakers in gray, size 42")}
    assert found == {("brand", "Kestrel"), ("category", "shoes"), ("color", "grey"), ("size", "42")}


def test_helpers():
    assert lemma("hoodies") == "hoodie" and lemma("dresses") == "dress" and lemma("jeans") == "jean"
    assert bounded_distance("hodie", "hoodie", 1) == 1
    assert bounded_distance("hoodei", "hoodie", 1) == 1  # transposition
    assert bounded_distance("trailpeak", "northwind", 2) == 3  # gave up: limit + 1
    index = TypoIndex(["northwind", "trailpeak", "kestrel"])
    assert index.lookup("northwnd") == ("northwind", 1)
    assert index.lookup("abc") is None


# Issue 15: "any brand except Marlow" was read as brand=Marlow.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("any brand except Marlow", [("brand", "Marlow", "excluded")]),
        ("not Marlow", [("brand", "Marlow", "excluded")]),
        ("anything but Marlow", [("brand", "Marlow", "excluded")]),
        ("jackets not by Marlow", [("category", "jackets", None), ("brand", "Marlow", "excluded")]),
        ("hoodies, nothing from Marlow", [("category", "hoodies", None), ("brand", "Marlow", "excluded")]),
        ("I'm not looking for Marlow", [("brand", "Marlow", "excluded")]),
        ("any colour but black", [("color", "black", "excluded")]),
        ("I don't want black", [("color", "black", "excluded")]),
        ("Marlow bags, not black",
         [("brand", "Marlow", None), ("category", "bags", None), ("color", "black", "excluded")]),
        ("except Marlow and Northwind",
         [("brand", "Marlow", "excluded"), ("brand", "Northwind", "excluded")]),
        ("neither black nor navy please", [("color", "black", "excluded"), ("color", "navy", "excluded")]),
        # no negation of the value itself
        ("not Marlow but Northwind", [("brand", "Marlow", "excluded"), ("brand", "Northwind", None)]),
        ("a jacket but in black", [("category", "jackets", None), ("color", "black", None)]),
        ("no, black please", [("color", "black", None)]),
        ("not sure, maybe black", [("color", "black", None)]),
        ("black jackets by Marlow", [("color", "black", None), ("category", "jackets", None),
                                     ("brand", "Marlow", None)]),
    ],
)
def test_a_ruled_out_brand_or_colour_has_the_excluded_role(matcher, text, expected):
    found = [(e["entity"], e["value"], e.get("role")) for e in matcher.extract(text)]
    assert found == expected


def test_only_brands_and_colours_are_ruled_out(matcher):
    found = {e["entity"]: e.get("role") for e in matcher.extract("not in size M, no more than $80")}
    assert found == {"size": None, "price": "max"}
