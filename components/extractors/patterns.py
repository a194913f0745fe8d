"""Rule-based extraction of the entities that are not catalog words: e-mails, order numbers and prices.

Each function returns candidate entities as plain dicts with character offsets into the text it got.
Order numbers are canonicalised with :func:`shop.normalize_order_id`, e-mails with
:func:`shop.vocabulary.normalize_email`; prices carry ``role`` ``min``/``max`` when the shopper gave a
bound, and ``currency`` (ISO code, or None when not stated).

:func:`mark_excluded` gives a brand or colour that the shopper rules out ("any brand except Marlow",
"not black", "anything but Marlow or Northwind") the role ``excluded``: Rasa then does not fill the
`brand` / `color` slot from it (a slot mapping without a role takes only entities without one), and the
search actions read it as a filter that leaves the value out.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Optional

from shop.shopper_text import BARE_ORDER_RE, HASH_ORDER_RE, PREFIXED_ORDER_RE, normalize_order_id
from shop.vocabulary import normalize_email

Candidate = dict[str, Any]

EMAIL_RE = re.compile(
    r"(?<![\w.+%-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}\b"
)
#: Bare six digits (shop.shopper_text.BARE_ORDER_RE) are an order number only in an order context or a
#: short reply.
ORDER_CONTEXT_RE = re.compile(
    r"\b(?:orders?|ordered|package|parcel|deliver(?:y|ed)?|shipment|shipping|shipped|track(?:ing)?|"
    r"returns?|retruns?|retuns?|refunds?|cancel(?:led|ed)?|purchase|number|no\.?|ref(?:erence)?|id|receipt|"
    # "the hoodie from 100002": an item from a six-digit number is an item from an order
    r"invoice|from\s+#?\d{6})\b",
    re.IGNORECASE,
)
#: A reply this short ("100042", "it's 100042") is an answer to "what is your order number?".
SHORT_REPLY_TOKENS = 4

#: Amounts in words, from ten up ("under eighty", "fifty bucks"); one to nine are left out, they are
#: far more often counts ("one size", "two of them") than money.
_UNITS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9}
_TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
          "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}
_NUMBER_WORDS = (
    rf"(?:(?:a|one|two|three|four|five)\s+)?hundred(?:\s+and\s+(?:{'|'.join(_TENS)}))?"
    rf"|(?:{'|'.join(_TENS)})(?:[\s-](?:{'|'.join(_UNITS)}))?|{'|'.join(_TEENS)}"
)
_NUMBER = rf"\d{{1,3}}(?:,\d{{3}})+(?:\.\d{{1,2}})?|\d+(?:[.,]\d{{1,2}})?|{_NUMBER_WORDS}"
#: An amount with exactly two decimals ("45.50") is money even without a currency or a bound.
CENTS_RE = re.compile(r"^\d+[.,]\d\d$")
_CURRENCY_BEFORE = r"\$|€|£|usd|eur|gbp"
_CURRENCY_AFTER = r"\$|€|£|usd|eur|euros?|dollars?|bucks|gbp|pounds?|quid"
AMOUNT_RE = re.compile(
    rf"(?:(?P<pre>{_CURRENCY_BEFORE})\s?)?(?<![\w.,])(?P<num>{_NUMBER})(?![\w]|[.,]\d)"
    rf"(?:\s?(?P<post>{_CURRENCY_AFTER})(?![a-z]))?",
    re.IGNORECASE,
)
CURRENCIES = {
    "$": "USD",
    "usd": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "bucks": "USD",
    "€": "EUR",
    "eur": "EUR",
    "euro": "EUR",
    "euros": "EUR",
    "£": "GBP",
    "gbp": "GBP",
    "pound": "GBP",
    "pounds": "GBP",
    "quid": "GBP",
}
#: Words right before an amount that make it an upper bound ("under 80", "max 60€", "budget is 120").
MAX_BEFORE_RE = re.compile(
    r"(?:under|below|beneath|less\s+than|lower\s+than|cheaper\s+than|no\s+more\s+than|not\s+more\s+than|"
    r"(?:up\s+)?to\s+a\s+max(?:imum)?\s+of|up\s?to|max(?:imum)?|at\s+most|no\s+more\s+then|within|"
    r"budget(?:\s+(?:is|of|around|about|at))?|spend(?:ing)?\s+(?:up\s+to\s+)?|<=?|under\s+the)\s*(?:of\s+)?$",
    re.IGNORECASE,
)
#: Words right before an amount that make it a lower bound ("over 50", "at least 30").
MIN_BEFORE_RE = re.compile(
    r"(?:over|above|more\s+than|higher\s+than|at\s+least|min(?:imum)?|starting\s+(?:at|from)|"
    r"upwards\s+of|>=?|from)\s*$",
    re.IGNORECASE,
)
MAX_AFTER_RE = re.compile(
    r"^\s*(?:max(?:imum)?\b|tops\b|or\s+(?:less|under|below|cheaper)\b|at\s+most\b)", re.I
)
MIN_AFTER_RE = re.compile(r"^\s*(?:or\s+(?:more|above|over)\b|min(?:imum)?\b|and\s+up\b|plus\b|\+)", re.I)
#: Words before an amount that make it a price without a bound ("around 40", "costs 30").
APPROX_BEFORE_RE = re.compile(
    r"(?:around|about|roughly|approx(?:imately)?|~|costs?|priced\s+at|paid|pay|charged)\s*$", re.I
)
#: An amount followed by one of these is a quantity, not money ("within 3 days", "over 40 %").
UNIT_AFTER_RE = re.compile(
    r"^\s*(?:days?|weeks?|months?|years?|hours?|hrs?|minutes?|mins?|seconds?|items?|pieces?|pairs?|times?|"
    r"orders?|products?|people|%|percent|cm|mm|m|kg|g|km|miles?|x|eu|uk|us|am|pm|st|nd|rd|th)\b",
    re.IGNORECASE,
)
#: Range joiners: "between 20 and 50", "from 30 to 70", "30-70 euros".
RANGE_JOIN_RE = re.compile(r"^\s*(?:-|–|to|and|till|until)\s*$", re.IGNORECASE)
RANGE_START_RE = re.compile(r"(?:between|from|range\s+of|in\s+the\s+range|priced)\s*$", re.IGNORECASE)
PRICE_CONTEXT_RE = re.compile(
    r"\b(?:price[sd]?|cost(?:s|ing)?|budget|spend|cheap(?:er|est)?|expensive|afford|pay|paid|money|"
    r"dollars?|euros?|bucks)\b|[$€£]",
    re.IGNORECASE,
)


def extract_emails(text: str) -> list[Candidate]:
    """E-mail addresses, value lower-cased."""
    found = []
    for match in EMAIL_RE.finditer(text):
        value = normalize_email(match.group(0))
        if value:
            found.append(_candidate("email", match.start(), match.end(), value))
    return found


def extract_order_ids(text: str, token_count: int) -> list[Candidate]:
    """Order numbers as ``SA-`` + six digits; bare digits only in an order context or a short reply."""
    found: list[Candidate] = []
    taken: list[tuple[int, int]] = []
    for regex in (PREFIXED_ORDER_RE, HASH_ORDER_RE):
        for match in regex.finditer(text):
            _add_order(found, taken, match.start(), match.end(), match.group(0))
    # an e-mail address next to the number: the shopper is answering "order number and e-mail?"
    if token_count <= SHORT_REPLY_TOKENS or ORDER_CONTEXT_RE.search(text) or EMAIL_RE.search(text):
        for match in BARE_ORDER_RE.finditer(text):
            _add_order(found, taken, match.start(), match.end(), match.group(0))
    return found


def _add_order(found: list[Candidate], taken: list[tuple[int, int]], start: int, end: int, raw: str) -> None:
    if any(start < t_end and t_start < end for t_start, t_end in taken):
        return
    value = normalize_order_id(raw)
    if value:
        taken.append((start, end))
        found.append(_candidate("order_id", start, end, value))


def _words_to_number(raw: str) -> Optional[int]:
    """The value of an amount in words matched by ``_NUMBER_WORDS`` ("eighty" -> 80, "a hundred" -> 100)."""
    total = 0
    for word in re.split(r"[\s-]+", raw.lower()):
        if word == "hundred":
            total = max(total, 1) * 100
        elif word in _TENS or word in _TEENS or word in _UNITS:
            total += {**_TENS, **_TEENS, **_UNITS}[word]
        elif word not in ("a", "and"):
            return None
    return total or None


def _amount(raw: str) -> Optional[str]:
    if raw[:1].isalpha():
        number = _words_to_number(raw)
        return str(number) if number else None
    text = raw.replace(",", "") if re.search(r"\d,\d{3}\b", raw) else raw.replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex lets numbers only through
        return None
    return format(amount.normalize(), "f") if amount == amount.to_integral_value() else format(amount, "f")


def _currency(match: re.Match) -> Optional[str]:
    word = (match.group("pre") or match.group("post") or "").lower()
    return CURRENCIES.get(word)


def extract_prices(text: str) -> list[Candidate]:
    """Prices and price ranges; the entity spans the number only (as the NLU data annotates it)."""
    amounts = []
    for match in AMOUNT_RE.finditer(text):
        if UNIT_AFTER_RE.match(text[match.end() :]) and not (match.group("post") or match.group("pre")):
            continue
        if match.start() > 0 and text[match.start() - 1] in "#:/" and not match.group("pre"):
            continue
        value = _amount(match.group("num"))
        if value is not None:
            amounts.append((match, value, _currency(match)))
    price_context = bool(PRICE_CONTEXT_RE.search(text))
    found: list[Candidate] = []
    used: set[int] = set()
    for k, (match, value, currency) in enumerate(amounts):
        if k in used:
            continue
        before = text[max(0, match.start() - 40) : match.start()]
        if k + 1 < len(amounts):  # a range: "between 20 and 50", "from 30 to 70 dollars", "20-50 €"
            nxt, next_value, next_currency = amounts[k + 1]
            joiner = text[match.end() : nxt.start()]
            if RANGE_JOIN_RE.match(joiner) and (
                RANGE_START_RE.search(before) or currency or next_currency or price_context
            ):
                shared = currency or next_currency
                found.append(_price(match, value, shared, "min"))
                found.append(_price(nxt, next_value, shared, "max"))
                used.add(k + 1)
                continue
        after = text[match.end() : match.end() + 20]
        role: Optional[str] = None
        if MAX_BEFORE_RE.search(before) or MAX_AFTER_RE.match(after):
            role = "max"
        elif MIN_BEFORE_RE.search(before) or MIN_AFTER_RE.match(after):
            role = "min"
            if before.rstrip().lower().endswith("from") and not (currency or price_context):
                continue  # "from 3 shops": only money when money is being talked about
        elif not currency and not (APPROX_BEFORE_RE.search(before) and price_context):
            if not CENTS_RE.match(match.group("num")):
                continue  # a bare number is not a price
        found.append(_price(match, value, currency, role))
    return found


def _price(match: re.Match, value: str, currency: Optional[str], role: Optional[str]) -> Candidate:
    candidate = _candidate("price", match.start("num"), match.end("num"), value)
    candidate["currency"] = currency
    if role:
        candidate["role"] = role
    return candidate


def _candidate(entity: str, start: int, end: int, value: str, confidence: float = 1.0) -> Candidate:
    return {"entity": entity, "start": start, "end": end, "value": value, "confidence": confidence}


# ---------------------------------------------------------------------------------------------- negation
#: Entity types a shopper can rule out, and the role such an entity gets.
EXCLUDABLE_ENTITIES = frozenset({"brand", "color"})
EXCLUDED_ROLE = "excluded"
_FILTER_NOUN = r"(?:brands?|labels?|makes?|makers?|colou?rs?|shades?)"
#: What may stand between a negation and the value it rules out ("not by Marlow", "except for the black").
_NEGATED_FILLER = (
    r"(?:(?:for|from|by|in|the|a|an|any|anything|made\s+by|ones?|stuff|products?|items?"
    r"|looking\s+for|interested\s+in|a\s+fan\s+of)\s+){0,2}"
)
#: A negation right before a brand or colour (the text up to the entity must end with it): "except",
#: "excluding", "apart from", "other than", "besides", "without", "not", "no", "neither", "anything but",
#: "any brand but", "but not", "don't want", "rather not", "avoid". A bare "but" is no negation ("a jacket,
#: but in black"); nor is a "no" or "not" separated by punctuation ("no, black please").
NEGATION_BEFORE_RE = re.compile(
    r"\b(?:except(?:\s+for)?|excluding|exclude|apart\s+from|other\s+than|besides|without|not|no|never|neither"
    rf"|nothing\s+(?:from|by|in)|anything\s+but|(?:any|every|all)(?:\s+(?:other\s+)?{_FILTER_NOUN})?\s+but"
    rf"|other\s+{_FILTER_NOUN}\s+than|but\s+not|(?:do\s*n[o']?t|dont|do\s+not)\s+(?:want|like|need)"
    rf"|rather\s+not|avoid(?:ing)?)\s+{_NEGATED_FILLER}$",
    re.IGNORECASE,
)
#: What joins two ruled-out values of one list ("except Marlow and Northwind", "neither black nor navy").
_LIST_JOIN_RE = re.compile(r"^\s*(?:,|/|&|\band\b|\bor\b|\bnor\b)?\s*(?:,\s*)?$", re.IGNORECASE)


def mark_excluded(text: str, candidates: list[Candidate]) -> list[Candidate]:
    """Give the brands and colours the shopper rules out the role ``excluded``, in place, and return
    ``candidates`` (sorted by start). A value is ruled out by a negation right before it, or by joining a
    list whose previous value of the same type was ruled out ("except Marlow or Northwind")."""
    previous: dict[str, Candidate] = {}
    for candidate in candidates:
        kind = candidate["entity"]
        if kind not in EXCLUDABLE_ENTITIES or candidate.get("role"):
            previous[kind] = candidate
            continue
        before = text[max(0, candidate["start"] - 60) : candidate["start"]]
        earlier = previous.get(kind)
        joined = (
            earlier is not None
            and earlier.get("role") == EXCLUDED_ROLE
            and _LIST_JOIN_RE.match(text[earlier["end"] : candidate["start"]])
        )
        if NEGATION_BEFORE_RE.search(before) or joined:
            candidate["role"] = EXCLUDED_ROLE
        previous[kind] = candidate
    return candidates
