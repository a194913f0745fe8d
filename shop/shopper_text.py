"""Shopper text: how ShopAssist reads what shoppers type, each concept defined once, here.

Every layer that reads shopper text (the entity extractor, the actions, the shop layer, privacy masking,
the benchmarks) imports these definitions instead of writing its own. Today this module owns order numbers;
plural folding and price parsing are to follow (issue 19).

Order numbers
-------------
The canonical form is ``SA-`` + six digits (docs/contract.md). Shoppers write it many ways ("SA-100042",
"sa100042", "SA 100042", "#100042", "SA#100042", the bare digits), and four jobs read it with different
strictness. Each job has one reader here; tests/shop/test_shopper_text.py lists, string by string, what
each one accepts.

* :func:`normalize_order_id`: a whole value (a slot, a form answer, an argument of the shop API). Accepts
  any prefix and separator around exactly six digits, and the bare digits.
* :func:`order_number_in`: the first order number in a short answer (the order form): the whole answer as
  :func:`normalize_order_id` reads it, else the first six digits in it that are not glued to a word
  or a dash, with an optional ``sa``/``#`` prefix.
* :data:`PREFIXED_ORDER_RE`, :data:`HASH_ORDER_RE`, :data:`BARE_ORDER_RE`: the entity extractor's three
  shapes in free text (components/extractors/patterns.py decides when bare digits count: an order context
  or a short reply). Digits that read as money, decimals, dates or parts of longer numbers are not order
  numbers there.
* :data:`WRITTEN_ORDER_NUMBER` and :func:`replace_order_numbers`: an order number as commonly written
  (``SA-``/``SA ``/``sa`` or ``#`` before the six digits, never bare digits) where text is masked
  (shop/privacy.py) or matched by meaning (shop/knowledge.py).

These differ on purpose (a bare "100042" is an order number as a form answer, not inside any message) and
by accident: :data:`WRITTEN_ORDER_NUMBER` leaves out some forms the other readers accept ("SA#100042",
"#SA-100042", "sa_100042", "sa:100042", "SA - 100042", "# 100042"), so ``mask_personal_data(...,
"shape")`` keeps their digits. They are kept as they were when the readers were gathered here (no test
called them a bug); the table in the test shows them.
"""

from __future__ import annotations

import re
from typing import Optional

#: The canonical prefix: every normalised order number is ``SA-`` + six digits.
ORDER_PREFIX = "SA-"

#: A whole value that is one order number: any of ``#``, ``sa`` and one of ``-_#:`` before six digits.
ORDER_ID_RE = re.compile(r"^\s*#?\s*(?:sa)?\s*[-_#:]?\s*(\d{6})\s*$", re.IGNORECASE)
#: Six digits inside a short answer ("it's SA 100042"), optionally after ``sa`` (and a separator) or ``#``.
ORDER_NUMBER_IN_TEXT_RE = re.compile(r"(?<![\w-])(?:sa\s*[-_#:]?\s*|#)?(\d{6})(?!\d)", re.IGNORECASE)

#: "SA-100042", "sa 100042", "SA#100042", "#SA-100042": always an order number.
PREFIXED_ORDER_RE = re.compile(r"(?<![\w#])(?:#\s?)?sa\s?[-_#:]?\s?\d{6}(?!\d)", re.IGNORECASE)
#: "#100042": always an order number, also glued to a word ("order#100042"), not after "&" ("&#100042;").
HASH_ORDER_RE = re.compile(r"(?<![#&\d])#\s?\d{6}(?!\d)")
#: Bare six digits: an order number only where the caller knows it is one (an order context, a short reply);
#: not money ("100042 €", "$100042"), a decimal, a date or a part of a longer number.
BARE_ORDER_RE = re.compile(r"(?<![\w$€£.,/:-])\d{6}(?!\d)(?![.,/:]\d|\s?(?:€|\$|£|%))")

#: An order number as written in running text: SA-100042, SA 100042, sa100042, #100042 (a pattern, for
#: combining with other patterns; :data:`WRITTEN_ORDER_NUMBER_RE` compiled).
WRITTEN_ORDER_NUMBER = r"(?<![\w#])(?:(?i:sa)[-\s]?|\#)\d{6}(?!\d)"
WRITTEN_ORDER_NUMBER_RE = re.compile(WRITTEN_ORDER_NUMBER)


def normalize_order_id(value: object) -> Optional[str]:
    """Turn ``sa100042``, ``#100042``, ``SA 100042``, ``SA-100042`` or ``100042`` into ``SA-100042``.

    Returns None for anything that is not an order number, so callers can reply "that doesn't look like
    an order number" without touching the database.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    match = ORDER_ID_RE.match(value)
    return f"{ORDER_PREFIX}{match.group(1)}" if match else None


def order_number_in(text: str) -> Optional[str]:
    """The canonical order number in a short answer: the whole text ("sa100042") or a part ("it's SA
    100042"); None when there is none."""
    found = normalize_order_id(text)
    if found is None:
        match = ORDER_NUMBER_IN_TEXT_RE.search(text)
        found = normalize_order_id(match.group(1)) if match else None
    return found


def replace_order_numbers(text: str, replacement: str = "the order") -> str:
    """``text`` with every order number (as :data:`WRITTEN_ORDER_NUMBER` reads them) replaced: for matching
    a message by meaning, where "SA-100003" is noise that lowers the similarity to the help pages'
    questions."""
    return WRITTEN_ORDER_NUMBER_RE.sub(replacement, text)
