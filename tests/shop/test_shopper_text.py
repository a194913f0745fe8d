"""What each order-number reader of shop/shopper_text.py accepts, string by string.

The readers differ on purpose (bare digits are an order number as a form answer, not inside any message)
and, for the written-form pattern of privacy masking, by accident (see the module docstring): this table
is how they read today, so that gathering them in one module changed nothing and a later change to one of
them is a visible, deliberate edit here.
"""

from __future__ import annotations

from typing import List, Optional

import pytest

from components.extractors.patterns import extract_order_ids
from shop.privacy import mask_personal_data
from shop.shopper_text import normalize_order_id, order_number_in, replace_order_numbers

#: The text comes back unchanged.
SAME = None
# text, normalize_order_id (a whole value), order_number_in (a short answer), the entity extractor
# (token count of the text), replace_order_numbers(text, "<order>"), mask_personal_data(text, "shape")
TABLE = [
    ("SA-100042", "SA-100042", "SA-100042", ["SA-100042"], "<order>", "SA-123456"),
    ("sa100042", "SA-100042", "SA-100042", ["SA-100042"], "<order>", "sa123456"),
    ("SA 100042", "SA-100042", "SA-100042", ["SA-100042"], "<order>", "SA 123456"),
    ("sa  100042", "SA-100042", "SA-100042", ["SA-100042"], SAME, SAME),
    ("SA#100042", "SA-100042", "SA-100042", ["SA-100042"], SAME, SAME),
    ("#SA-100042", "SA-100042", "SA-100042", ["SA-100042"], SAME, SAME),
    ("#sa100042", "SA-100042", "SA-100042", ["SA-100042"], SAME, SAME),
    ("#100042", "SA-100042", "SA-100042", ["SA-100042"], "<order>", "#123456"),
    ("# 100042", "SA-100042", "SA-100042", ["SA-100042"], SAME, SAME),
    ("100042", "SA-100042", "SA-100042", ["SA-100042"], SAME, SAME),
    (" 100042 ", "SA-100042", "SA-100042", ["SA-100042"], SAME, SAME),
    ("sa_100042", "SA-100042", "SA-100042", ["SA-100042"], SAME, SAME),
    ("sa:100042", "SA-100042", "SA-100042", ["SA-100042"], SAME, SAME),
    ("SA - 100042", "SA-100042", "SA-100042", ["SA-100042"], SAME, SAME),
    ("sa- 100042", "SA-100042", "SA-100042", ["SA-100042"], SAME, SAME),
    ("-100042", "SA-100042", "SA-100042", [], SAME, SAME),
    ("SA-1000420", None, None, [], SAME, "SA-[phone]"),
    ("SA-10004", None, None, [], SAME, SAME),
    ("1000421", None, None, [], SAME, "[phone]"),
    ("order SA-100042 please", None, "SA-100042", ["SA-100042"], "order <order> please",
     "order SA-123456 please"),
    ("where is sa 100042?", None, "SA-100042", ["SA-100042"], "where is <order>?", "where is sa 123456?"),
    ("order#100042", None, "SA-100042", ["SA-100042"], SAME, SAME),
    ("&#100042;", None, "SA-100042", ["SA-100042"], "&<order>;", "&#123456;"),
    ("my order is 100042", None, "SA-100042", ["SA-100042"], SAME, SAME),
    ("it's 100042", None, "SA-100042", ["SA-100042"], SAME, SAME),
    ("100042 €", None, "SA-100042", [], SAME, SAME),
    ("$100042", None, "SA-100042", [], SAME, SAME),
    ("100042.50", None, "SA-100042", [], SAME, SAME),
    ("100042/2", None, "SA-100042", [], SAME, "[phone]"),
    ("call me on 100042 today or tomorrow please", None, "SA-100042", [], SAME, SAME),
    ("SA-100042,SA-100043", None, "SA-100042", ["SA-100042", "SA-100043"], "<order>,<order>",
     "SA-123456,SA-123456"),
    ("x-100042", None, None, [], SAME, SAME),
    ("ref:100042", None, "SA-100042", [], SAME, SAME),
    ("(SA-100042)", None, "SA-100042", ["SA-100042"], "(<order>)", "(SA-123456)"),
    ("SA100042!", None, "SA-100042", ["SA-100042"], "<order>!", "SA123456!"),
    ("isa100042", None, None, [], SAME, SAME),
    ("USA100042", None, None, [], SAME, SAME),
    ("from 100042 the hoodie", None, "SA-100042", ["SA-100042"], SAME, SAME),
    ("100042 and 100043", None, "SA-100042", ["SA-100042", "SA-100043"], SAME, SAME),
]


@pytest.mark.parametrize("text, whole, answer, extracted, replaced, shaped", TABLE)
def test_each_reader_accepts_what_it_did(
    text: str, whole: Optional[str], answer: Optional[str], extracted: List[str], replaced: Optional[str],
    shaped: Optional[str],
) -> None:
    assert normalize_order_id(text) == whole
    assert order_number_in(text) == answer
    assert [c["value"] for c in extract_order_ids(text, len(text.split()))] == extracted
    assert replace_order_numbers(text, "<order>") == (text if replaced is SAME else replaced)
    assert mask_personal_data(text, "shape") == (text if shaped is SAME else shaped)


def test_a_whole_value_may_be_an_int_but_not_a_bool() -> None:
    assert normalize_order_id(100042) == "SA-100042"
    assert normalize_order_id(True) is None and normalize_order_id(None) is None
